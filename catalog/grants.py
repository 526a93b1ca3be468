"""Grants (who may read which 有条件共享 resource, why, until when) and the query audit trail.

Access functions only: warehouse.access decides what a grant means; this module stores and reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from catalog.errors import CatalogError
from catalog.identity import acting_identity
from catalog.models import Department, Grant, GrantRequest, QueryAudit, Resource
from catalog.store import display_name
from hub import clock


class GrantError(CatalogError):
    """A grant cannot be added or revoked; the message says what to fix."""


def _now() -> datetime:
    return clock.now()


def resolve_department(session: Session, name_or_id: str) -> Department | None:
    """A department by id, full name or the display name `hub coverage --json` lists (区公安分局)."""
    wanted = name_or_id.strip()
    for department in session.scalars(select(Department)):
        if wanted in (department.id, department.name, display_name(department.name)):
            return department
    return None


def add_grant(
    session: Session,
    *,
    department: str,
    resource: str,
    purpose: str,
    approved_by: str,
    valid_until: datetime,
    include_pii: bool = False,
    now: datetime | None = None,
    request_id: int | None = None,
    grant_id: int | None = None,
) -> Grant:
    """Record an approved grant; the department and resource must exist, the resource be 有条件共享.

    The steps that lead to it (request, the owner's approval) are catalog.approvals'.
    """
    holder = resolve_department(session, department)
    if holder is None:
        raise GrantError(f"unknown department {department!r}: use an id or a name as `hub coverage --json` lists it")
    target = session.get(Resource, resource) or session.scalar(select(Resource).where(Resource.code == resource))
    if target is None:
        raise GrantError(f"unknown resource {resource!r}: use the resource id or code from the catalogue")
    if target.sharing_type != "有条件共享":
        raise GrantError(f"{target.id} is {target.sharing_type}: only 有条件共享 resources take grants")
    if not purpose.strip() or not approved_by.strip():
        raise GrantError("a grant needs a purpose and the name of who approved it")
    if valid_until.tzinfo is None:
        raise GrantError("valid_until must carry a time zone")
    now = now or _now()
    if valid_until <= now:
        raise GrantError(
            f"valid_until {valid_until.isoformat()} is not in the future: a grant ends after it "
            "is recorded; give the last day it holds (e.g. 2026-12-31)"
        )
    grant = Grant(
        # Ids are given, never drawn from a sequence: a replayed share_request.changed names its grant's id.
        id=grant_id or next_id(session, Grant),
        department_id=holder.id,
        resource_id=target.id,
        purpose=purpose,
        approved_by=approved_by,
        include_pii=include_pii,
        valid_until=valid_until,
        granted_at=now,
        request_id=request_id,
    )
    session.add(grant)
    session.flush()
    return grant


def next_id(session: Session, model: type[Grant] | type[GrantRequest]) -> int:
    """The id the next grant or request takes (writers hold catalog.db.lock_writers meanwhile)."""
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def revoke_grant(session: Session, grant_id: int, *, now: datetime | None = None) -> Grant:
    grant = session.get(Grant, grant_id)
    if grant is None:
        raise GrantError(f"no grant #{grant_id}: `hub grant list` shows the ids")
    if grant.revoked_at is None:
        grant.revoked_at = now or _now()
    return grant


def list_grants(session: Session, department_id: str | None = None) -> list[Grant]:
    statement = select(Grant).order_by(Grant.id)
    if department_id is not None:
        statement = statement.where(Grant.department_id == department_id)
    return list(session.scalars(statement))


@dataclass(frozen=True)
class CatalogueSnapshot:
    """What the rights model needs from the catalogue, detached from the session."""

    departments: dict[str, str]  # id → display name
    resources: list[Resource]  # with items loaded
    grants: list[Grant]


def rights_inputs(session: Session) -> CatalogueSnapshot:
    departments = {d.id: display_name(d.name) for d in session.scalars(select(Department))}
    resources = list(session.scalars(select(Resource).options(selectinload(Resource.items))))
    return CatalogueSnapshot(departments, resources, list_grants(session))


AUDIT_STATUSES = ("started", "ok", "refused", "killed", "crashed", "interrupted")


def start_query(
    session: Session,
    *,
    role: str,
    sql_text: str,
    user_name: str | None,
    user_role: str | None,
    channel: str = "cli",
    asked_at: datetime | None = None,
) -> QueryAudit:
    """The audit row of a query about to be checked and run: status 'started' until finish_query."""
    # PostgreSQL text cannot hold NUL: keep the attempt, with the byte spelt out.
    sql_text = sql_text.replace("\x00", "\\x00")
    who = acting_identity()  # the authenticated account, when the entry point resolved one, wins
    if who is not None:
        user_name, user_role = who.user, who.role
    # Whatever was typed as the role or user, the row must fit its columns (PostgreSQL enforces lengths).
    entry = QueryAudit(
        role=role[:64],
        asked_at=asked_at or _now(),
        sql_text=sql_text,
        allowed=False,
        reason=None,
        rows=None,
        truncated=False,
        duration_ms=None,
        channel=channel[:16],
        status="started",
        user_name=(user_name or "")[:128] or None,
        user_role=(user_role or "")[:32] or None,
        grant_ids=[],
    )
    session.add(entry)
    session.flush()
    return entry


def note_grants(session: Session, audit_id: int, grant_ids: list[int]) -> None:
    """Name the grants that open what the checked statement reads (before it runs)."""
    session.get(QueryAudit, audit_id).grant_ids = sorted(set(grant_ids))


def finish_query(
    session: Session,
    audit_id: int,
    *,
    status: str,
    reason: str | None,
    rows: int | None,
    truncated: bool,
    duration_ms: float | None,
    now: datetime | None = None,
) -> QueryAudit:
    """Complete a started row; a row that is no longer 'started' is left as it is (first end wins)."""
    if status not in AUDIT_STATUSES[1:]:
        raise ValueError(f"status {status!r} must be one of {', '.join(AUDIT_STATUSES[1:])}")
    entry = session.get(QueryAudit, audit_id)
    if entry.status == "started":
        entry.status, entry.allowed, entry.reason = status, status == "ok", reason
        entry.rows, entry.truncated, entry.duration_ms = rows, truncated, duration_ms
        entry.finished_at = now or _now()
    return entry


def shown_status(entry: QueryAudit, now: datetime, stale_after_s: float) -> str:
    """The status to show: a row still 'started' after the longest a query may run was interrupted."""
    if entry.status == "started" and (now - entry.asked_at).total_seconds() > stale_after_s:
        return "interrupted"
    return entry.status


def record_query(
    session: Session,
    *,
    role: str,
    sql_text: str,
    allowed: bool,
    reason: str | None,
    rows: int | None,
    truncated: bool,
    duration_ms: float | None,
    channel: str = "cli",
    asked_at: datetime | None = None,
    status: str | None = None,
    user_name: str | None = None,
    user_role: str | None = None,
) -> QueryAudit:
    """One complete row at once, for attempts refused before anything ran (e.g. a script that does not parse)."""
    entry = start_query(
        session,
        role=role,
        sql_text=sql_text,
        user_name=user_name,
        user_role=user_role,
        channel=channel,
        asked_at=asked_at,
    )
    return finish_query(
        session,
        entry.id,
        status=status or ("ok" if allowed else "refused"),
        reason=reason,
        rows=rows,
        truncated=truncated,
        duration_ms=duration_ms,
    )


def list_audit(session: Session, *, role: str | None = None, limit: int = 50) -> list[QueryAudit]:
    statement = select(QueryAudit).order_by(QueryAudit.id.desc()).limit(limit)
    if role is not None:
        statement = statement.where(QueryAudit.role == role)
    return list(session.scalars(statement))
