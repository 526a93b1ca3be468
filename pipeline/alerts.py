"""Alerts to the people on call: a failed task or DAG run, and resources whose data went stale.

Each alert goes to every configured channel — a JSON POST to HUB_ALERT_WEBHOOK and a mail to
HUB_ALERT_TO through HUB_SMTP_HOST — and is logged either way. A channel that fails is logged at
ERROR and does not stop the others: an alert about a failure must never raise a second failure
inside Airflow's callback. The DAGs attach `task_failed` and `dag_failed` as their callbacks;
coverage_daily's snapshot step calls `freshness_breached` with the day's coverage document.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime

from catalog.coverage import STALE
from hub import clock, mail
from hub.errors import HubError
from hub.settings import Settings, get_settings
from hub.timezone import LOCAL_TZ

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 10
SUBJECT_PREFIX = "[顺德数据汇聚平台]"


@dataclass(frozen=True)
class Alert:
    """One message: `kind` is task_failed, dag_failed or freshness_breach; `facts` are for machines."""

    kind: str
    subject: str
    text: str
    facts: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "text": self.text,
            "facts": self.facts,
            "sent_at": clock.now().isoformat(),
        }


def send_alert(alert: Alert, settings: Settings | None = None) -> list[str]:
    """Deliver `alert` on every configured channel; returns the channels that took it."""
    settings = settings or get_settings()
    delivered = []
    if settings.alert_webhook:
        try:
            _post(str(settings.alert_webhook), alert.as_json())
            delivered.append("webhook")
        except HubError as exc:
            log.error("alert '%s' not delivered to the webhook: %s", alert.subject, exc)
    if settings.smtp_host and settings.alert_to:
        try:
            mail.send(settings.alert_to, alert.subject, alert.text, settings=settings)
            delivered.append("mail")
        except HubError as exc:
            log.error("alert '%s' not mailed: %s", alert.subject, exc)
    if not delivered:
        log.warning(
            "alert not delivered (no channel took it; set HUB_ALERT_WEBHOOK or HUB_SMTP_HOST + HUB_ALERT_TO): %s",
            alert.subject,
        )
    else:
        log.info("alert '%s' sent by %s", alert.subject, " and ".join(delivered))
    return delivered


def _post(url: str, payload: dict) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            if not 200 <= response.status < 300:
                raise HubError(f"webhook {url} answered {response.status}", kind="retriable")
    except (urllib.error.URLError, OSError) as exc:
        raise HubError(f"webhook {url} unreachable: {exc}; check HUB_ALERT_WEBHOOK", kind="retriable") from exc


# --- Airflow callbacks ----------------------------------------------------------------------------


def task_failed(context) -> None:
    """on_failure_callback of a task: which task of which run failed, on which try, why, and its log."""
    ti = context["ti"]
    run_id = getattr(context.get("dag_run"), "run_id", None) or getattr(ti, "run_id", "")
    error = context.get("exception")
    facts = {
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": run_id,
        "map_index": getattr(ti, "map_index", -1),
        "try_number": getattr(ti, "try_number", None),
        "error": f"{type(error).__name__}: {error}" if error else None,
        "log_url": getattr(ti, "log_url", None),
    }
    text = "\n".join(
        [
            f"任务失败：{ti.dag_id} / {ti.task_id}",
            f"运行：{run_id}（第 {facts['try_number']} 次尝试）",
            f"错误：{facts['error'] or '未知'}",
            f"日志：{facts['log_url'] or 'Airflow 界面中该任务的日志'}",
        ]
    )
    send_alert(Alert("task_failed", f"{SUBJECT_PREFIX} 任务失败 {ti.dag_id}.{ti.task_id}", text, facts))


def dag_failed(context) -> None:
    """on_failure_callback of a DAG: the run that failed and Airflow's reason."""
    dag_run = context["dag_run"]
    facts = {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id, "reason": context.get("reason")}
    text = f"DAG 运行失败：{dag_run.dag_id}\n运行：{dag_run.run_id}\n原因：{facts['reason'] or '有任务失败'}"
    send_alert(Alert("dag_failed", f"{SUBJECT_PREFIX} DAG 运行失败 {dag_run.dag_id}", text, facts))


# --- freshness --------------------------------------------------------------------------------------


def stale_gaps(document: dict) -> list[dict]:
    """The gaps of a coverage document whose data is older than its window (数据过期)."""
    return [gap for gap in document["gaps"] if gap["reason"] == STALE]


def local_time(iso: str | None) -> str:
    """An ISO time as Beijing time to the minute (people read local time)."""
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if iso else "—"


def freshness_breached(document: dict) -> list[str]:
    """Alert on every resource out of its freshness window in `document`; returns the channels used."""
    stale = stale_gaps(document)
    if not stale:
        return []
    lines = [f"{len(stale)} 项资源的数据超出时效窗口（统计时点 {local_time(document['as_of'])} 北京时间）："]
    lines += [
        f"- {gap['resource_code']} {gap['name']}（{gap['department']}），自 {local_time(gap['since'])}" for gap in stale
    ]
    facts = {"as_of": document["as_of"], "resources": [gap["resource_code"] for gap in stale]}
    return send_alert(Alert("freshness_breach", f"{SUBJECT_PREFIX} 数据过期 {len(stale)} 项", "\n".join(lines), facts))
