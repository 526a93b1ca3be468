"""What the leadership report shows: the coverage document (the one `hub coverage --json` prints),
the groupings, gaps and update timeliness as the dashboard shows them, and the freshness and quality
problems behind gaps."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import coverage
from catalog.models import Department, Landing, QualityRun, Resource
from catalog.report import path, wording
from catalog.service import labels, views
from catalog.store import display_name
from hub.timezone import LOCAL_TZ

FRESHNESS_REASONS = (coverage.STALE, coverage.NO_UPDATE_CYCLE)
QUALITY_REASONS = (coverage.FAILING_RULE, coverage.BELOW_THRESHOLD, coverage.NO_QUALITY_RUN)


def report_data(session: Session, as_of: datetime) -> dict:
    """The dashboard's data plus every gap and the problems behind the freshness and quality gaps."""
    data = views.dashboard(session, as_of)
    ids_by_code, items = views.codes_to_ids(session), views.item_labels(session)
    gaps = views.gap_rows(data["coverage"], ids_by_code, items)
    data["gaps"] = gaps
    # Every source behind, not the dashboard's first few: the appendix and the workbook list them all.
    data["timeliness"] = views.timeliness_rows(data["coverage"], ids_by_code, views.department_ids(session))
    data["problems"] = problems(session, gaps, as_of, items)
    data["failed_rules"] = [
        {**problem, **rule} for problem in data["problems"] for rule in problem.get("failed_rules", [])
    ]
    data.update(path_data(session, data, as_of, {code: items.get(ids_by_code[code], {}) for code in ids_by_code}))
    data["verdict"] = wording.verdict(data["coverage"])
    data["overdue_objections"] = overdue_objections(session, data["coverage"], items)
    return data


def path_data(session: Session, data: dict, as_of: datetime, items_by_code: dict[str, dict[str, str]]) -> dict:
    """The path to the target (which gaps, whose, by when) and each department's share of it; every
    department below the target, lowest first. `items_by_code` words a failing rule."""
    document = data["coverage"]
    priorities = dict(session.execute(select(Resource.code, Resource.priority)).all())
    steps = path.path_to_target(
        document["gaps"],
        priorities,
        document["overall"]["aggregated"],
        document["overall"]["total"],
        document["target"],
        as_of.astimezone(LOCAL_TZ).date(),
        date.fromisoformat(document["projection"]["target_date"]),
    )
    shares = path.department_shares(steps)
    for row in data["by_department"]:
        share = shares.get(row["department"], {"items": 0, "share": 0.0})
        row.update(path_items=share["items"], path_share=share["share"])
    lagging = [row for row in data["by_department"] if row["ratio"] < document["target"]]
    return {
        "path": [
            {
                **vars(step),
                "due": step.due.isoformat(),
                "reason_label": labels.reason_label(step.reason, items_by_code.get(step.resource_code)),
                "rule_code": labels.failing_rule(step.reason),
                "next_step": labels.next_step(step.reason),
            }
            for step in steps
        ],
        "path_due": max((step.due for step in steps), default=None),
        "path_departments": [
            {"department": department, **share, "last_due": max(s.due for s in steps if s.department == department)}
            for department, share in sorted(shares.items(), key=lambda item: (-item[1]["items"], item[0]))
        ],
        "lagging": sorted(lagging, key=lambda row: (row["ratio"], -row["total"], row["department"])),
    }


def problems(session: Session, gaps: list[dict], as_of: datetime, items: dict[str, dict[str, str]]) -> list[dict]:
    """One row per gap that is a freshness or a quality problem, with the evidence that shows it; a
    quality problem lists its failed rules ({label, code, critical, failed_rows}) in `failed_rules`."""
    rows = []
    for gap in gaps:
        reason = labels.reason_code(gap["reason"])
        if reason not in FRESHNESS_REASONS + QUALITY_REASONS or gap["resource_id"] is None:
            continue
        if reason in FRESHNESS_REASONS:
            rows.append({**gap, "kind": "时效", "detail": _freshness_detail(session, gap["resource_id"], as_of)})
        else:
            run = _latest_quality_run(session, gap["resource_id"], as_of)
            failed = _failed_rules(run, items.get(gap["resource_id"], {}))
            rows.append({**gap, "kind": "质量", "detail": _quality_detail(run, failed), "failed_rules": failed})
    return rows


def _freshness_detail(session: Session, resource_id: str, as_of: datetime) -> str:
    resource = session.get(Resource, resource_id)
    last = session.scalar(
        select(Landing.completed_at)
        .where(
            Landing.resource_id == resource_id,
            Landing.succeeded,
            Landing.rows > 0,
            Landing.completed_at <= as_of,
        )
        .order_by(Landing.completed_at.desc())
        .limit(1)
    )
    max_age = coverage.CoveragePolicy.default().max_age_for(resource.update_cycle, resource.freshness_grace_hours)
    cycle = resource.update_cycle or "缺失"
    allowed = f"允许 {max_age.total_seconds() / 3600:.0f} 小时" if max_age else "无法判断时效"
    if last is None:
        return f"没有成功落地（更新周期 {cycle}）"
    age_hours = (as_of - last).total_seconds() / 3600
    return f"最近成功落地 {last.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}（北京时间），距今 {age_hours:.0f} 小时（更新周期 {cycle}，{allowed}）"


def _latest_quality_run(session: Session, resource_id: str, as_of: datetime) -> QualityRun | None:
    return session.scalars(
        select(QualityRun)
        .where(QualityRun.resource_id == resource_id, QualityRun.ran_at <= as_of)
        .order_by(QualityRun.ran_at.desc(), QualityRun.id.desc())
        .limit(1)
    ).first()


def _failed_rules(run: QualityRun | None, item_labels: dict[str, str]) -> list[dict]:
    """The run's failed rules in Chinese, each with its code for the engineer's column."""
    return [
        {
            "rule_label": labels.rule_label(rule.get("name", ""), item_labels),
            "rule_code": rule.get("name", ""),
            "critical": bool(rule.get("critical")),
            "failed_rows": rule.get("failed_rows"),
        }
        for rule in (run.failed_rules if run else None) or []
    ]


def _quality_detail(run: QualityRun | None, failed: list[dict]) -> str:
    if run is None:
        return "最新落地数据尚未做质量检查"
    rate = "无" if run.pass_rate is None else f"{run.pass_rate:.1%}"
    named = "，".join(
        f"{rule['rule_label']}{'（关键）' if rule['critical'] else ''}"
        + (f" {rule['failed_rows']} 行" if rule["failed_rows"] is not None else "")
        for rule in failed
    )
    return f"通过率 {rate}（{run.rows_valid}/{run.rows_checked} 行）" + (f"；未通过：{named}" if named else "")


def overdue_objections(session: Session, document: dict, items: dict[str, dict[str, str]]) -> list[dict]:
    """The scorecard's overdue objections as leadership reads them: the resource and department by name,
    a quality objection's rule in Chinese (the stored reason names the rule and the run by their codes)."""
    resources = {row.id: row for row in session.scalars(select(Resource))}
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    rows = []
    for row in document.get("scorecard", {}).get("overdue_objections", []):
        resource = resources.get(row["resource"])
        if row.get("rule"):
            reason = "质量规则未通过：" + labels.rule_label(row["rule"], items.get(row["resource"], {}))
        else:
            reason = row["reason"]
        rows.append(
            {
                **row,
                "resource_name": resource.name if resource else row["resource"],
                "resource_code": resource.code if resource else "",
                "department_name": display_name(departments.get(row["department"], row["department"])),
                "reason_label": reason,
            }
        )
    return rows
