"""What each catalogue event writes: its evidence row (connector run, landing, quality run, history
note) and the resource's lifecycle status, recomputed after every event and recorded in
`status_changes` only when it changes (time-independent; freshness is the coverage engine's business):
  unbound → bound → producing → landed → passing, with landing_failed / quality_failed detours.

One handler per event model of hub.events; catalog.events validates and de-duplicates events and
calls them. Rows take their times from the event (never the wall clock), so a replay rebuilds them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from catalog import objections, share_requests
from catalog.coverage import DEFAULT_QUALITY_THRESHOLD
from catalog.errors import CatalogError
from catalog.grants import GrantError
from catalog.models import ConnectorRun, Landing, QualityRun, Resource, StatusChange
from catalog.store import upsert_department, write_resource
from hub.events import (
    EVENT_TYPES,
    ConnectorProduced,
    Event,
    LandingCompleted,
    LandingFailed,
    ObjectionChanged,
    QualityCompleted,
    ResourceRegistered,
    ResourceUpdated,
    SchemaChanged,
    ShareRequestChanged,
)

UNBOUND, BOUND, PRODUCING, LANDING_FAILED = "unbound", "bound", "producing", "landing_failed"
LANDED, QUALITY_FAILED, PASSING = "landed", "quality_failed", "passing"
STATUSES = (UNBOUND, BOUND, PRODUCING, LANDING_FAILED, LANDED, QUALITY_FAILED, PASSING)


class EventRejected(CatalogError):
    """The event cannot be applied as it stands; it is recorded with the reason, never retried."""

    kind = "skippable"


def _clipped(value: str | None, limit: int) -> str | None:
    """Text cut to its column's length; an empty string stored as none."""
    return value[:limit] if value else None


# --- handlers: one per event model ---------------------------------------------------------------


def _registered(session: Session, _resource: None, event: ResourceRegistered | ResourceUpdated) -> None:
    from pydantic import ValidationError

    from catalog.spec import Department as DepartmentSpec
    from catalog.spec import Resource as ResourceSpec

    payload = event.payload
    try:
        spec = ResourceSpec.model_validate(payload.spec)
        department = DepartmentSpec.model_validate(payload.department)
    except ValidationError as exc:
        raise EventRejected(f"payload spec/department do not match catalog.spec: {exc}") from None
    if spec.id != event.resource or spec.provider != department.id:
        raise EventRejected(
            f"spec {spec.id!r} (provider {spec.provider!r}) does not match the event's resource / department"
        )
    existing = session.get(Resource, spec.id)
    if existing is not None and existing.updated_at > event.ts:
        # An older registration replayed after a newer one (e.g. --from-beginning): the newer entry stands.
        return
    upsert_department(session, department)
    resource, created = write_resource(session, spec, payload.spec_hash, event.ts)
    _set_status(session, resource, event, created=created)


def _produced(session: Session, resource: Resource, event: ConnectorProduced) -> None:
    payload = event.payload
    session.add(
        ConnectorRun(
            event_id=event.id,
            resource_id=resource.id,
            run_id=_clipped(payload.run_id, 128),
            produced_at=payload.produced_at or event.ts,
            records=payload.records,
            dlq_records=payload.dlq_records,
            source=_clipped(payload.source, 64),
            offsets=payload.offsets,
            error=_clipped(payload.error, 4000),
        )
    )
    _set_status(session, resource, event)


def _landed(session: Session, resource: Resource, event: LandingCompleted) -> None:
    payload = event.payload
    _add_landing(
        session,
        resource,
        event,
        succeeded=True,
        files=list(payload.files),
        rows=payload.rows,
        dlq_rows=payload.dlq_rows,
        max_event_time=payload.max_event_time,
        schema_fingerprint=_clipped(payload.schema_fingerprint, 64),
        error=None,
    )


def _landing_failed(session: Session, resource: Resource, event: LandingFailed) -> None:
    _add_landing(
        session,
        resource,
        event,
        succeeded=False,
        files=[],
        rows=0,
        dlq_rows=0,
        max_event_time=None,
        schema_fingerprint=None,
        error=_clipped(event.payload.error, 4000) or "landing failed (no reason given)",
    )


def _add_landing(session: Session, resource: Resource, event: LandingCompleted | LandingFailed, **outcome) -> None:
    """A Landing row: the load, its time and offsets both landing events carry, and each one's outcome."""
    payload = event.payload
    session.add(
        Landing(
            event_id=event.id,
            resource_id=resource.id,
            load_id=_clipped(payload.load_id, 128),
            completed_at=payload.completed_at or event.ts,
            offsets=payload.offsets,
            **outcome,
        )
    )
    _set_status(session, resource, event)


