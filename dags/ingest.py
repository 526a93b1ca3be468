"""Ingest DAGs, one per domain: for each bound catalogue resource, connect → land → quality gate →
staging (an Airflow Asset) — then the catalogue applies the events the run published.

Thin wiring only. At parse time this file reads the seed catalogue (a YAML file in the repository,
no connection) to lay out one task group per bound resource; every call to Kafka, DuckDB or the
catalogue database happens inside a task. The same functions run by hand: `hub flow ...`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task, task_group

from pipeline import alerts
from pipeline.layout import DOMAIN_TITLES, bound_resources, staging_asset_uri

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "on_failure_callback": alerts.task_failed,
}


def ingest_dag(domain: str):
    """The ingest DAG of one domain (population, legal_entity, utility, gis, video, iot)."""

    @dag(
        dag_id=f"ingest_{domain}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["ingest", domain],
        doc_md=f"""### Ingest {DOMAIN_TITLES[domain]} ({domain})
For every catalogue resource of this domain with a source binding: **connect** (source → Kafka
`hub.raw.<resource>`), **land** (Kafka → Parquet in the lake, undecodable records → `hub.dlq.<resource>`),
**quality** (the gate: failing rows quarantined, `quality.completed` event), **stage** (DuckDB
`staging.<resource>`, published as an Asset). Then **refresh_marts** rebuilds the `mart.*` views analysts
start from, and **sync_catalogue** applies the run's events to the
catalogue so coverage reflects this run. By hand: `hub flow run {domain}`.""",
    )
    def ingest():
        @task
        def sync_catalogue() -> dict:
            from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

            return flow.sync_catalogue()

        @task
        def refresh_marts() -> list[str]:
            from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

            return flow.refresh_marts()

        marts = refresh_marts()
        for resource_id in bound_resources(domain):
            resource_chain(resource_id) >> marts
        marts >> sync_catalogue()

    return ingest()


def resource_chain(resource_id: str):
    @task_group(group_id=resource_id)
    def chain():
        @task
        def connect() -> dict:
            from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

            return flow.connect(resource_id)

        @task
        def land(connected: dict) -> dict:
            from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

            return flow.land(resource_id)

        @task
        def quality(landed: dict) -> dict:
            from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

            return flow.quality_gate(resource_id, landed)

        @task(outlets=[Asset(staging_asset_uri(resource_id), group="staging")])
        def stage(landed: dict, checked: dict) -> dict:
            from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

            return flow.stage(resource_id, landed, checked)

        landed = land(connect())
        return stage(landed, quality(landed))

    return chain()


for _domain in DOMAIN_TITLES:
    globals()[f"ingest_{_domain}"] = ingest_dag(_domain)
