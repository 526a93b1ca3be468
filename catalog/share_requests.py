"""Applying `share_request.changed` events: the GrantRequest, Grant and GrantEvent rows they stand for.

The commands (catalog.approvals) check who may take a step and build its event; this module turns
an event into rows, checking only that the step fits the request's state. Every id and time comes
from the event, so replaying hub.events into an empty catalogue rebuilds the same requests and grants.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from catalog.errors import CatalogError
from catalog.grants import add_grant, resolve_department, revoke_grant
from catalog.models import Grant, GrantEvent, GrantRequest, Resource
from hub.events import ShareRequestChange, ShareRequestChanged

PENDING, APPROVED, DENIED = "pending", "approved", "denied"
REQUESTED, REVOKED = "requested", "revoked"
CATALOGUE = "catalogue"  # the decider of requests the sharing type answers at once


class ShareRequestRefused(CatalogError):
    """An event that does not fit the request's state; the message says why."""


def apply_change(session: Session, resource: Resource, event: ShareRequestChanged) -> None:
    """Apply one share_request.changed event; one that does not fit the state raises ShareRequestRefused."""
    payload, at = event.payload, event.payload.at or event.ts
    if payload.action == REQUESTED:
        _requested(session, resource, payload, at)
    elif payload.action == REVOKED:
        _revoked(session, resource, payload, at)
    else:
        request = _pending(session, resource, payload.request)
        if payload.action == APPROVED:
            _approved(session, resource, request, payload, at)
        else:
            _decided(request, DENIED, payload, at)
            _step(session, payload, DENIED, at, request_id=request.id, detail=payload.reason)


def _requested(session: Session, resource: Resource, payload: ShareRequestChange, at: datetime) -> None:
    if session.get(GrantRequest, payload.request) is not None:
        raise ShareRequestRefused(f"request #{payload.request} was made before")
    holder = resolve_department(session, payload.department)
    if holder is None:
        raise ShareRequestRefused(f"unknown department {payload.department!r}")
    session.add(
        GrantRequest(
            id=payload.request,
            department_id=holder.id,
            resource_id=resource.id,
            purpose=payload.purpose,
            pii_requested=payload.pii_requested,
            valid_until=payload.valid_until,
            requested_by=payload.actor,
            requested_at=at,
            status=PENDING,
        )
    )
    session.flush()
    pii = ", PII in clear" if payload.pii_requested else ""
    detail = f"{holder.id} → {resource.id} until {payload.valid_until.isoformat()}{pii}"
    _step(session, payload, REQUESTED, at, request_id=payload.request, detail=detail)


def _approved(
    session: Session, resource: Resource, request: GrantRequest, payload: ShareRequestChange, at: datetime
) -> None:
    _decided(request, APPROVED, payload, at)
    if payload.decided_by == CATALOGUE:  # 无条件共享: every department reads it already, no grant row
        _step(session, payload, APPROVED, at, request_id=request.id, detail=payload.reason)
        return
    if payload.grant is None or session.get(Grant, payload.grant) is not None:
        raise ShareRequestRefused(f"approving request #{request.id} needs a new grant id, not {payload.grant!r}")
    if request.pii_requested and payload.pii is None:
        raise ShareRequestRefused(f"request #{request.id} asked for PII in clear: the approval must decide it")
    grant = add_grant(
        session,
        department=request.department_id,
        resource=resource.id,
        purpose=request.purpose,
        approved_by=payload.decided_by,
        valid_until=request.valid_until,
        include_pii=bool(payload.pii),
        now=at,
        request_id=request.id,
        grant_id=payload.grant,
    )
    request.grant_id = grant.id
    _step(session, payload, APPROVED, at, request_id=request.id, grant_id=grant.id, detail=payload.reason)
    if request.pii_requested:
        request.pii_decision = APPROVED if payload.pii else DENIED
        action = "pii_approved" if payload.pii else "pii_denied"
        _step(session, payload, action, at, request_id=request.id, grant_id=grant.id)


def _decided(request: GrantRequest, status: str, payload: ShareRequestChange, at: datetime) -> None:
    request.status, request.decided_by, request.decided_at = status, payload.decided_by, at
    request.decision_reason = payload.reason


def _revoked(session: Session, resource: Resource, payload: ShareRequestChange, at: datetime) -> None:
    grant = session.get(Grant, payload.grant)
    if grant is None or grant.resource_id != resource.id:
        raise ShareRequestRefused(f"no grant #{payload.grant} of {resource.id} to revoke")
    if grant.revoked_at is not None:
        raise ShareRequestRefused(f"grant #{grant.id} was revoked before")
    revoke_grant(session, grant.id, now=at)
    _step(session, payload, REVOKED, at, request_id=grant.request_id, grant_id=grant.id, detail=payload.reason)


def _pending(session: Session, resource: Resource, request_id: int) -> GrantRequest:
    request = session.get(GrantRequest, request_id)
    if request is None or request.resource_id != resource.id:
        raise ShareRequestRefused(f"no request #{request_id} for {resource.id}")
    if request.status != PENDING:
        raise ShareRequestRefused(f"request #{request_id} is already {request.status}")
    return request


def _step(
    session: Session,
    payload: ShareRequestChange,
    action: str,
    at: datetime,
    *,
    request_id: int | None,
    grant_id: int | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        GrantEvent(
            request_id=request_id,
            grant_id=grant_id,
            at=at,
            action=action,
            actor=payload.actor,
            actor_role=payload.actor_role,
            actor_department=payload.actor_department,
            detail=detail,
        )
    )
    session.flush()
