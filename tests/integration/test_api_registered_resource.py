"""One catalogue: a resource registered through the API is the pipeline's like any loaded one. The
next DAG parse gives it a task group, `hub flow run` lands it into staging, a PUT that rebinds it
is used by the next run, and retired (已下线) it has no task and leaves the coverage denominator."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timezone

import pytest
from kafka_kit import drop_resource_topics

from catalog.db import session_scope
from catalog.selection import SEED_DIR
from catalog.spec import load_catalogue
from catalog.store import load_catalogue_into
from hub import settings as hub_settings
from hub.settings import REPO_ROOT

pytestmark = pytest.mark.kafka
TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.fixture
def resource_id():
    resource_id = f"t_api_{uuid.uuid4().hex[:10]}"
    yield resource_id
    drop_resource_topics([resource_id])


@pytest.fixture
def source(hub_env, monkeypatch, tmp_path):
    """The population database with two tables the entry can be bound to, and the loaded seed."""
    path = tmp_path / "population.db"
    with sqlite3.connect(path) as db:
        for table, first in (("grid_people_a", 0), ("grid_people_b", 100)):
            db.execute(f"CREATE TABLE {table} (ryid TEXT, xm TEXT, updated_at TEXT)")
            db.executemany(
                f"INSERT INTO {table} VALUES (?, ?, ?)",
                [(f"R{first + n:05d}", f"居民{first + n}", f"2026-11-0{1 + n % 9}T08:00:00+08:00") for n in range(40)],
            )
    monkeypatch.setenv("HUB_SOURCE_POPULATION_DB_URL", f"sqlite:///{path}")
    monkeypatch.setenv("HUB_API_TOKEN", TOKEN)
    hub_settings.reset_settings()
    with session_scope() as session:
        load_catalogue_into(session, load_catalogue(SEED_DIR), now=NOW)


@pytest.fixture
def client(source):
    from fastapi.testclient import TestClient

    from catalog.service.app import create_app

    with TestClient(create_app(hub_settings.get_settings().catalog_url), raise_server_exceptions=False) as test_client:
        yield test_client


def entry(resource_id: str, table: str, **changes) -> dict:
    return {
        "id": resource_id,
        "code": f"101009/{uuid.uuid4().int % 10**5:05d}",
        "name": "网格居民登记信息",
        "provider": "gaj",
        "classification": "基础/人口/户籍人口",
        "abstract": "网格员采集的居民登记信息。",
        "format": "数据库",
        "domain": "population",
        "update_cycle": "每日",
        "sharing_type": "无条件共享",
        "open_type": "不开放",
        "release_date": "2026-11-01",
        "binding": {
            "kind": "sql",
            "system": "population_db",
            "config": {"table": table, "cursor_column": "updated_at"},
        },
        "items": [
            {"name": "ryid", "label": "人员编号", "type": "C", "length": 6, "nullable": False, "key": True},
            {"name": "xm", "label": "姓名", "type": "C", "length": 50, "pii": "name"},
            {"name": "updated_at", "label": "更新时间", "type": "T", "nullable": False},
        ],
    } | changes


def ingest_tasks(resource_id: str) -> set[str]:
    """The task ids of the resource's group in the daily population DAG (its cycle is 每日) after a fresh parse."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "ingest.py"))
    assert bag.import_errors == {}
    return {
        task.task_id for task in bag.dags["ingest_population_daily"].tasks if task.task_id.startswith(f"{resource_id}.")
    }


def run_flow(resource_id: str) -> set[str]:
    """`hub flow run RESOURCE`'s steps; returns the keys staging then holds."""
    from pipeline import flow
    from warehouse.store import staging_arrow

    flow.connect(resource_id)
    landed = flow.land(resource_id)
    flow.stage(resource_id, landed, flow.quality_gate(resource_id, landed))
    return set(staging_arrow(resource_id, ["ryid"]).column("ryid").to_pylist())


def test_an_api_registered_resource_gets_tasks_runs_follows_its_binding_and_retires(
    client, resource_id, kafka_bootstrap
):
    total = client.get("/api/coverage").json()["overall"]["total"]
    body = entry(resource_id, "grid_people_a")
    created = client.post("/api/resources", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    assert ingest_tasks(resource_id) == {f"{resource_id}.{step}" for step in ("connect", "load")}
    assert client.get("/api/coverage").json()["overall"]["total"] == total + 1

    assert run_flow(resource_id) == {f"R{n:05d}" for n in range(40)}

    rebound = body | {
        "binding": body["binding"] | {"config": {"table": "grid_people_b", "cursor_column": "updated_at"}}
    }
    assert client.put(f"/api/resources/{resource_id}", json=rebound, headers=AUTH).status_code == 200
    assert run_flow(resource_id) == {f"R{n:05d}" for n in (*range(40), *range(100, 140))}

    retired = client.put(f"/api/resources/{resource_id}", json=rebound | {"status": "已下线"}, headers=AUTH)
    assert retired.status_code == 200, retired.text
    assert ingest_tasks(resource_id) == set()
    assert client.get("/api/coverage").json()["overall"]["total"] == total
