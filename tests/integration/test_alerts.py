"""Alerts reach people: a failed task, a failed DAG run and a freshness breach go to a real SMTP server
(aiosmtpd) and a real HTTP receiver; a channel that is down is logged and does not raise in the callback."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from mail_kit import smtp_server, webhook  # noqa: F401 (fixtures)

from hub import settings as hub_settings
from pipeline import alerts


@pytest.fixture
def on_call(monkeypatch):
    monkeypatch.setenv("HUB_ALERT_TO", "oncall@shunde.example, lead@shunde.example")
    hub_settings.reset_settings()


def _task_context(error: Exception) -> dict:
    # What Airflow hands a task's on_failure_callback: the task instance, the run and the exception.
    ti = SimpleNamespace(
        dag_id="ingest_population",
        task_id="household_population.load",
        run_id="manual__2026-12-06T01:00:00+00:00",
        map_index=-1,
        try_number=3,
        log_url="http://127.0.0.1:8080/dags/ingest_population/runs/x/tasks/household_population.load",
    )
    return {"ti": ti, "dag_run": SimpleNamespace(run_id=ti.run_id, dag_id=ti.dag_id), "exception": error}


def test_a_failed_task_is_mailed_and_posted(smtp_server, webhook, on_call):  # noqa: F811
    alerts.task_failed(_task_context(RuntimeError("gate could not read var/lake")))
    recipients, message = smtp_server.wait_for(1)[0]
    assert sorted(recipients) == ["lead@shunde.example", "oncall@shunde.example"]
    assert "任务失败 ingest_population.household_population.load" in message["Subject"]
    body = message.get_content()
    assert "第 3 次尝试" in body and "RuntimeError: gate could not read var/lake" in body and "/tasks/" in body
    (post,) = webhook.posts
    assert post["path"] == "/hooks/hub" and post["json"]["kind"] == "task_failed"
    assert post["json"]["facts"]["task_id"] == "household_population.load"


def test_a_failed_dag_run_is_alerted(smtp_server, webhook, on_call):  # noqa: F811
    alerts.dag_failed(
        {"dag_run": SimpleNamespace(dag_id="coverage_daily", run_id="scheduled__x"), "reason": "task_failure"}
    )
    _recipients, message = smtp_server.wait_for(1)[0]
    assert "DAG 运行失败 coverage_daily" in message["Subject"]
    assert webhook.posts[0]["json"]["facts"] == {
        "dag_id": "coverage_daily",
        "run_id": "scheduled__x",
        "reason": "task_failure",
    }


def test_a_freshness_breach_names_every_stale_resource(smtp_server, webhook, on_call):  # noqa: F811
    document = {
        "as_of": "2026-12-06T01:00:00+00:00",
        "gaps": [
            {
                "resource_code": "SD-001",
                "name": "户籍人口",
                "department": "区公安分局",
                "reason": "stale",
                "since": "2026-12-04T13:00:00+00:00",
            },
            {
                "resource_code": "SD-002",
                "name": "低保对象",
                "department": "区民政局",
                "reason": "no binding",
                "since": None,
            },
            {"resource_code": "SD-003", "name": "水表读数", "department": "区水务局", "reason": "stale", "since": None},
        ],
    }
    assert alerts.freshness_breached(document) == ["webhook", "mail"]
    _recipients, message = smtp_server.wait_for(1)[0]
    body = message.get_content()
    assert "数据过期 2 项" in message["Subject"]
    assert "SD-001 户籍人口（区公安分局），自 2026-12-04 21:00" in body and "SD-003" in body and "SD-002" not in body
    assert webhook.posts[0]["json"]["facts"]["resources"] == ["SD-001", "SD-003"]


def test_nothing_stale_sends_nothing(smtp_server, webhook, on_call):  # noqa: F811
    assert alerts.freshness_breached({"as_of": "2026-12-06T01:00:00+00:00", "gaps": []}) == []
    assert smtp_server.mails == [] and webhook.posts == []


def test_a_channel_that_is_down_is_logged_and_the_other_still_delivers(smtp_server, webhook, on_call, caplog):  # noqa: F811
    webhook.status = 500
    with caplog.at_level(logging.ERROR, logger="pipeline.alerts"):
        delivered = alerts.send_alert(alerts.Alert("task_failed", "主题", "正文"))
    assert delivered == ["mail"] and len(smtp_server.wait_for(1)) == 1
    assert "not delivered to the webhook" in caplog.text and "500" in caplog.text


def test_no_channel_configured_warns_and_does_not_raise(monkeypatch, caplog):
    for name in ("HUB_ALERT_WEBHOOK", "HUB_SMTP_HOST", "HUB_ALERT_TO"):
        monkeypatch.delenv(name, raising=False)
    hub_settings.reset_settings()
    with caplog.at_level(logging.WARNING, logger="pipeline.alerts"):
        assert alerts.send_alert(alerts.Alert("dag_failed", "主题", "正文")) == []
    assert "set HUB_ALERT_WEBHOOK or HUB_SMTP_HOST" in caplog.text


def test_bad_alert_addresses_are_refused_with_the_setting_named(monkeypatch):
    from hub.errors import ConfigError

    monkeypatch.setenv("HUB_ALERT_TO", "oncall@shunde.example, not-an-address")
    hub_settings.reset_settings()
    with pytest.raises(ConfigError, match="HUB_ALERT_TO.*not-an-address"):
        hub_settings.get_settings()
    hub_settings.reset_settings()
