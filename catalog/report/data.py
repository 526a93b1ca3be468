"""What the leadership report shows: the coverage document (the one `hub coverage --json` prints),
the groupings, gaps and update timeliness as the dashboard shows them, and the freshness and quality
problems behind gaps."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import coverage
from catalog.models import Landing, QualityRun, Resource
from catalog.report import path, wording
from catalog.service import labels, views
from hub.timezone import LOCAL_TZ

FRESHNESS_REASONS = (coverage.STALE, coverage.NO_UPDATE_CYCLE)
QUALITY_REASONS = (coverage.FAILING_RULE, coverage.BELOW_THRESHOLD, coverage.NO_QUALITY_RUN)


def report_data(session: Session, as_of: datetime) -> dict:
    """The dashboard's data plus every gap and the problems behind the freshness and quality gaps."""
    data = views.dashboard(session, as_of)
    ids_by_code = views.codes_to_ids(session)
    gaps = views.gap_rows(data["coverage"], ids_by_code)
    data["gaps"] = gaps
    # Every source behind, not the dashboard's first few: the appendix and the workbook list them all.
    data["timeliness"] = views.timeliness_rows(data["coverage"], ids_by_code, views.department_ids(session))
    data["problems"] = problems(session, gaps, as_of)
    data.update(path_data(session, data, as_of))
    data["verdict"] = wording.verdict(data["coverage"])
    data["method_label"] = wording.method_label(data["coverage"]["projection"]["method"])
    return data


def path_data(session: Session, data: dict, as_of: datetime) -> dict:
    """The path to the target (which gaps, whose, by when) and each department's share of it; every
    department below the target, lowest first."""
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
                "reason_label": labels.reason_label(step.reason),
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


def problems(session: Session, gaps: list[dict], as_of: datetime) -> list[dict]:
    """One row per gap that is a freshness or a quality problem, with the evidence that shows it."""
    rows = []
    for gap in gaps:
        reason = labels.reason_code(gap["reason"])
        if reason not in FRESHNESS_REASONS + QUALITY_REASONS or gap["resource_id"] is None:
            continue
        kind = "时效" if reason in FRESHNESS_REASONS else "质量"
        detail = (
            _freshness_detail(session, gap["resource_id"], as_of)
            if kind == "时效"
            else _quality_detail(session, gap["resource_id"], as_of)
        )
        rows.append({**gap, "kind": kind, "detail": detail})
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


def _quality_detail(session: Session, resource_id: str, as_of: datetime) -> str:
    run = session.scalars(
        select(QualityRun)
        .where(QualityRun.resource_id == resource_id, QualityRun.ran_at <= as_of)
        .order_by(QualityRun.ran_at.desc(), QualityRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        return "最新落地数据尚未做质量检查"
    rate = "无" if run.pass_rate is None else f"{run.pass_rate:.1%}"
    failed = "，".join(
        f"{rule.get('name')}{'（关键）' if rule.get('critical') else ''}"
        + (f" {rule['failed_rows']} 行" if rule.get("failed_rows") is not None else "")
        for rule in run.failed_rules or []
    )
    return f"通过率 {rate}（{run.rows_valid}/{run.rows_checked} 行）" + (f"；未通过：{failed}" if failed else "")
