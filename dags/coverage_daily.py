"""coverage_daily: apply pending catalogue events, take the day's immutable coverage snapshot and
render the leadership report — once a day at 07:00 Beijing time, after the night's ingests
(pipeline/layout.py schedules every batch cycle between 01:00 and 06:00). By hand: `hub flow snapshot`.

Not on staging Asset events: micro-batches update staging every 15 minutes and a night's ingests
dozens of times, and each would re-render the report mid-ingest.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from pipeline import alerts
from pipeline.layout import COVERAGE_CRON, LOCAL_TZ_NAME


@dag(
    dag_id="coverage_daily",
    description="每日覆盖率快照与领导报告: apply catalogue events, snapshot, report — 07:00 Beijing time",
    schedule=CronTriggerTimetable(COVERAGE_CRON, timezone=LOCAL_TZ_NAME),
    start_date=pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ_NAME),  # the DAG's time zone: Beijing
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": alerts.task_failed,
    },
    tags=["catalogue", "coverage"],
    doc_md=f"""### Coverage snapshot (每日覆盖率快照)
Runs at 07:00 Asia/Shanghai (cron `{COVERAGE_CRON}`), after the night's ingest DAGs (01:00–06:00).
Applies the events waiting on `hub.events` to the catalogue, then takes today's coverage snapshot
(one per day and definition version, never rewritten; the only writer of snapshots) and logs the
headline figures against the target, then renders the leadership report (HTML, PDF, XLSX under
`var/reports/<date>/`). By hand: `hub flow snapshot`.""",
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
