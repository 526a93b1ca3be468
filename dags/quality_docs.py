"""quality_docs: the Data Docs pages of every quality gate that ran since the last build, in one build.

Every half hour (Beijing time): each quality task of the ingest DAGs only notes its page (named in its
`quality.completed` event at once), and this DAG validates every noted run and renders all their
pages in one Great Expectations build. A night of nineteen ingest DAGs, or the 实时 micro-batches
every 15 minutes, costs at most two GX loads an hour, and none when no gate ran (a build with nothing
noted loads no GX). The pages are for the data engineers: no verdict, staging table or coverage figure
waits for them. By hand: `hub quality docs`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from pipeline import alerts
from pipeline.layout import LOCAL_TZ_NAME, QUALITY_DOCS_CRON


@dag(
    dag_id="quality_docs",
    description="Data Docs of every quality gate since the last build, in one Great Expectations build — every 30 min",
    schedule=CronTriggerTimetable(QUALITY_DOCS_CRON, timezone=LOCAL_TZ_NAME),
    start_date=pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ_NAME),
    catchup=False,
    max_active_runs=1,  # a build takes every noted run: one at a time
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": alerts.task_failed,
    },
    tags=["quality"],
    doc_md=f"""### Data Docs (质量报告页面)
Runs every half hour (cron `{QUALITY_DOCS_CRON}`, Asia/Shanghai). Each quality task of the ingest DAGs
notes a small job (the resource, its gate run, the landed files it judged) and names its page in its
`quality.completed` event at once; this DAG validates every noted job and renders all their pages in
one Data Docs build, so Great Expectations is loaded once per build, not once per gate or ingest run.
Nothing noted: nothing loaded. A build that fails leaves its jobs for the next run. By hand:
`hub quality docs`.""",
)
def quality_docs():
    @task
    def data_docs() -> dict:
        from pipeline import flow  # in the task: it loads GX, once per build

        return flow.data_docs()

    data_docs()


quality_docs()
