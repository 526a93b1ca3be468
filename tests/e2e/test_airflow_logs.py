"""After the demo, Airflow shows each task's log: Airflow is started again on the demo's home (as
`make demo` leaves it serving) and every task instance of every run the demo made is read through the
REST API — non-empty, found, and quiet (no Great Expectations noise, no progress bars)."""

from __future__ import annotations

import pytest
from e2e_kit import REPO  # noqa: F401 (tests/e2e on sys.path)

from hub import settings as hub_settings
from pipeline import airflow_local
from pipeline.airflow_api import AirflowApi, admin_password


def _dags() -> list[str]:
    """The seed's ingest DAGs (one per domain and cycle), quality_docs and coverage_daily, as the demo runs them."""
    from catalog.selection import SEED_DIR
    from catalog.spec import load_catalogue
    from pipeline.layout import ingest_dags

    return [layout.dag_id for layout in ingest_dags(load_catalogue(SEED_DIR))] + ["quality_docs", "coverage_daily"]


DAGS = _dags()
FINISHED = ("success", "failed")


@pytest.fixture
def airflow_after_demo(demo, monkeypatch):
    env, home, _ = demo
    for name in ("HUB_VAR_DIR", "HUB_AIRFLOW_PORT", "AIRFLOW_HOME", "HUB_KAFKA_PORT"):
        monkeypatch.setenv(name, env[name])
    hub_settings.reset_settings()
    airflow_home = home / "airflow"
    process = airflow_local.start_standalone(home / "demo-logs" / "airflow-after.log", airflow_home)
    try:
        api = AirflowApi(airflow_local.api_url(), "admin", admin_password(airflow_home))
        api.wait_until_up()
        yield api
        api.close()
    finally:
        airflow_local.stop(process)
        hub_settings.reset_settings()


def test_every_task_of_the_demo_has_its_log_in_airflow(airflow_after_demo):
    api = airflow_after_demo
    read = 0
    for dag_id in DAGS:
        # The demo's runs (the scheduler's, made as the demo unpaused each DAG); a later scheduled run
        # the restarted scheduler may be starting now is not the demo's.
        runs = [run for run in api.runs(dag_id) if run["state"] in FINISHED]
        assert runs and all(run["state"] == "success" for run in runs), (dag_id, runs)
        for task in api.task_instances(dag_id, runs[-1]["dag_run_id"]):
            log = api.task_log(dag_id, runs[-1]["dag_run_id"], task)
            assert "Log file not found" not in log and "::group::Pre Execute" in log, (dag_id, task["task_id"])
            if task["task_id"].endswith(".load"):  # land → quality → stage: the gate's GX is quiet
                assert "Skipping registering function" not in log and "%|" not in log, (dag_id, task["task_id"])
                assert len(log.splitlines()) < 120, (dag_id, task["task_id"], len(log.splitlines()))
            read += 1
    assert read > 100 + 80  # every bound resource's load, every batch resource's connect, and more
