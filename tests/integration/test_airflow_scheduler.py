"""Runs through the scheduler the UI shows: `airflow standalone` on a fresh home, a run triggered through
the REST API, its task log read back through the REST API; a failing task alerts by mail (aiosmtpd)
through the callbacks the hub's DAGs attach."""

from __future__ import annotations

import textwrap

import pytest
from mail_kit import free_port, smtp_server  # noqa: F401 (fixture)

from hub import settings as hub_settings
from pipeline import airflow_local
from pipeline.airflow_api import AirflowApi, AirflowApiError, admin_password

pytestmark = pytest.mark.slow

DAG_FILE = textwrap.dedent(
    '''
    """Two small DAGs wired like the hub's: one logs and succeeds, one fails and alerts."""
    from datetime import datetime

    from airflow.sdk import dag, task

    from pipeline import alerts

    ARGS = {"owner": "data-platform", "retries": 0, "on_failure_callback": alerts.task_failed}


    @dag(dag_id="hub_log_probe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, default_args=ARGS)
    def log_probe():
        @task
        def say() -> int:
            import logging

            logging.getLogger("hub.probe").info("probe says 你好 from the scheduler")
            return 42

        say()


    @dag(dag_id="hub_fail_probe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, default_args=ARGS,
         on_failure_callback=alerts.dag_failed)
    def fail_probe():
        @task
        def break_down() -> None:
            raise RuntimeError("source database unreachable")

        break_down()


    log_probe()
    fail_probe()
    '''
)


@pytest.fixture
def airflow(tmp_path, monkeypatch, smtp_server):  # noqa: F811
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_AIRFLOW_PORT", str(free_port()))
    monkeypatch.setenv("HUB_ALERT_TO", "oncall@shunde.example")
    monkeypatch.delenv("HUB_ALERT_WEBHOOK", raising=False)
    hub_settings.reset_settings()
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "probe.py").write_text(DAG_FILE)
    home = tmp_path / "airflow"
    airflow_local.migrate(home)
    process = airflow_local.start_standalone(tmp_path / "standalone.log", home, dags)
    try:
        import time

        passwords = home / "simple_auth_manager_passwords.json.generated"
        deadline = time.monotonic() + 180
        while not passwords.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(1)
        api = AirflowApi(airflow_local.api_url(), "admin", admin_password(home))
        api.wait_until_up()
        yield api, smtp_server, home
        api.close()
    finally:
        airflow_local.stop(process)
        hub_settings.reset_settings()


def test_a_scheduled_run_has_its_task_log_in_the_api_and_a_failure_alerts(airflow):
    api, inbox, home = airflow
    api.wait_for_dag("hub_log_probe")
    run_id, tasks = api.run_to_completion("hub_log_probe", timeout_s=600)
    (say,) = tasks
    assert say["state"] == "success"
    log = api.task_log("hub_log_probe", run_id, say)
    assert "probe says 你好 from the scheduler" in log
    assert "Log file not found" not in log
    assert list((home / "logs").rglob("*.log"))  # the log the UI reads is on disk under the home

    api.wait_for_dag("hub_fail_probe")
    with pytest.raises(AirflowApiError, match=r"(?s)failed: break_down.*source database unreachable"):
        api.run_to_completion("hub_fail_probe", timeout_s=600)
    mails = inbox.wait_for(2, timeout=60)
    subjects = sorted(message["Subject"] for _to, message in mails)
    assert any("任务失败 hub_fail_probe.break_down" in subject for subject in subjects), subjects
    assert any("DAG 运行失败 hub_fail_probe" in subject for subject in subjects), subjects