def _quality(session: Session, resource: Resource, event: QualityCompleted) -> None:
    payload = event.payload
    session.add(
        QualityRun(
            event_id=event.id,
            resource_id=resource.id,
            load_id=_clipped(payload.load_id, 128),
            ran_at=payload.ran_at or event.ts,
            rows_checked=payload.rows_checked,
            rows_valid=payload.rows_valid,
            pass_rate=payload.pass_rate,
            failed_rules=[rule.model_dump(exclude_none=True) for rule in payload.failed_rules],
            failed_critical=sorted(set(payload.failed_critical)),
            quarantined_rows=payload.quarantined_rows,
            repairs=dict(payload.repairs),
            docs_path=_clipped(payload.docs, 500),
        )
    )
    _set_status(session, resource, event)
    objections.on_quality(session, resource, event)


def _schema_changed(session: Session, resource: Resource, event: SchemaChanged) -> None:
    # A schema change is history worth reading next to the status, though it changes no status.
    payload = event.payload
    parts = [payload.note or "schema changed"]
    parts += [
        f"{key}: {value}" for key in ("old", "new", "added", "removed", "changed") if (value := getattr(payload, key))
    ]
    session.add(
        StatusChange(
            resource_id=resource.id,
            changed_at=event.ts,
            old_status=resource.status,
            new_status=resource.status,
            cause=event.type,
            event_id=event.id,
            note="; ".join(parts)[:4000],
        )
    )


REGISTRATIONS = ("resource.registered", "resource.updated")


def _objection_changed(session: Session, resource: Resource, event: ObjectionChanged) -> None:
    try:
        objections.apply_change(session, resource, event)
    except objections.ObjectionError as exc:  # a step that does not fit the state: recorded as rejected
        raise EventRejected(str(exc)) from None


def _share_request_changed(session: Session, resource: Resource, event: ShareRequestChanged) -> None:
    try:
        share_requests.apply_change(session, resource, event)
    except (share_requests.ShareRequestRefused, GrantError) as exc:  # does not fit the state: rejected
        raise EventRejected(str(exc)) from None


HANDLERS: dict[str, Callable[..., None]] = {
    "resource.registered": _registered,
    "resource.updated": _registered,
    "connector.produced": _produced,
    "landing.completed": _landed,
    "landing.failed": _landing_failed,
    "quality.completed": _quality,
    "schema.changed": _schema_changed,
    "objection.changed": _objection_changed,
    "share_request.changed": _share_request_changed,
}
if set(HANDLERS) != set(EVENT_TYPES):
    raise CatalogError(f"event types without a handler: {sorted(set(EVENT_TYPES) - set(HANDLERS))}")


# --- lifecycle status --------------------------------------------------------------------------


def lifecycle_status(session: Session, resource: Resource) -> str:
    """The status the evidence supports now (latest landing / quality run by their own times)."""
    if resource.binding is None:
        return UNBOUND
    rid = resource.id
    if not session.scalar(select(exists().where(ConnectorRun.resource_id == rid, ConnectorRun.records > 0))):
        return BOUND
    last_landing = session.scalars(
        select(Landing)
        .where(Landing.resource_id == rid)
        .order_by(Landing.completed_at.desc(), Landing.id.desc())
        .limit(1)
    ).first()
    if last_landing is not None and not last_landing.succeeded:
        return LANDING_FAILED
    if not session.scalar(select(exists().where(Landing.resource_id == rid, Landing.succeeded, Landing.rows > 0))):
        return PRODUCING
    quality = session.scalars(
        select(QualityRun)
        .where(QualityRun.resource_id == rid)
        .order_by(QualityRun.ran_at.desc(), QualityRun.id.desc())
        .limit(1)
    ).first()
    if quality is None:
        return LANDED
    threshold = resource.quality_threshold if resource.quality_threshold is not None else DEFAULT_QUALITY_THRESHOLD
    if quality.failed_critical or quality.pass_rate is None or quality.pass_rate < threshold:
        return QUALITY_FAILED
    return PASSING


def _set_status(session: Session, resource: Resource, event: Event, *, created: bool = False) -> None:
    new = lifecycle_status(session, resource)
    if not created and new == resource.status:
        return
    session.add(
        StatusChange(
            resource_id=resource.id,
            changed_at=event.ts,
            old_status=None if created else resource.status,
            new_status=new,
            cause=event.type,
            event_id=event.id,
        )
    )
    resource.status, resource.status_since = new, event.ts
