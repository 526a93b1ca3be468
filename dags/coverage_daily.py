"""coverage_daily: apply pending catalogue events and take the day's immutable coverage snapshot,
every morning and whenever a staging table is updated. By hand: `hub flow snapshot`."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, AssetAny, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from pipeline import alerts
from pipeline.layout import LOCAL_TZ_NAME, all_bound_resources, staging_asset_uri

STAGING_ASSETS = [Asset(staging_asset_uri(resource_id), group="staging") for resource_id in all_bound_resources()]


@dag(
    dag_id="coverage_daily",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 7 * * *", timezone=LOCAL_TZ_NAME),
        assets=AssetAny(*STAGING_ASSETS),
    ),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": alerts.task_failed,
    },
    tags=["catalogue", "coverage"],
    doc_md="""### Coverage snapshot
Applies the events waiting on `hub.events` to the catalogue, then takes today's coverage snapshot
(one per day and definition version, never rewritten) and logs the headline figures against the
target, then renders the leadership report (HTML, PDF, XLSX under var/reports/<date>/). Runs at 07:00 Asia/Shanghai and after any staging table changes.""",
)
def coverage_daily():
    @task
    def sync_catalogue() -> dict:
        from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

        return flow.sync_catalogue()

    @task
    def snapshot(synced: dict) -> dict:
        from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

        return flow.snapshot()

    @task
    def report(taken: dict) -> dict:
        from pipeline import flow  # in the task: it loads DuckDB, Kafka and the gate, not for the parser

        return flow.render_report()

    report(snapshot(sync_catalogue()))


coverage_daily()
