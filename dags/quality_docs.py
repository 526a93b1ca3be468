"""quality_docs: the Data Docs pages of every quality gate that ran since the last build, in one build.

Scheduled on the `quality_verdicts` Asset, which every ingest DAG's quality tasks update: the
scheduler starts a run once gates have judged something, and a night of nineteen ingest DAGs (or
the 实时 micro-batches every 15 minutes) costs a few Great Expectations loads instead of one per
ingest run. The pages are for the data engineers; no verdict, staging table or coverage figure
waits for them. By hand: `hub quality docs`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

from pipeline import alerts
from pipeline.layout import LOCAL_TZ_NAME, QUALITY_VERDICTS_NAME, QUALITY_VERDICTS_URI


@dag(
    dag_id="quality_docs",
    description="Data Docs of every quality gate that ran since the last build, in one Great Expectations build",
    schedule=Asset(name=QUALITY_VERDICTS_NAME, uri=QUALITY_VERDICTS_URI, group="quality"),
    start_date=pendulum.datetime(2026, 1, 1, tz=LOCAL_TZ_NAME),
    catchup=False,
    max_active_runs=1,  # a run builds every waiting job: verdicts arriving meanwhile make one more run
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": alerts.task_failed,
    },
    tags=["quality"],
    doc_md="""### Data Docs (质量报告页面)
Runs when quality tasks of the ingest DAGs have judged new rows (the `quality_verdicts` Asset). Each
gate notes a small job (the resource, its gate run and the landed files it judged) and names its page
in its `quality.completed` event at once; this DAG validates every waiting job and renders all their
pages in one Data Docs build, so Great Expectations is loaded once per run, not once per ingest run.
A build that fails leaves its jobs for the next run. By hand: `hub quality docs`.""",
)
def quality_docs():
    @task
    def data_docs() -> dict:
        from pipeline import flow  # in the task: it loads GX, once per run

        return flow.data_docs()

    data_docs()


quality_docs()
