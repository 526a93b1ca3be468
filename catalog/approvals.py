"""Share requests (共享申请) to read a resource and the owner's decisions: the commands.

A department's analyst or steward requests (purpose, end date, PII or not); the steward of the
department that provides the resource approves or denies with a reason. Reading PII in clear is a
separate, explicit part of the approval. Only an approval makes a Grant row, and only Grant rows
give access (warehouse.access.rights reads them through catalog.grants.rights_inputs).

Each command checks who may take the step, then records it as a `share_request.changed` event:
applied here through catalog.events (the code a replay runs, catalog.share_requests) and kept on the
session until the entry point publishes it to hub.events before committing (`publish_recorded`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog.db import lock_writers
from catalog.events import APPLIED, apply_event_with_reason
from catalog.grants import GrantError, next_id, resolve_department
from catalog.identity import ADMIN, STEWARD, Identity
from catalog.models import Grant, GrantEvent, GrantRequest, Resource
from catalog.share_requests import APPROVED, CATALOGUE, DENIED, PENDING, REQUESTED, REVOKED
from hub import clock
from hub.events import ShareRequestChanged

__all__ = ["APPROVED", "CATALOGUE", "DENIED", "PENDING", "ApprovalError", "publish_recorded"]
UNCONDITIONAL, CONDITIONAL, NOT_SHARED = "无条件共享", "有条件共享", "不予共享"
RECORDED = "hub.share_request_events"  # session.info key: events applied, not yet published


class ApprovalError(GrantError):
    """A step the identity may not take, or that does not fit the request's state; says what to do."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status  # 403: not yours to decide; 404: no such request; 409/422: wrong state or input


def _now() -> datetime:
    return clock.now()


def _change(resource: str, who: Identity, action: str, now: datetime, **fields) -> ShareRequestChanged:
    return ShareRequestChanged.build(
        resource,
        ts=now,
        action=action,
        actor=who.user,
        actor_role=who.role,
        actor_department=who.department,
        **{key: value for key, value in fields.items() if value is not None},
    )


def _record(session: Session, *events: ShareRequestChanged) -> None:
    """Apply the events as the catalogue consumer would; a refusal raises and nothing of them stays."""
    for event in events:
        outcome, reason = apply_event_with_reason(session, event)
        if outcome != APPLIED:
            raise ApprovalError(f"{event.payload.action} not recorded: {reason or outcome}")
        session.info.setdefault(RECORDED, []).append(event)


def publish_recorded(session: Session) -> int:
    """Publish the events this session recorded to hub.events (before it commits); how many."""
    events = session.info.pop(RECORDED, [])
    if events:
        from hub.events import publish_events  # the Kafka client: only when a step was taken
        from hub.kafka_clients import ensure_topics
        from hub.topics import events_topic

        ensure_topics([events_topic()])
        publish_events(events)
    return len(events)


def _resource(session: Session, id_or_code: str) -> Resource:
    found = session.get(Resource, id_or_code) or session.scalar(select(Resource).where(Resource.code == id_or_code))
    if found is None:
        raise ApprovalError(
            f"unknown resource {id_or_code!r}: use the resource id or code from the catalogue", status=422
        )
    return found


def request_grant(
    session: Session,
    who: Identity,
    *,
    resource: str,
    purpose: str,
    valid_until: datetime,
    pii: bool = False,
    department: str | None = None,
    now: datetime | None = None,
) -> GrantRequest:
    """A pending request of the identity's department to read `resource` (an admin, or the owner's
    steward offering access, may name another department)."""
    now = now or _now()
    target = _resource(session, resource)
    wanted = department or who.department
    if wanted is None:
        raise ApprovalError("name the department the request is for (--department)", status=422)
    holder = resolve_department(session, wanted)
    if holder is None:
        raise ApprovalError(f"unknown department {wanted!r}", status=422)
    offered_by_owner = who.role == STEWARD and who.department == target.provider_id
    if holder.id != who.department and not (who.is_admin or offered_by_owner):
        raise ApprovalError(
            f"{who.user} works for {who.department}: only an admin or the owner's steward asks for another department",
            status=403,
        )
    if target.sharing_type not in (UNCONDITIONAL, CONDITIONAL, NOT_SHARED):
        raise ApprovalError(
            f"{target.id} has no sharing type the catalogue knows ({target.sharing_type!r})", status=422
        )
    if target.provider_id == holder.id:
        raise ApprovalError(f"{target.id} is {holder.id}'s own resource: it needs no grant", status=422)
    if not purpose.strip():
        raise ApprovalError("say what the data is for (--purpose)", status=422)
    _check_end(valid_until, now)
    lock_writers(session)  # the id is the next free one until this transaction ends
    request_id = next_id(session, GrantRequest)
    requested = _change(
        target.id,
        who,
        REQUESTED,
        now,
        request=request_id,
        department=holder.id,
        purpose=purpose.strip(),
        pii_requested=pii,
        valid_until=valid_until,
    )
    _record(session, requested, *_answer_at_once(target, who, request_id, pii, now))
    return session.get(GrantRequest, request_id)


