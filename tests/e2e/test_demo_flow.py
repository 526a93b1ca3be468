"""The main job end to end, as `make demo ARGS=--once` runs it, on a fresh hub home with its own
Kafka broker: catalogue → sources → six ingest DAGs through Airflow → coverage → report."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import duckdb
from e2e_kit import HUB, REPO, hub_json


def _ingest_dags() -> list[str]:
    """The DAG ids the seed catalogue lays out (one per domain and update cycle with bound resources)."""
    from catalog.selection import SEED_DIR
    from catalog.spec import load_catalogue
    from pipeline.layout import ingest_dags

    return [layout.dag_id for layout in ingest_dags(load_catalogue(SEED_DIR))]


INGEST_DAGS = _ingest_dags()


def test_every_dag_ran_through_airflow_and_succeeded(demo):
    _, home, _ = demo
    with sqlite3.connect(home / "airflow" / "airflow.db") as db:
        states = dict(db.execute("SELECT dag_id, state FROM dag_run"))
    assert {dag_id: states.get(dag_id) for dag_id in [*INGEST_DAGS, "coverage_daily"]} == {
        dag_id: "success" for dag_id in [*INGEST_DAGS, "coverage_daily"]
    }


def test_each_connect_and_load_noted_its_seconds_for_the_next_nights_weights(demo):
    _, home, _ = demo
    with sqlite3.connect(home / "airflow" / "airflow.db") as db:
        ran = {
            task_id
            for (task_id,) in db.execute("SELECT task_id FROM task_instance WHERE state = 'success'")
            if task_id.endswith((".connect", ".load"))
        }
    noted = {path.name: float(path.read_text()) for path in (home / "task_seconds").iterdir()}
    assert ran and set(noted) >= ran
    assert all(seconds > 0 for seconds in noted.values())


def test_coverage_follows_from_the_evidence(demo):
    env, home, _ = demo
    document = hub_json(env, "coverage", "--json")
    from catalog.spec import load_catalogue

    catalogue = load_catalogue(REPO / "catalog" / "seed")
    unbound = {r.code for r in catalogue.resources if r.binding is None and r.status != "已下线"}
    assert document["overall"]["total"] >= 100 and len(document["by_department"]) >= 20
    assert {g["resource_code"] for g in document["gaps"] if g["reason"] == "no binding"} == unbound
    assert 0 < document["overall"]["aggregated"] <= document["overall"]["total"] - len(unbound)
    manifest = json.loads((home / "sources" / "manifest.json").read_text())
    assert len(manifest["resources"]) == len([r for r in catalogue.resources if r.binding])


def test_staging_holds_distinct_keys_of_the_source(demo):
    _, home, _ = demo
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows, keys = con.execute(
            'SELECT count(*), count(DISTINCT gmsfhm) FROM staging."resident_population"'
        ).fetchone()
        marts = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mart'"
            ).fetchall()
        }
        persons = con.execute("SELECT sum(persons) FROM mart.population_by_town_age_sex").fetchone()[0]
    assert rows > 0 and rows == keys
    assert {
        "population_by_town_age_sex",
        "market_entities_by_industry_town_status",
        "utility_use_by_town_and_month",
        "camera_online_rate_by_department_town",
        "iot_alerts_by_type_and_town",
    } <= marts
    assert persons > 0


def test_kafka_console_consumer_shows_records_and_headers(demo):
    env, _, _ = demo
    out = subprocess.run(
        [
            HUB,
            "kafka",
            "tool",
            "kafka-console-consumer",
            "--bootstrap-server",
            f"127.0.0.1:{env['HUB_KAFKA_PORT']}",
            "--topic",
            "hub.raw.resident_population",
            "--from-beginning",
            "--max-messages",
            "3",
            "--property",
            "print.key=true",
            "--property",
            "print.headers=true",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.count("hub-resource:resident_population") == 3, out.stdout + out.stderr
    assert "hub-op:upsert" in out.stdout and "gmsfhm" in out.stdout


def test_the_report_was_rendered(demo):
    _, home, output = demo
    reports = list((home / "reports").glob("*/report.pdf"))
    assert reports and reports[0].stat().st_size > 10_000
    assert "aggregated" in output
