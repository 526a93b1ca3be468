"""Apply catalogue events (hub.events) to the database (evidence rows and status: catalog.evidence)
and remember every event id.

`apply_event` is idempotent: an event id seen before changes nothing, so replaying the topic
from the beginning into an empty database rebuilds the same state. Every row written from an
event takes its times from the event (never the wall clock) for the same reason.

Every event is read through its model in hub.events (`parse_event`; events of older versions are
upgraded there by an explicit step first). Times default to the event's `ts` where a payload leaves
them out. An event that does not fit its model, of an unknown type or version, is recorded as
rejected with the reason, never raised and never guessed at; `consume` also sends it to
hub.dlq.events with the reason in the `hub-dlq-reason` header.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from catalog.db import lock_writers
from catalog.errors import CatalogError
from catalog.evidence import HANDLERS, REGISTRATIONS, EventRejected
from catalog.models import AppliedEvent, Resource
from hub.events import Event, EventInvalid, parse_event
from hub.kafka_api import OffsetAndMetadata, TopicPartition
from hub.topics import catalog_group, events_dlq_topic, events_topic

log = logging.getLogger(__name__)

APPLIED, DUPLICATE, REJECTED = "applied", "duplicate", "rejected"
# An event about a resource the catalogue does not know yet: kept, and applied if it comes again
# (a replay) after the resource is registered.
UNKNOWN_RESOURCE = "unknown_resource"
MAX_REASON_HEADER = 512


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
        return UNKNOWN_RESOURCE, (
            f"resource {event.resource!r} is not registered: load the catalogue (hub catalog load --publish)"
        )
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
    dead_lettered: int = 0  # rejected + undecodable messages sent to the events' DLQ

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __str__(self) -> str:
        return (
            f"{self.messages} events read: {self.applied} applied, {self.duplicate} already applied, "
            f"{self.rejected} rejected, {self.unknown_resource} for unknown resources, "
            f"{self.undecodable} undecodable, {self.dead_lettered} dead-lettered"
        )


def consume(
    follow: bool = False,
    from_beginning: bool = False,
    *,
    url: str | None = None,
    topic: str | None = None,
    group_id: str | None = None,
    poll_timeout_ms: int = 1000,
    stop: Callable[[], bool] | None = None,
    dlq_topic: str | None = None,
) -> ConsumeStats:
    """Apply hub.events to the catalogue: up to the end offsets seen at start, or forever with `follow`.

    Each poll is applied in one database transaction. Rejected and undecodable messages go to
    `dlq_topic` with the reason before that transaction commits; offsets are committed only after
    it commits, so a crash in between re-delivers events that are then skipped as duplicates.
    """
    from catalog.db import make_engine, migrate, session_factory
    from hub.kafka_clients import ensure_topics, make_consumer, make_producer

    topic, group_id = topic or events_topic(), group_id or catalog_group()
    dlq_topic = dlq_topic or events_dlq_topic()
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
                consumer.commit(
                    {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batch.items()}
                )
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
            raise CatalogError(
                f"{len(failed)} rejected event(s) could not be written to {self.topic}: "
                f"{failed[0].exception}; nothing of this poll is committed and it will be retried",
                kind="retriable",
            )

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
            raise CatalogError(
                f"topic {topic} has no partitions after 30 s: is the broker up (hub kafka up)?", kind="retriable"
            )
        time.sleep(0.2)
    partitions = [TopicPartition(topic, number) for number in sorted(numbers)]
    consumer.assign(partitions)
    if from_beginning:
        consumer.seek_to_beginning(*partitions)
    return partitions