def _answer_at_once(
    target: Resource, who: Identity, request_id: int, pii: bool, now: datetime
) -> list[ShareRequestChanged]:
    """The sharing type decides some requests itself (政务数据共享条例: no extra conditions on 无条件共享).

    无条件共享 is readable by every department already: the request is granted at once (PII in
    clear still needs the owner, so such a request waits like a 有条件共享 one). 不予共享 cannot
    be granted: the refusal is recorded with its reason, so the department's figures show it.
    """
    if target.sharing_type == UNCONDITIONAL and not pii:
        status, reason = APPROVED, f"{UNCONDITIONAL}：各部门可直接使用，无需审批"
    elif target.sharing_type == NOT_SHARED:
        status, reason = DENIED, f"{NOT_SHARED}：依目录不予共享，不能申请"
    else:
        return []
    return [_change(target.id, who, status, now, request=request_id, decided_by=CATALOGUE, reason=reason)]


def approve(
    session: Session,
    who: Identity,
    request_id: int,
    *,
    pii: bool | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Grant:
    """Approve a pending request as the owner's steward; a PII request needs `pii` True or False, explicitly."""
    now = now or _now()
    request = _pending(session, request_id)
    _check_owner(session, who, request)
    if request.pii_requested and pii is None:
        raise ApprovalError(f"request #{request.id} asks for PII in clear: approve with --pii or --no-pii", status=422)
    if pii and not request.pii_requested:
        raise ApprovalError(f"request #{request.id} did not ask for PII: it cannot be approved with PII", status=422)
    _check_end(request.valid_until, now, expired_request=True)
    lock_writers(session)
    grant_id = next_id(session, Grant)
    decision = bool(pii) if request.pii_requested else None
    approved = _change(
        request.resource_id,
        who,
        APPROVED,
        now,
        request=request.id,
        decided_by=who.user,
        reason=reason,
        grant=grant_id,
        pii=decision,
    )
    _record(session, approved)
    return session.get(Grant, grant_id)


def deny(session: Session, who: Identity, request_id: int, *, reason: str, now: datetime | None = None) -> GrantRequest:
    """Deny a pending request as the owner's steward, with the reason the requester will read."""
    now = now or _now()
    request = _pending(session, request_id)
    _check_owner(session, who, request)
    if not reason.strip():
        raise ApprovalError("a denial needs a reason (--reason)", status=422)
    denied = _change(
        request.resource_id, who, DENIED, now, request=request.id, decided_by=who.user, reason=reason.strip()
    )
    _record(session, denied)
    return request


def revoke(
    session: Session, who: Identity, grant_id: int, *, reason: str | None = None, now: datetime | None = None
) -> Grant:
    """Revoke a grant: the owner's steward or a platform admin."""
    now = now or _now()
    grant = session.get(Grant, grant_id)
    if grant is None:
        raise ApprovalError(f"no grant #{grant_id}: `hub grant list` shows the ids", status=404)
    owner = session.get(Resource, grant.resource_id).provider_id
    if not (who.is_admin or (who.role == STEWARD and who.department == owner)):
        raise ApprovalError(f"only a steward of {owner} or an admin revokes grant #{grant_id}", status=403)
    if grant.revoked_at is None:  # revoking twice changes nothing, and says nothing twice
        _record(
            session,
            _change(grant.resource_id, who, REVOKED, now, request=grant.request_id, grant=grant.id, reason=reason),
        )
    return grant


def visible_requests(session: Session, who: Identity, *, status: str | None = None) -> list[GrantRequest]:
    """The requests the identity may see: an admin all; others those of or about their department."""
    statement = select(GrantRequest).join(Resource, GrantRequest.resource_id == Resource.id).order_by(GrantRequest.id)
    if not who.is_admin:
        statement = statement.where(
            or_(GrantRequest.department_id == who.department, Resource.provider_id == who.department)
        )
    if status is not None:
        statement = statement.where(GrantRequest.status == status)
    return list(session.scalars(statement))


def visible_direct_grants(session: Session, who: Identity) -> list[Grant]:
    """Grants recorded without a request (before requests existed) that the identity may see."""
    statement = (
        select(Grant)
        .join(Resource, Grant.resource_id == Resource.id)
        .where(Grant.request_id.is_(None))
        .order_by(Grant.id)
    )
    if not who.is_admin:
        statement = statement.where(or_(Grant.department_id == who.department, Resource.provider_id == who.department))
    return list(session.scalars(statement))


def events_of(session: Session, request_id: int) -> list[GrantEvent]:
    return list(
        session.scalars(
            select(GrantEvent).where(GrantEvent.request_id == request_id).order_by(GrantEvent.at, GrantEvent.id)
        )
    )


def _pending(session: Session, request_id: int) -> GrantRequest:
    request = session.get(GrantRequest, request_id)
    if request is None:
        raise ApprovalError(f"no request #{request_id}: `hub grant list` shows the ids", status=404)
    if request.status != PENDING:
        raise ApprovalError(f"request #{request_id} is already {request.status}")
    return request


def _check_owner(session: Session, who: Identity, request: GrantRequest) -> None:
    owner = session.get(Resource, request.resource_id).provider_id
    if who.role != STEWARD or who.department != owner:
        what = (
            "an admin runs the platform and owns no data"
            if who.role == ADMIN
            else f"{who.user} is {who.role} of {who.department}"
        )
        raise ApprovalError(
            f"request #{request.id} is decided by a steward of {owner}, the department that "
            f"provides {request.resource_id} ({what})",
            status=403,
        )


def _check_end(valid_until: datetime, now: datetime, *, expired_request: bool = False) -> None:
    if valid_until.tzinfo is None:
        raise ApprovalError("the end date must carry a time zone", status=422)
    if valid_until <= now:
        fix = "the request expired before it was decided: request again" if expired_request else "pick a future date"
        raise ApprovalError(f"the end date {valid_until.isoformat()} has passed: {fix}", status=422)
