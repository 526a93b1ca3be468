"""Apply catalogue events (hub.events) to the database: evidence rows, status, and event ids.

`apply_event` is idempotent: an event id seen before changes nothing, so replaying the topic
from the beginning into an empty database rebuilds the same state. Every row written from an
event takes its times from the event (never the wall clock) for the same reason.

Payloads read (times ISO-8601 with a zone; a missing time defaults to the event's `ts`):
  resource.registered / .updated  spec (catalog.spec.Resource as JSON), department, spec_hash
  connector.produced   records | produced (required), dlq | dlq_records, run_id, source | system, offsets,
                       error, produced_at
  landing.completed    load_id, rows (required), dlq_rows, files (list of paths), offsets ({partition: [first,
                       last]} or a list), max_event_time, schema_fingerprint, completed_at
  landing.failed       load_id (required), error, offsets, completed_at
  quality.completed    rows_checked, rows_valid, pass_rate (0..1; else valid / checked), load_id, ran_at,
                       failed_rules [{name, critical, failed_rows}], failed_critical [names] (else from failed_rules)
  schema.changed       note | message, old, new, added, removed, changed (all kept in the history note)
An event that breaks these rules is recorded as rejected with the reason, never raised.

Lifecycle status of a resource (time-independent; freshness is the coverage engine's business),
recomputed after every event and recorded in `status_changes` only when it changes:
  unbound → bound → producing → landed → passing, with landing_failed / quality_failed detours.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kafka.structs import OffsetAndMetadata, TopicPartition
from sqlalchemy import exists, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from catalog.coverage import DEFAULT_QUALITY_THRESHOLD
from catalog.db import lock_writers
from catalog.errors import CatalogError
from catalog.models import AppliedEvent, ConnectorRun, Landing, QualityRun, Resource, StatusChange
from catalog.store import upsert_department, write_resource
from hub.events import decode_event
from hub.topics import catalog_group, events_topic

log = logging.getLogger(__name__)

UNBOUND, BOUND, PRODUCING, LANDING_FAILED = "unbound", "bound", "producing", "landing_failed"
LANDED, QUALITY_FAILED, PASSING = "landed", "quality_failed", "passing"
STATUSES = (UNBOUND, BOUND, PRODUCING, LANDING_FAILED, LANDED, QUALITY_FAILED, PASSING)

APPLIED, DUPLICATE, REJECTED = "applied", "duplicate", "rejected"
# An event about a resource the catalogue does not know yet: kept, and applied if it comes again
# (a replay) after the resource is registered.
UNKNOWN_RESOURCE = "unknown_resource"


class EventRejected(CatalogError):
    """The event cannot be applied as it stands; it is recorded with the reason, never retried."""

    kind = "skippable"


def apply_event(session: Session, event: dict) -> str:
    """Apply one event inside the caller's transaction; returns applied, duplicate, rejected or unknown_resource."""
    event_id = event.get("id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
        log.warning("event without a usable id rejected: %.200r", event)
        return REJECTED
    seen = session.get(AppliedEvent, event_id)
    if seen is not None and seen.outcome != UNKNOWN_RESOURCE:
        return DUPLICATE
    try:
        with session.begin_nested():
            outcome, detail = _apply_checked(session, event)
            _remember(session, seen, event, outcome, detail)
    except (EventRejected, IntegrityError, DataError) as exc:
        if isinstance(exc, IntegrityError) and _applied_elsewhere(session, event_id):
            return DUPLICATE
        outcome = REJECTED
        with session.begin_nested():
            _remember(session, session.get(AppliedEvent, event_id), event, outcome, str(exc)[:2000])
    if outcome != APPLIED:
        log.warning("event %s (%s, %s): %s", event_id, event.get("type"), event.get("resource"), outcome)
    return outcome


def apply_events(session: Session, events: list[dict]) -> list[str]:
    """Apply events in order inside the caller's transaction, one writer at a time; their outcomes."""
    lock_writers(session)
    return [apply_event(session, event) for event in events]


def _applied_elsewhere(session: Session, event_id: str) -> bool:
    # A concurrent consumer committed the same event first (its unique keys made ours fail).
    other = session.get(AppliedEvent, event_id, populate_existing=True)
    return other is not None and other.outcome != UNKNOWN_RESOURCE


def _apply_checked(session: Session, event: dict) -> tuple[str, str | None]:
    handler = HANDLERS.get(event.get("type"))
    if handler is None:
        raise EventRejected(f"unknown event type {event.get('type')!r}; expected one of {sorted(HANDLERS)}")
    payload = event.get("payload")
    if not isinstance(payload, dict):
        raise EventRejected("payload must be a JSON object")
    resource_id = event.get("resource")
    if not isinstance(resource_id, str) or not resource_id:
        raise EventRejected("event names no resource")
    ts = parse_time(event.get("ts"), "ts")
    if event["type"] in REGISTRATIONS:
        handler(session, None, event, payload, ts)
        return APPLIED, None
    resource = session.get(Resource, resource_id)
    if resource is None:
        return UNKNOWN_RESOURCE, f"resource {resource_id!r} is not registered: load the catalogue (hub catalog load --publish)"
    handler(session, resource, event, payload, ts)
    return APPLIED, None


def _remember(session: Session, seen: AppliedEvent | None, event: dict, outcome: str, detail: str | None) -> None:
    try:
        ts = parse_time(event.get("ts"), "ts")
    except EventRejected:
        ts = datetime(1970, 1, 1, tzinfo=timezone.utc)  # an unreadable ts is the reason itself
    row = seen or AppliedEvent(event_id=event["id"])
    row.type = str(event.get("type"))[:32]
    row.resource_id = str(event.get("resource"))[:64]
    row.ts, row.outcome, row.detail = ts, outcome, detail
    session.add(row)
    session.flush()


# --- payload readers ---------------------------------------------------------------------------

def parse_time(value: Any, name: str) -> datetime:
    """An ISO-8601 time with a zone, as UTC; raises EventRejected otherwise."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise EventRejected(f"{name} {value!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise EventRejected(f"{name} {value!r} has no time zone: send UTC (…Z or +00:00)")
    return moment.astimezone(timezone.utc)


def _optional_time(payload: dict, name: str, default: datetime | None) -> datetime | None:
    value = payload.get(name)
    return default if value in (None, "") else parse_time(value, name)


def _count(payload: dict, *names: str, default: int | None = 0) -> int:
    """The first of `names` present, as a non-negative integer."""
    for name in names:
        value = payload.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
                raise EventRejected(f"{name} must be a non-negative integer, not {value!r}")
            return int(value)
    if default is None:
        raise EventRejected(f"payload lacks {names[0]}")
    return default


def _text(payload: dict, name: str, *, required: bool = False, limit: int = 128) -> str | None:
    value = payload.get(name)
    if value in (None, ""):
        if required:
            raise EventRejected(f"payload lacks {name}")
        return None
    return str(value)[:limit]


# --- handlers ----------------------------------------------------------------------------------

def _registered(session: Session, _resource: None, event: dict, payload: dict, ts: datetime) -> None:
    from catalog.spec import Department as DepartmentSpec, Resource as ResourceSpec
    from pydantic import ValidationError

    try:
        spec = ResourceSpec.model_validate(payload.get("spec"))
        department = DepartmentSpec.model_validate(payload.get("department"))
    except ValidationError as exc:
        raise EventRejected(f"payload spec/department do not match catalog.spec: {exc}") from None
    if spec.id != event["resource"] or spec.provider != department.id:
        raise EventRejected(f"spec {spec.id!r} (provider {spec.provider!r}) does not match the event's resource / department")
    existing = session.get(Resource, spec.id)
    if existing is not None and existing.updated_at > ts:
        # An older registration replayed after a newer one (e.g. --from-beginning): the newer entry stands.
        return
    upsert_department(session, department)
    resource, created = write_resource(session, spec, str(payload.get("spec_hash") or ""), ts)
    _set_status(session, resource, event, ts, created=created)


def _produced(session: Session, resource: Resource, event: dict, payload: dict, ts: datetime) -> None:
    session.add(ConnectorRun(
        event_id=event["id"], resource_id=resource.id, run_id=_text(payload, "run_id"),
        produced_at=_optional_time(payload, "produced_at", ts),
        records=_count(payload, "records", "produced", default=None),
        dlq_records=_count(payload, "dlq_records", "dlq"),
        source=_text(payload, "source", limit=64) or _text(payload, "system", limit=64),
        offsets=payload.get("offsets"),
        error=_text(payload, "error", limit=4000),
    ))
    _set_status(session, resource, event, ts)


def _landing(session: Session, resource: Resource, event: dict, payload: dict, ts: datetime) -> None:
    succeeded = event["type"] == "landing.completed"
    offsets = payload.get("offsets") or {}
    if not isinstance(offsets, (dict, list)):
        raise EventRejected("offsets must be {partition: [first, last]} or a list of ranges")
    session.add(Landing(
        event_id=event["id"], resource_id=resource.id,
        load_id=_text(payload, "load_id", required=True),
        succeeded=succeeded,
        completed_at=_optional_time(payload, "completed_at", ts),
        files=payload.get("files") or [],
        rows=_count(payload, "rows", default=None if succeeded else 0),
        dlq_rows=_count(payload, "dlq_rows"),
        offsets=offsets,
        max_event_time=_optional_time(payload, "max_event_time", None),
        schema_fingerprint=_text(payload, "schema_fingerprint", limit=64),
        error=None if succeeded else (_text(payload, "error", limit=4000) or "landing failed (no reason given)"),
    ))
    _set_status(session, resource, event, ts)


def _quality(session: Session, resource: Resource, event: dict, payload: dict, ts: datetime) -> None:
    checked = _count(payload, "rows_checked", "rows")
    valid = _count(payload, "rows_valid", default=checked)
    pass_rate = payload.get("pass_rate")
    if pass_rate is None:
        pass_rate = valid / checked if checked else None
    elif isinstance(pass_rate, bool) or not isinstance(pass_rate, (int, float)) or not 0 <= pass_rate <= 1:
        raise EventRejected(f"pass_rate must be a number in 0..1, not {pass_rate!r}")
    failed = payload.get("failed_rules") or []
    if not isinstance(failed, list):
        raise EventRejected("failed_rules must be a list of {name, critical, failed_rows} or of names")
    rules = [rule if isinstance(rule, dict) else {"name": str(rule), "critical": False} for rule in failed]
    critical = payload.get("failed_critical")
    if critical is None:
        critical = [str(rule.get("name")) for rule in rules if rule.get("critical")]
    session.add(QualityRun(
        event_id=event["id"], resource_id=resource.id, load_id=_text(payload, "load_id"),
        ran_at=_optional_time(payload, "ran_at", ts), rows_checked=checked, rows_valid=valid,
        pass_rate=None if pass_rate is None else float(pass_rate),
        failed_rules=rules, failed_critical=sorted({str(name) for name in critical}),
        quarantined_rows=_count(payload, "quarantined_rows", default=0),
        repairs={str(k): int(v) for k, v in (payload.get("repairs") or {}).items() if isinstance(v, int)},
        docs_path=_text(payload, "docs", limit=500),
    ))
    _set_status(session, resource, event, ts)


def _schema_changed(session: Session, resource: Resource, event: dict, payload: dict, ts: datetime) -> None:
    # A schema change is history worth reading next to the status, though it changes no status.
    parts = [str(payload.get("note") or payload.get("message") or "schema changed")]
    parts += [f"{key}: {payload[key]}" for key in ("old", "new", "added", "removed", "changed") if payload.get(key)]
    note = "; ".join(parts)
    session.add(StatusChange(
        resource_id=resource.id, changed_at=ts, old_status=resource.status, new_status=resource.status,
        cause=event["type"], event_id=event["id"], note=str(note)[:4000],
    ))


REGISTRATIONS = ("resource.registered", "resource.updated")
HANDLERS: dict[str, Callable[..., None]] = {
    "resource.registered": _registered,
    "resource.updated": _registered,
    "connector.produced": _produced,
    "landing.completed": _landing,
    "landing.failed": _landing,
    "quality.completed": _quality,
    "schema.changed": _schema_changed,
}


# --- lifecycle status --------------------------------------------------------------------------

def lifecycle_status(session: Session, resource: Resource) -> str:
    """The status the evidence supports now (latest landing / quality run by their own times)."""
    if resource.binding is None:
        return UNBOUND
    rid = resource.id
    if not session.scalar(select(exists().where(ConnectorRun.resource_id == rid, ConnectorRun.records > 0))):
        return BOUND
    last_landing = session.scalars(
        select(Landing).where(Landing.resource_id == rid).order_by(Landing.completed_at.desc(), Landing.id.desc()).limit(1)
    ).first()
    if last_landing is not None and not last_landing.succeeded:
        return LANDING_FAILED
    if not session.scalar(select(exists().where(Landing.resource_id == rid, Landing.succeeded, Landing.rows > 0))):
        return PRODUCING
    quality = session.scalars(
        select(QualityRun).where(QualityRun.resource_id == rid).order_by(QualityRun.ran_at.desc(), QualityRun.id.desc()).limit(1)
    ).first()
    if quality is None:
        return LANDED
    threshold = resource.quality_threshold if resource.quality_threshold is not None else DEFAULT_QUALITY_THRESHOLD
    if quality.failed_critical or quality.pass_rate is None or quality.pass_rate < threshold:
        return QUALITY_FAILED
    return PASSING


def _set_status(session: Session, resource: Resource, event: dict, ts: datetime, *, created: bool = False) -> None:
    new = lifecycle_status(session, resource)
    if not created and new == resource.status:
        return
    session.add(StatusChange(
        resource_id=resource.id, changed_at=ts, old_status=None if created else resource.status,
        new_status=new, cause=event["type"], event_id=event["id"],
    ))
    resource.status, resource.status_since = new, ts


# --- the consumer ------------------------------------------------------------------------------

@dataclass
class ConsumeStats:
    """What one consume() call read; plain integers so it travels as an Airflow XCom."""

    messages: int = 0
    applied: int = 0
    duplicate: int = 0
    rejected: int = 0
    unknown_resource: int = 0
    undecodable: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __str__(self) -> str:
        return (f"{self.messages} events read: {self.applied} applied, {self.duplicate} already applied, "
                f"{self.rejected} rejected, {self.unknown_resource} for unknown resources, {self.undecodable} undecodable")


def consume(follow: bool = False, from_beginning: bool = False, *, url: str | None = None,
            topic: str | None = None, group_id: str | None = None, poll_timeout_ms: int = 1000,
            stop: Callable[[], bool] | None = None) -> ConsumeStats:
    """Apply hub.events to the catalogue: up to the end offsets seen at start, or forever with `follow`.

    Each poll is applied in one database transaction; offsets are committed only after it commits,
    so a crash in between re-delivers events that are then skipped as duplicates.
    """
    from catalog.db import make_engine, migrate, session_factory
    from hub.kafka_clients import ensure_topics, make_consumer

    topic, group_id = topic or events_topic(), group_id or catalog_group()
    engine = make_engine(url)
    migrate(engine=engine)
    sessions = session_factory(engine)
    ensure_topics([topic])
    consumer = make_consumer(group_id=group_id)
    stats = ConsumeStats()
    try:
        partitions = _assign(consumer, topic, from_beginning)
        end = None if follow else consumer.end_offsets(partitions)
        while not (stop and stop()) and (follow or any(consumer.position(tp) < end[tp] for tp in partitions)):
            batch = consumer.poll(timeout_ms=poll_timeout_ms)
            if batch:
                with sessions() as session, session.begin():
                    messages = [message for records in batch.values() for message in records]
                    stats.messages += len(messages)
                    for outcome in apply_events(session, [e for e in map(_decoded(stats), messages) if e]):
                        stats.count(outcome)
                consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batch.items()})
    except KeyboardInterrupt:
        log.info("consumer stopped: %s", stats)
    finally:
        consumer.close()
        engine.dispose()
    return stats


def _assign(consumer, topic: str, from_beginning: bool) -> list[TopicPartition]:
    # Explicit assignment (the group still owns the committed offsets): reading starts at once
    # instead of after a group join. Two consumers running at once both read everything; the
    # writer lock and the event ids make the second one's work no-ops.
    deadline = time.monotonic() + 30
    while not (numbers := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            raise CatalogError(f"topic {topic} has no partitions after 30 s: is the broker up (hub kafka up)?", kind="retriable")
        time.sleep(0.2)
    partitions = [TopicPartition(topic, number) for number in sorted(numbers)]
    consumer.assign(partitions)
    if from_beginning:
        consumer.seek_to_beginning(*partitions)
    return partitions


def _decoded(stats: ConsumeStats) -> Callable[[Any], dict | None]:
    def decode(message) -> dict | None:
        try:
            return decode_event(message.value)
        except ValueError as exc:
            # No id to record it under: the log line (with the offset) is its trace.
            stats.count("undecodable")
            log.warning("undecodable event at %s[%s]@%s skipped: %s", message.topic, message.partition, message.offset, exc)
            return None

    return decode
