"""Apply catalogue events (hub.events) to the database: evidence rows, status, and event ids.

`apply_event` is idempotent: an event id seen before changes nothing, so replaying the topic
from the beginning into an empty database rebuilds the same state. Every row written from an
event takes its times from the event (never the wall clock) for the same reason.

Every event is read through its model in hub.events (`parse_event`; events of older versions are
upgraded there by an explicit step first). Times default to the event's `ts` where a payload leaves
them out. An event that does not fit its model, of an unknown type or version, is recorded as
rejected with the reason, never raised and never guessed at; `consume` also sends it to
hub.dlq.events with the reason in the `hub-dlq-reason` header.

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

import orjson
from kafka.structs import OffsetAndMetadata, TopicPartition
from sqlalchemy import exists, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from catalog.coverage import DEFAULT_QUALITY_THRESHOLD
from catalog.db import lock_writers
from catalog.errors import CatalogError
from catalog.models import AppliedEvent, ConnectorRun, Landing, QualityRun, Resource, StatusChange
from catalog.store import upsert_department, write_resource
from hub.events import (
    EVENT_TYPES,
    ConnectorProduced,
    Event,
    EventInvalid,
    LandingCompleted,
    LandingFailed,
    QualityCompleted,
    ResourceRegistered,
    ResourceUpdated,
    SchemaChanged,
    parse_event,
)
from hub.topics import EVENTS_DLQ_TOPIC, EVENTS_TOPIC

log = logging.getLogger(__name__)

UNBOUND, BOUND, PRODUCING, LANDING_FAILED = "unbound", "bound", "producing", "landing_failed"
LANDED, QUALITY_FAILED, PASSING = "landed", "quality_failed", "passing"
STATUSES = (UNBOUND, BOUND, PRODUCING, LANDING_FAILED, LANDED, QUALITY_FAILED, PASSING)

APPLIED, DUPLICATE, REJECTED = "applied", "duplicate", "rejected"
# An event about a resource the catalogue does not know yet: kept, and applied if it comes again
# (a replay) after the resource is registered.
UNKNOWN_RESOURCE = "unknown_resource"
MAX_REASON_HEADER = 512


class EventRejected(CatalogError):
    """The event cannot be applied as it stands; it is recorded with the reason, never retried."""

    kind = "skippable"


def apply_event(session: Session, event: dict | Event) -> str:
    """Apply one event inside the caller's transaction; returns applied, duplicate, rejected or unknown_resource."""
    return apply_event_with_reason(session, event)[0]


