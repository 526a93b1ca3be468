"""What the leadership report shows: the coverage document (the one `hub coverage --json` prints),
the groupings, gaps and update timeliness as the dashboard shows them, and the freshness and quality
problems behind gaps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import coverage
from catalog.models import Landing, QualityRun, Resource
from catalog.service import labels, views

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
    return data


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
    return f"最近成功落地 {last:%Y-%m-%d %H:%M} UTC，距今 {age_hours:.0f} 小时（更新周期 {cycle}，{allowed}）"


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
