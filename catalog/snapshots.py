"""Daily coverage snapshots (immutable, one per date and definition version) and the report.

`coverage_report` is what `hub coverage`, the API and the leadership report call: facts from the
evidence, history from earlier snapshots, the engine's document, and today's snapshot taken if
none exists yet for today's date and the current definition version.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.coverage import DEFINITION_VERSION, CoveragePolicy, SnapshotPoint, compute_coverage, snapshot_point
from catalog.models import CoverageSnapshot
from catalog.store import resource_facts


def take_snapshot(session: Session, document: dict, as_of: datetime) -> CoverageSnapshot:
    """Store the document as its date's snapshot unless one exists; returns the stored one."""
    point = snapshot_point(document)
    existing = _snapshot(session, point.date, point.definition_version)
    if existing is not None:
        return existing
    row = CoverageSnapshot(
        snapshot_date=point.date, definition_version=point.definition_version, as_of=as_of,
        aggregated=point.aggregated, total=point.total, ratio=point.ratio,
        weighted_ratio=point.weighted_ratio, document=document,
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


def history(session: Session, before: date, definition_version: str = DEFINITION_VERSION) -> list[SnapshotPoint]:
    """Snapshots of one definition version dated before `before`, oldest first."""
    rows = session.scalars(
        select(CoverageSnapshot)
        .where(CoverageSnapshot.snapshot_date < before, CoverageSnapshot.definition_version == definition_version)
        .order_by(CoverageSnapshot.snapshot_date)
    )
    return [
        SnapshotPoint(row.snapshot_date, row.aggregated, row.total, row.ratio, row.weighted_ratio, row.definition_version)
        for row in rows
    ]


def coverage_report(
    session: Session,
    as_of: datetime,
    *,
    target: float,
    target_date: date,
    policy: CoveragePolicy | None = None,
    snapshot: bool = True,
) -> dict:
    """The coverage document at `as_of` (evidence after it ignored); snapshots it once per day."""
    facts = resource_facts(session, as_of)
    points = history(session, before=as_of.date())
    document = compute_coverage(facts, as_of, policy or CoveragePolicy.default(), target, target_date, points)
    if snapshot:
        take_snapshot(session, document, as_of)
    return document


def report(as_of: datetime | None = None, *, url: str | None = None, snapshot: bool = True) -> dict:
    """`coverage_report` on the configured database with the target in force; as_of defaults to now."""
    from datetime import timezone

    from catalog.db import session_scope
    from catalog.targets import current_target

    moment = as_of or datetime.now(timezone.utc)
    with session_scope(url) as session:
        in_force = current_target(session)  # set through the API, else HUB_COVERAGE_TARGET / HUB_TARGET_DATE
        return coverage_report(
            session, moment, target=in_force.target, target_date=in_force.target_date, snapshot=snapshot
        )
