"""Daily coverage snapshots (immutable, one per date and definition version) and the report.

Reading never writes: `coverage_report` (what `hub coverage`, the API, the dashboard and the
leadership report call) computes the document from the evidence and the stored history at any
as_of and stores nothing. Only the daily job (coverage_daily's snapshot step, `hub flow snapshot`)
stores the day's snapshot, through `snapshot_today`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.conflicts import conflicts_document
from catalog.coverage import DEFINITION_VERSION, CoveragePolicy, SnapshotPoint, compute_coverage, snapshot_point
from catalog.devices import device_document
from catalog.models import CoverageSnapshot
from catalog.scorecard import scorecard
from catalog.store import resource_facts
from hub import clock


def take_snapshot(session: Session, document: dict, as_of: datetime) -> CoverageSnapshot:
    """Store the document as its date's snapshot unless one exists; returns the stored one."""
    point = snapshot_point(document)
    existing = _snapshot(session, point.date, point.definition_version)
    if existing is not None:
        return existing
    row = CoverageSnapshot(
        snapshot_date=point.date,
        definition_version=point.definition_version,
        as_of=as_of,
        aggregated=point.aggregated,
        total=point.total,
        ratio=point.ratio,
        weighted_ratio=point.weighted_ratio,
        document=document,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another process took today's snapshot between our check and our insert: theirs stands.
        return _snapshot(session, point.date, point.definition_version)
    return row


def _snapshot(session: Session, day: date, version: str) -> CoverageSnapshot | None:
    return session.scalars(
        select(CoverageSnapshot).where(
            CoverageSnapshot.snapshot_date == day, CoverageSnapshot.definition_version == version
        )
    ).first()


def stored_document(session: Session, day: date, definition_version: str | None = None) -> dict | None:
    """The document stored for `day`, as it was stored (its own definition version); the current
    version's when there are several, else the newest version's; None when there is none."""
    rows = session.scalars(select(CoverageSnapshot).where(CoverageSnapshot.snapshot_date == day)).all()
    if definition_version is not None:
        rows = [row for row in rows if row.definition_version == definition_version]
    if not rows:
        return None
    return max(rows, key=lambda row: (row.definition_version == DEFINITION_VERSION, row.definition_version)).document


def history(session: Session, before: date) -> list[SnapshotPoint]:
    """Every snapshot dated before `before`, oldest first, each under the definition version it was
    taken with; on a date with several versions the current one comes last (so it wins the day)."""
    rows = session.scalars(select(CoverageSnapshot).where(CoverageSnapshot.snapshot_date < before))
    points = [
        SnapshotPoint(
            row.snapshot_date, row.aggregated, row.total, row.ratio, row.weighted_ratio, row.definition_version
        )
        for row in rows
    ]
    points.sort(key=lambda p: (p.date, p.definition_version == DEFINITION_VERSION, p.definition_version))
    return points


def coverage_report(
    session: Session,
    as_of: datetime,
    *,
    target: float,
    target_date: date,
    policy: CoveragePolicy | None = None,
) -> dict:
    """The coverage document at `as_of` (evidence after it ignored). Read-only at any as_of."""
    facts = resource_facts(session, as_of)
    points = history(session, before=as_of.date())
    policy = policy or CoveragePolicy.default()
    document = compute_coverage(facts, as_of, policy, target, target_date, points)
    document["scorecard"] = scorecard(session, facts, as_of, policy)
    # Device level and 一数一源 conflicts: computed by the warehouse, read from the files it keeps.
    return {**document, "devices": device_document(as_of), "conflicts": conflicts_document(as_of)}


def report(as_of: datetime | None = None, *, url: str | None = None) -> dict:
    """`coverage_report` on the configured database with the target in force; as_of defaults to now."""
    from catalog.db import session_scope

    with session_scope(url) as session:
        return _report_in_force(session, as_of or clock.now())


def snapshot_today(now: datetime | None = None, *, url: str | None = None) -> dict:
    """The daily job's step: the coverage document at `now` (default the wall clock), stored as
    today's immutable snapshot unless today already has one under this definition version."""
    from catalog.db import session_scope

    moment = now or clock.now()
    with session_scope(url) as session:
        stored = take_snapshot(session, _report_in_force(session, moment), moment)
        return stored.document  # the day's first snapshot stands: what the trend will show


def _report_in_force(session: Session, as_of: datetime) -> dict:
    from catalog.targets import current_target

    in_force = current_target(session)  # set through the API, else HUB_COVERAGE_TARGET / HUB_TARGET_DATE
    return coverage_report(session, as_of, target=in_force.target, target_date=in_force.target_date)
