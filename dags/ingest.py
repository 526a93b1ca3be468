"""Ingest DAGs, one per domain and update cycle (ingest_utility_monthly, ingest_iot_realtime, …): for
each bound catalogue resource, a `connect` task (source → Kafka) and a `load` task (land → quality
gate → staging, an Airflow Asset) — then the catalogue applies the events the run published. Each
runs on its cycle's cron in Beijing time.

实时 resources get a micro-batch DAG every 15 minutes: `load` only, with no connect, because their
connectors run continuously under the streams supervisor (`hub streams up`).

Thin wiring only. At parse time this file reads the catalogue's snapshot file (no connection) to lay
out the DAGs and one task group per bound resource, so a cycle changed in the catalogue moves the
resource to its new DAG at the next parse; every call to Kafka, DuckDB or the catalogue database
happens inside a task. The same functions run by hand: `hub flow run DOMAIN|RESOURCE`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, get_parsing_context, task, task_group
from airflow.timetables.trigger import CronTriggerTimetable

from pipeline import alerts, task_costs
from pipeline.layout import LOCAL_TZ_NAME, IngestDag, StagingAsset, catalogue_snapshot, ingest_dags, staging_assets

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "on_failure_callback": alerts.task_failed,
}
# A 实时 micro-batch's tasks go first when every slot is taken (the night's crons start all batch
# DAGs at once): queued behind the nightly loads they waited 12 min at full scale, past the run's
# 14-min timeout, and the 实时 data went stale for the length of the night's run.
MICRO_BATCH_ARGS = {**DEFAULT_ARGS, "priority_weight": 100, "weight_rule": "absolute"}


def ingest_dag(layout: IngestDag, assets: dict[str, StagingAsset], weights: dict[str, tuple[int, int]]):
    """The ingest DAG of one domain and update cycle."""
    steps = "load (land → quality → stage)" if layout.micro_batch else "connect, load (land → quality → stage)"

    @dag(
        dag_id=layout.dag_id,
        description=f"{layout.title}: {len(layout.resources)} resources, {steps}, {layout.schedule_label} (Beijing)",
        schedule=CronTriggerTimetable(layout.cron, timezone=LOCAL_TZ_NAME),
        start_date=pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ_NAME),  # the DAG's time zone: Beijing
        catchup=False,
        max_active_runs=1,
        # A micro-batch that overruns its slot is simply followed by the next one.
        dagrun_timeout=timedelta(minutes=14) if layout.micro_batch else None,
        default_args=MICRO_BATCH_ARGS if layout.micro_batch else DEFAULT_ARGS,
        tags=["ingest", layout.domain, layout.cycle.slug],
        doc_md=_doc(layout, assets),
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
        for resource_id in layout.resources:
            chain = resource_chain(
                resource_id, assets[resource_id], connect=not layout.micro_batch, weights=weights.get(resource_id)
            )
            chain >> marts
        marts >> sync_catalogue()

    return ingest()


def _doc(layout: IngestDag, assets: dict[str, StagingAsset]) -> str:
    listed = "\n".join(f"- `{rid}` {assets[rid].name}, {assets[rid].department}" for rid in layout.resources)
    first = (
        "**load** lands what the long-running connector delivered to Kafka `hub.raw.<resource>` (`hub "
        "streams status` shows each stream and its lag)"
        if layout.micro_batch
        else "**connect** reads the source into Kafka `hub.raw.<resource>`; **load** lands it"
    )
    return f"""### Ingest {layout.title} ({layout.dag_id})
Runs {layout.schedule_label}, Beijing time (cron `{layout.cron}`, Asia/Shanghai), for every bound
catalogue resource of domain **{layout.domain}** whose update cycle is **{layout.cycle.name}**:
{first} (Parquet in the lake, undecodable records → `hub.dlq.<resource>`), runs the quality gate
(failing rows quarantined, `quality.completed` event) and merges what passed into DuckDB
`staging.<resource>` (published as an Asset); its log has a line per step and its result each step's
figures and seconds. Then **refresh_marts** rebuilds the `mart.*` views and **sync_catalogue**
applies the run's events to the catalogue so coverage reflects this run. Each gate notes its
Data Docs page (named in its event at once); the **quality_docs** DAG renders every noted page of
every DAG in one build, each half hour.

By hand: `hub flow run <resource>` (one) or `hub flow run {layout.domain}` (the whole domain, every cycle).

Resources:
{listed}"""


def resource_chain(resource_id: str, asset: StagingAsset, *, connect: bool, weights: tuple[int, int] | None):
    """The resource's tasks: connect (its source system → Kafka), then load (land → quality → stage,
    one task: each was a task of its own, and Airflow's fixed cost of a task, ≈ 1.5 s of CPU between
    the scheduler, the execution API and the task's process, came to more than the work at small
    scale). A source that is down fails `connect`; anything of ours fails `load`. `weights`: the
    tasks' absolute priority weights from the last night's seconds (None: Airflow's own)."""
    connect_weight, load_weight = weights or (None, None)
    outlet = Asset(name=asset.name, uri=asset.uri, group=asset.department, extra=asset.extra)

    @task_group(group_id=resource_id, tooltip=asset.name)
    def chain():
        @task
        def connect_source() -> dict:
            from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

            return flow.connect(resource_id)

        @task(outlets=[outlet])
        def load(connected: dict | None = None) -> dict:
            from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

            return flow.load(resource_id, docs="later")  # quality_docs builds the Data Docs pages

        if not connect:
            return load()
        connected = connect_source.override(task_id="connect", **_weighed(connect_weight))()
        return load.override(**_weighed(load_weight))(connected)

    return chain()


def _weighed(weight: int | None) -> dict:
    return {} if weight is None else {"priority_weight": weight, "weight_rule": "absolute"}


_CATALOGUE = catalogue_snapshot()
_ASSETS = staging_assets(_CATALOGUE)
# A task's process parses this file to find its own DAG: Airflow names that DAG in the parsing context,
# and building the other DAGs too (their ≈ 100 task groups) cost every task ≈ 0.3 s. The DAG
# processor and `airflow dags test` name none, and get them all.
_WANTED = get_parsing_context().dag_id
_LAYOUTS = ingest_dags(_CATALOGUE)
# Across every batch DAG, as the scheduler weighs their tasks against each other.
_WEIGHTS = task_costs.priority_weights(rid for layout in _LAYOUTS if not layout.micro_batch for rid in layout.resources)
for _layout in _LAYOUTS:
    if _WANTED in (None, _layout.dag_id):
        globals()[_layout.dag_id] = ingest_dag(_layout, _ASSETS, _WEIGHTS)
