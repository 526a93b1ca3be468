"""Catalogue events on `hub.events`: what connectors, landing and quality report to the catalogue."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson

from hub.topics import events_topic

EVENT_TYPES = (
    "resource.registered",
    "resource.updated",
    "connector.produced",
    "landing.completed",
    "landing.failed",
    "quality.completed",
    "schema.changed",
)


def make_event(type: str, resource: str, *, ts: datetime | None = None, id: str | None = None, **payload) -> dict:
    """A new event with a unique id; `payload` must be JSON-serialisable."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; expected one of {EVENT_TYPES}")
    moment = (ts or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {"id": id or str(uuid.uuid4()), "type": type, "ts": moment.isoformat(), "resource": resource, "payload": payload}


def encode_event(event: dict) -> tuple[bytes, bytes]:
    return event["resource"].encode(), orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)


def decode_event(value: bytes) -> dict:
    """Parse one event; raises ValueError naming the problem."""
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"event is not JSON: {exc}") from exc
    missing = [k for k in ("id", "type", "ts", "resource", "payload") if not isinstance(event, dict) or k not in event]
    if missing:
        raise ValueError(f"event lacks {', '.join(missing)}")
    if event["type"] not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event['type']!r}")
    return event


def publish_events(events: list[dict], producer=None, topic: str | None = None) -> None:
    """Send events keyed by resource (so one resource's events stay ordered) and wait for delivery."""
    topic = topic or events_topic()  # read at call time: the prefix is a setting
    from hub.kafka_clients import make_producer

    owned = producer is None
    producer = producer or make_producer()
    try:
        for event in events:
            key, value = encode_event(event)
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        if owned:
            producer.close()
