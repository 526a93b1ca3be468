"""The record envelope: business key as bytes, the record as UTF-8 JSON, metadata in headers.

`encode` and `decode` are the only places that know the wire format; `decode` is strict and raises
an `EnvelopeError` subclass naming what is wrong, so a consumer can route the message to the DLQ.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

from hub.errors import HubError

OPS = ("upsert", "delete")
HEADERS = ("hub-resource", "hub-op", "hub-event-time", "hub-source", "hub-schema")


class EnvelopeError(HubError):
    """A Kafka message that is not a valid hub record; never retriable."""

    kind = "skippable"


class MissingHeader(EnvelopeError):
    pass


class BadHeader(EnvelopeError):
    pass


class BadKey(EnvelopeError):
    pass


class NotUtf8(EnvelopeError):
    pass


class NotJson(EnvelopeError):
    pass


class NotAnObject(EnvelopeError):
    pass


@dataclass(frozen=True)
class Record:
    key: bytes
    value: dict
    resource: str
    op: str = "upsert"
    event_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    source: str = ""
    schema: str = ""


def encode(record: Record) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) ready for KafkaProducer.send."""
    if record.op not in OPS:
        raise BadHeader(f"op {record.op!r} of resource {record.resource!r} is not one of {OPS}")
    if record.event_time.tzinfo is None:
        raise BadHeader(f"event time of resource {record.resource!r} must be timezone-aware")
    value = orjson.dumps(record.value, option=orjson.OPT_NON_STR_KEYS)
    headers = [
        ("hub-resource", record.resource.encode()),
        ("hub-op", record.op.encode()),
        ("hub-event-time", record.event_time.isoformat().encode()),
        ("hub-source", record.source.encode()),
        ("hub-schema", record.schema.encode()),
    ]
    return record.key, value, headers


def decode_headers(headers) -> dict[str, str]:
    """The hub headers of a message as text; raises MissingHeader / BadHeader."""
    found: dict[str, str] = {}
    for name, raw in headers or ():
        if name in HEADERS:
            try:
                found[name] = raw.decode("utf-8") if raw is not None else ""
            except (UnicodeDecodeError, AttributeError) as exc:
                raise BadHeader(f"header {name} is not UTF-8 text") from exc
    missing = [name for name in HEADERS if name not in found]
    if missing:
        raise MissingHeader(f"message lacks header(s) {', '.join(missing)}: was it produced through hub.envelope?")
    if found["hub-op"] not in OPS:
        raise BadHeader(f"hub-op {found['hub-op']!r} is not one of {OPS}")
    return found


def parse_event_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadHeader(f"hub-event-time {text!r} is not ISO-8601") from exc
    if moment.tzinfo is None:
        raise BadHeader(f"hub-event-time {text!r} has no UTC offset")
    return moment


def decode_value(value) -> dict:
    if value is None:
        raise NotJson("message has no value (a tombstone is not a hub record)")
    try:
        text = bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(f"value is not UTF-8 (byte {exc.start}: {exc.reason})") from exc
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise NotJson(f"value is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise NotAnObject(f"value is JSON {type(parsed).__name__}, expected an object")
    return parsed


def decode(key, value, headers) -> Record:
    """The Record carried by a Kafka message; raises an EnvelopeError subclass if it is not one."""
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise BadKey("message has no key: every hub record carries its business key")
    meta = decode_headers(headers)
    return Record(
        key=bytes(key),
        value=decode_value(value),
        resource=meta["hub-resource"],
        op=meta["hub-op"],
        event_time=parse_event_time(meta["hub-event-time"]),
        source=meta["hub-source"],
        schema=meta["hub-schema"],
    )