def apply_event_with_reason(session: Session, event: dict | Event) -> tuple[str, str | None]:
    """apply_event's outcome, and for a rejected event the reason it was rejected."""
    if isinstance(event, Event):
        event = event.wire()
    event_id = event.get("id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not event_id or len(event_id) > 64:
        log.warning("event without a usable id rejected: %.200r", event)
        return REJECTED, "event has no usable id (a string of 1 to 64 characters)"
    seen = session.get(AppliedEvent, event_id)
    if seen is not None and seen.outcome != UNKNOWN_RESOURCE:
        return DUPLICATE, None
    try:
        with session.begin_nested():
            outcome, detail = _apply_checked(session, event)
            _remember(session, seen, event, outcome, detail)
    except (EventRejected, IntegrityError, DataError) as exc:
        if isinstance(exc, IntegrityError) and _applied_elsewhere(session, event_id):
            return DUPLICATE, None
        outcome, detail = REJECTED, str(exc)[:2000]
        with session.begin_nested():
            _remember(session, session.get(AppliedEvent, event_id), event, outcome, detail)
    if outcome != APPLIED:
        log.warning("event %s (%s, %s): %s", event_id, event.get("type"), event.get("resource"), outcome)
    return outcome, detail if outcome == REJECTED else None


def apply_events(session: Session, events: list[dict | Event]) -> list[str]:
    """Apply events in order inside the caller's transaction, one writer at a time; their outcomes."""
    lock_writers(session)
    return [apply_event(session, event) for event in events]


def _applied_elsewhere(session: Session, event_id: str) -> bool:
    # A concurrent consumer committed the same event first (its unique keys made ours fail).
    other = session.get(AppliedEvent, event_id, populate_existing=True)
    return other is not None and other.outcome != UNKNOWN_RESOURCE


def _apply_checked(session: Session, data: dict) -> tuple[str, str | None]:
    try:
        event = parse_event(data)
    except EventInvalid as exc:
        raise EventRejected(str(exc)) from None
    handler = HANDLERS[event.type]
    if event.type in REGISTRATIONS:
        handler(session, None, event)
        return APPLIED, None
    resource = session.get(Resource, event.resource)
    if resource is None:
        return UNKNOWN_RESOURCE, (f"resource {event.resource!r} is not registered: "
                                  "load the catalogue (hub catalog load --publish)")
    handler(session, resource, event)
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


def _clipped(value: str | None, limit: int) -> str | None:
    """Text cut to its column's length; an empty string stored as none."""
    return value[:limit] if value else None


# --- handlers: one per event model ---------------------------------------------------------------

def _registered(session: Session, _resource: None, event: ResourceRegistered | ResourceUpdated) -> None:
    from catalog.spec import Department as DepartmentSpec, Resource as ResourceSpec
    from pydantic import ValidationError

    payload = event.payload
    try:
        spec = ResourceSpec.model_validate(payload.spec)
        department = DepartmentSpec.model_validate(payload.department)
    except ValidationError as exc:
        raise EventRejected(f"payload spec/department do not match catalog.spec: {exc}") from None
    if spec.id != event.resource or spec.provider != department.id:
        raise EventRejected(f"spec {spec.id!r} (provider {spec.provider!r}) does not match the event's resource / department")
    existing = session.get(Resource, spec.id)
    if existing is not None and existing.updated_at > event.ts:
        # An older registration replayed after a newer one (e.g. --from-beginning): the newer entry stands.
        return
    upsert_department(session, department)
    resource, created = write_resource(session, spec, payload.spec_hash, event.ts)
    _set_status(session, resource, event, created=created)


def _produced(session: Session, resource: Resource, event: ConnectorProduced) -> None:
    payload = event.payload
    session.add(ConnectorRun(
        event_id=event.id, resource_id=resource.id, run_id=_clipped(payload.run_id, 128),
        produced_at=payload.produced_at or event.ts,
        records=payload.records,
        dlq_records=payload.dlq_records,
        source=_clipped(payload.source, 64),
        offsets=payload.offsets,
        error=_clipped(payload.error, 4000),
    ))
    _set_status(session, resource, event)


def _landed(session: Session, resource: Resource, event: LandingCompleted) -> None:
    payload = event.payload
    session.add(Landing(
        event_id=event.id, resource_id=resource.id, load_id=_clipped(payload.load_id, 128), succeeded=True,
        completed_at=payload.completed_at or event.ts, files=list(payload.files), rows=payload.rows,
        dlq_rows=payload.dlq_rows, offsets=payload.offsets, max_event_time=payload.max_event_time,
        schema_fingerprint=_clipped(payload.schema_fingerprint, 64), error=None,
    ))
    _set_status(session, resource, event)


def _landing_failed(session: Session, resource: Resource, event: LandingFailed) -> None:
    payload = event.payload
    session.add(Landing(
        event_id=event.id, resource_id=resource.id, load_id=_clipped(payload.load_id, 128), succeeded=False,
        completed_at=payload.completed_at or event.ts, files=[], rows=0, dlq_rows=0, offsets=payload.offsets,
        max_event_time=None, schema_fingerprint=None,
        error=_clipped(payload.error, 4000) or "landing failed (no reason given)",
    ))
    _set_status(session, resource, event)


def _quality(session: Session, resource: Resource, event: QualityCompleted) -> None:
    payload = event.payload
    session.add(QualityRun(
        event_id=event.id, resource_id=resource.id, load_id=_clipped(payload.load_id, 128),
        ran_at=payload.ran_at or event.ts, rows_checked=payload.rows_checked, rows_valid=payload.rows_valid,
        pass_rate=payload.pass_rate,
        failed_rules=[rule.model_dump(exclude_none=True) for rule in payload.failed_rules],
        failed_critical=sorted(set(payload.failed_critical)),
        quarantined_rows=payload.quarantined_rows,
        repairs=dict(payload.repairs),
        docs_path=_clipped(payload.docs, 500),
    ))
    _set_status(session, resource, event)


def _schema_changed(session: Session, resource: Resource, event: SchemaChanged) -> None:
    # A schema change is history worth reading next to the status, though it changes no status.
    payload = event.payload
    parts = [payload.note or "schema changed"]
    parts += [f"{key}: {value}" for key in ("old", "new", "added", "removed", "changed")
              if (value := getattr(payload, key))]
    session.add(StatusChange(
        resource_id=resource.id, changed_at=event.ts, old_status=resource.status, new_status=resource.status,
        cause=event.type, event_id=event.id, note="; ".join(parts)[:4000],
    ))


REGISTRATIONS = ("resource.registered", "resource.updated")
HANDLERS: dict[str, Callable[..., None]] = {
    "resource.registered": _registered,
    "resource.updated": _registered,
    "connector.produced": _produced,
    "landing.completed": _landed,
    "landing.failed": _landing_failed,
    "quality.completed": _quality,
    "schema.changed": _schema_changed,
}
assert set(HANDLERS) == set(EVENT_TYPES), "every event model needs a handler"


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


def _set_status(session: Session, resource: Resource, event: Event, *, created: bool = False) -> None:
    new = lifecycle_status(session, resource)
    if not created and new == resource.status:
        return
    session.add(StatusChange(
        resource_id=resource.id, changed_at=event.ts, old_status=None if created else resource.status,
        new_status=new, cause=event.type, event_id=event.id,
    ))
    resource.status, resource.status_since = new, event.ts


# --- the consumer ------------------------------------------------------------------------------

GROUP_ID = "hub-catalog"


@dataclass
class ConsumeStats:
    """What one consume() call read; plain integers so it travels as an Airflow XCom."""

    messages: int = 0
    applied: int = 0
    duplicate: int = 0
    rejected: int = 0
    unknown_resource: int = 0
    undecodable: int = 0
    dead_lettered: int = 0  # rejected + undecodable messages sent to the events' DLQ

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __str__(self) -> str:
        return (f"{self.messages} events read: {self.applied} applied, {self.duplicate} already applied, "
                f"{self.rejected} rejected, {self.unknown_resource} for unknown resources, "
                f"{self.undecodable} undecodable, {self.dead_lettered} dead-lettered")


def consume(follow: bool = False, from_beginning: bool = False, *, url: str | None = None,
            topic: str = EVENTS_TOPIC, group_id: str = GROUP_ID, poll_timeout_ms: int = 1000,
            stop: Callable[[], bool] | None = None, dlq_topic: str = EVENTS_DLQ_TOPIC) -> ConsumeStats:
    """Apply hub.events to the catalogue: up to the end offsets seen at start, or forever with `follow`.

    Each poll is applied in one database transaction. Rejected and undecodable messages go to
    `dlq_topic` with the reason before that transaction commits; offsets are committed only after
    it commits, so a crash in between re-delivers events that are then skipped as duplicates.
    """
    from catalog.db import make_engine, migrate, session_factory
    from hub.kafka_clients import ensure_topics, make_consumer, make_producer

    engine = make_engine(url)
    migrate(engine=engine)
    sessions = session_factory(engine)
    ensure_topics([topic, dlq_topic])
    consumer = make_consumer(group_id=group_id)
    dead_letters = _DeadLetters(dlq_topic, make_producer)
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
                    _apply_messages(session, messages, stats, dead_letters)
                    dead_letters.flush()  # raises before the commit if the DLQ did not take them
                consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batch.items()})
    except KeyboardInterrupt:
        log.info("consumer stopped: %s", stats)
    finally:
        consumer.close()
        dead_letters.close()
        engine.dispose()
    return stats


def _apply_messages(session: Session, messages: list, stats: ConsumeStats, dead_letters: "_DeadLetters") -> None:
    lock_writers(session)
    for message in messages:
        try:
            data = orjson.loads(message.value) if message.value is not None else None
        except orjson.JSONDecodeError as exc:
            data, reason = None, f"event is not JSON: {exc}"
        else:
            reason = None if data is not None else "message has no value"
        if reason is not None:
            # No id to record it under: the dead letter (with its origin) and the log line are its trace.
            stats.count("undecodable")
            log.warning("undecodable event at %s[%s]@%s: %s", message.topic, message.partition, message.offset, reason)
        else:
            outcome, reason = apply_event_with_reason(session, data)
            stats.count(outcome)
            if outcome != REJECTED:
                continue
        dead_letters.send(message, reason)
        stats.dead_lettered += 1


class _DeadLetters:
    """Rejected and undecodable events, sent whole to the events' DLQ with the reason in a header."""

    def __init__(self, topic: str, make_producer: Callable) -> None:
        self.topic, self.make_producer = topic, make_producer
        self.producer = None
        self.futures: list = []

    def send(self, message, reason: str) -> None:
        if self.producer is None:
            self.producer = self.make_producer()
        headers = [
            ("hub-dlq-reason", reason.encode()[:MAX_REASON_HEADER]),
            ("hub-dlq-stage", b"catalog"),
            ("hub-dlq-origin", f"{message.topic}/{message.partition}/{message.offset}".encode()),
        ]
        self.futures.append(self.producer.send(self.topic, key=message.key, value=message.value, headers=headers))

    def flush(self) -> None:
        if self.producer is None or not self.futures:
            return
        self.producer.flush()
        failed = [future for future in self.futures if future.failed()]
        self.futures = []
        if failed:
            raise CatalogError(f"{len(failed)} rejected event(s) could not be written to {self.topic}: "
                               f"{failed[0].exception}; nothing of this poll is committed and it will be retried",
                               kind="retriable")

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close()
            self.producer = None


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
