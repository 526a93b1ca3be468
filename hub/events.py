"""Catalogue events on `hub.events`: one typed model per event type, their wire form, publishing.

Wire form (a JSON object, keyed on Kafka by the resource id so one resource's events stay ordered):
    {"id", "type", "ts", "resource", "version": 2, "payload": {...the type's payload model...}}
Producers build an event through its model (`ConnectorProduced.build(resource, records=…)`) and
send `event.wire()`; the catalogue reads one through `parse_event`, which validates it against the
same model. Events written before version 2 carry no "version": `parse_event` upgrades them with
the explicit, per-type step in `hub.event_upgrades` first; nothing else accepts their old names.
A payload field not in its model, a missing required field or an unknown type is an `EventInvalid`
with the reason, never guessed at.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from hub import clock
from hub.errors import HubError
from hub.event_upgrades import UPGRADES
from hub.topics import events_topic

VERSION = 2


class EventInvalid(ValueError):
    """A hub.events message that is not a valid event of this version; the message is the reason."""


# --- field types ----------------------------------------------------------------------------------


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 time") from None
    else:
        raise ValueError(f"{value!r} is not an ISO-8601 time")
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: send UTC (…Z or +00:00)")
    return moment.astimezone(timezone.utc)


def _count(value: Any) -> int:
    # JSON has one number type: 7.0 is 7; a bool or a string is not a count.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
        raise ValueError(f"must be a non-negative integer, not {value!r}")
    return int(value)


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"must be a number in 0..1, not {value!r}")
    return float(value)


Moment = Annotated[datetime, BeforeValidator(_moment), PlainSerializer(lambda moment: moment.isoformat())]
Count = Annotated[int, BeforeValidator(_count)]
Fraction = Annotated[float, BeforeValidator(_fraction)]
Name = Annotated[str, Field(min_length=1)]
Offsets = dict[str, list[int]] | list[list[int]]  # {partition: [first, last]} or a list of ranges


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- payloads -------------------------------------------------------------------------------------


class Registration(Payload):
    """resource.registered / resource.updated: the whole entry, so a replay can rebuild it.
    `spec` and `department` are catalog.spec's Resource and Department as JSON (checked by the catalogue)."""

    spec: dict[str, Any]
    department: dict[str, Any]
    spec_hash: str = ""


class Produced(Payload):
    """connector.produced: one connector pass."""

    records: Count  # records written to hub.raw.<resource>
    dlq_records: Count = 0  # source rows sent to hub.dlq.<resource>
    source: str | None = None  # the source system (binding.system)
    kind: str | None = None  # the connector kind
    object: str | None = None  # table, file, endpoint or MQTT topic read
    topic: str | None = None
    dlq_topic: str | None = None
    seconds: float | None = Field(None, ge=0)
    totals: dict[str, Count] = Field(default_factory=dict)  # running totals of the connector's state
    source_stats: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = None
    offsets: Offsets | None = None
    produced_at: Moment | None = None  # default: the event's ts
    error: str | None = None


class Landed(Payload):
    """landing.completed: one load of the raw topic into the lake."""

    load_id: Name
    rows: Count
    dlq_rows: Count = 0
    files: list[str] = Field(default_factory=list)
    offsets: Offsets = Field(default_factory=dict)
    max_event_time: Moment | None = None
    schema_fingerprint: str | None = None
    repairs: dict[str, Count] = Field(default_factory=dict)
    completed_at: Moment | None = None  # default: the event's ts


class LandingFailure(Payload):
    """landing.failed: a load that stopped; nothing of it is committed."""

    load_id: Name
    error: str | None = None
    offsets: Offsets = Field(default_factory=dict)
    completed_at: Moment | None = None


class FailedRule(Payload):
    name: Name
    critical: bool = False
    failed_rows: Count | None = None
    success: bool | None = None


class Judged(Payload):
    """quality.completed: one quality gate run over a load."""

    rows_checked: Count  # rows landed + DLQ rows
    rows_valid: Count  # rows that passed
    pass_rate: Fraction | None = None  # rows_valid / rows_checked unless stated; None when nothing was checked
    failed_critical: list[str]  # critical rules broken beyond the threshold: the producer's verdict
    failed_rules: list[FailedRule] = Field(default_factory=list)
    failed_warning: list[str] = Field(default_factory=list)
    quarantined_rows: Count = 0
    dlq_rows: Count = 0
    repairs: dict[str, Count] = Field(default_factory=dict)
    run_id: str | None = None
    load_id: str | None = None
    suite: str | None = None
    docs: str | None = None
    ran_at: Moment | None = None  # default: the event's ts

    @model_validator(mode="after")
    def _pass_rate_of_the_counts(self) -> "Judged":
        if self.pass_rate is None and self.rows_checked:
            # frozen model: the derived default is set once, here, before anyone can read it
            object.__setattr__(self, "pass_rate", self.rows_valid / self.rows_checked)
        return self


OBJECTION_ACTIONS = ("raised", "accepted", "flagged", "corrected", "closed", "rejected")


class ObjectionChange(Payload):
    """objection.changed: one step of an objection (异议 / 校核纠错) to a resource's data.

    `raised` carries what is objected to; the steward of the 数源部门 takes the later steps.
    Quality objections are opened and closed by the catalogue from quality.completed, not by this event.
    """

    objection: Name
    action: Literal["raised", "accepted", "flagged", "corrected", "closed", "rejected"]
    actor: Name
    actor_role: str | None = None
    actor_department: str | None = None
    item: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=2000)  # raised: what is wrong; rejected: why not
    at: Moment | None = None  # default: the event's ts


SHARE_REQUEST_ACTIONS = ("requested", "approved", "denied", "revoked")


class ShareRequestChange(Payload):
    """share_request.changed: one step of a share request (共享申请) for a resource, or of its grant.

    `requested` carries the whole request; `approved` the grant it makes (id, PII decision) and who
    decided (the owner's steward, or `catalogue` when the sharing type answers at once); `denied` the
    reason; `revoked` the grant ended. Ids are the catalogue's, so a replay rebuilds the same rows.
    """

    request: Annotated[int, Field(ge=1)] | None = None  # None only when revoking a grant made without one
    action: Literal["requested", "approved", "denied", "revoked"]
    actor: Name
    actor_role: Name
    actor_department: str | None = None
    at: Moment | None = None  # default: the event's ts
    department: str | None = Field(None, max_length=32)  # requested: the department that asks
    purpose: str | None = Field(None, max_length=2000)
    pii_requested: bool | None = None
    valid_until: Moment | None = None
    decided_by: str | None = Field(None, max_length=64)  # approved / denied: the decider
    reason: str | None = Field(None, max_length=2000)
    grant: Annotated[int, Field(ge=1)] | None = None  # approved: the grant made; revoked: the grant ended
    pii: bool | None = None  # approved: PII in clear allowed (None: not asked for)

    @model_validator(mode="after")
    def _what_each_action_needs(self) -> "ShareRequestChange":
        needed = {
            "requested": ("request", "department", "purpose", "pii_requested", "valid_until"),
            "approved": ("request", "decided_by"),  # no grant when the catalogue grants 无条件共享 at once
            "denied": ("request", "decided_by", "reason"),
            "revoked": ("grant",),
        }[self.action]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.action} step needs {', '.join(missing)}")
        return self


class SchemaChange(Payload):
    """schema.changed: source records differ from the catalogue entry (history; no status change)."""

    note: str = "schema changed"
    old: str | None = None
    new: str | None = None
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)


# --- events ---------------------------------------------------------------------------------------


def _now() -> datetime:
    return clock.now()


class Event(BaseModel):
    """The envelope every event type shares; subclasses fix `type` and the payload model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=64)
    type: str
    ts: Moment = Field(default_factory=_now)
    resource: Name
    version: Literal[2] = VERSION
    payload: Payload

    @classmethod
    def build(cls, resource: str, *, id: str | None = None, ts: datetime | None = None, **payload: Any):
        """A new event of this type; raises pydantic's ValidationError naming every bad field."""
        envelope: dict[str, Any] = {"resource": resource, "payload": payload}
        if id is not None:
            envelope["id"] = id
        if ts is not None:
            envelope["ts"] = ts
        return cls(**envelope)

    def wire(self) -> dict:
        """The event as the JSON object sent on hub.events."""
        return self.model_dump(mode="json")


class ResourceRegistered(Event):
    type: Literal["resource.registered"] = "resource.registered"
    payload: Registration


class ResourceUpdated(Event):
    type: Literal["resource.updated"] = "resource.updated"
    payload: Registration


class ConnectorProduced(Event):
    type: Literal["connector.produced"] = "connector.produced"
    payload: Produced


class LandingCompleted(Event):
    type: Literal["landing.completed"] = "landing.completed"
    payload: Landed


class LandingFailed(Event):
    type: Literal["landing.failed"] = "landing.failed"
    payload: LandingFailure


class QualityCompleted(Event):
    type: Literal["quality.completed"] = "quality.completed"
    payload: Judged


class SchemaChanged(Event):
    type: Literal["schema.changed"] = "schema.changed"
    payload: SchemaChange


class ObjectionChanged(Event):
    type: Literal["objection.changed"] = "objection.changed"
    payload: ObjectionChange


class ShareRequestChanged(Event):
    type: Literal["share_request.changed"] = "share_request.changed"
    payload: ShareRequestChange


EVENT_MODELS: dict[str, type[Event]] = {
    model.model_fields["type"].default: model
    for model in (
        ResourceRegistered,
        ResourceUpdated,
        ConnectorProduced,
        LandingCompleted,
        LandingFailed,
        QualityCompleted,
        SchemaChanged,
        ObjectionChanged,
        ShareRequestChanged,
    )
}
EVENT_TYPES = tuple(EVENT_MODELS)


def make_event(type: str, resource: str, *, ts: datetime | None = None, id: str | None = None, **payload) -> dict:
    """The wire form of a new event of `type` built through its model (for tools and tests);
    raises EventInvalid naming every bad field."""
    model = EVENT_MODELS.get(type)
    if model is None:
        raise EventInvalid(f"unknown event type {type!r}; expected one of {EVENT_TYPES}")
    try:
        return model.build(resource, id=id, ts=ts, **payload).wire()
    except ValidationError as exc:
        raise EventInvalid(f"{type}: {_reasons(exc)}") from None


# --- reading --------------------------------------------------------------------------------------


def parse_event(data: Any) -> Event:
    """The event a decoded hub.events message holds, upgraded from an older version if it is one;
    raises EventInvalid with the reason (unknown type, unknown version, a field that does not fit)."""
    if not isinstance(data, dict):
        raise EventInvalid(f"event is JSON {type(data).__name__}, expected an object")
    model = EVENT_MODELS.get(data.get("type"))
    if model is None:
        raise EventInvalid(f"unknown event type {data.get('type')!r}; expected one of {sorted(EVENT_MODELS)}")
    version = data.get("version", 1)
    if type(version) is not int or not 1 <= version <= VERSION:
        raise EventInvalid(f"event version {version!r} is not one this hub reads (1..{VERSION}): upgrade the hub")
    while version < VERSION:
        data, version = UPGRADES[version](data), version + 1
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise EventInvalid(_reasons(exc)) from None


def decode_event(value: bytes | None) -> dict:
    """One hub.events message value as the wire form of the current version; raises EventInvalid."""
    if value is None:
        raise EventInvalid("message has no value")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EventInvalid(f"event is not JSON: {exc}") from None
    return parse_event(data).wire()


def _reasons(exc: ValidationError) -> str:
    """pydantic's errors as one line: `payload.records: must be a non-negative integer, not -1; …`."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "event"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


# --- sending --------------------------------------------------------------------------------------


def encode_event(event: Event | dict) -> tuple[bytes, bytes]:
    """(key, value) of an event on hub.events: keyed by resource so its events stay ordered."""
    wire = event.wire() if isinstance(event, Event) else event
    return wire["resource"].encode(), orjson.dumps(wire, option=orjson.OPT_NON_STR_KEYS)


def publish_events(events: list[Event | dict], producer=None, topic: str | None = None) -> None:
    """Send events keyed by resource (so one resource's events stay ordered) and wait for delivery."""
    topic = topic or events_topic()  # read at call time: the prefix is a setting
    from hub.kafka_clients import shared_producer

    producer = producer or shared_producer()
    futures = []
    for event in events:
        key, value = encode_event(event)
        futures.append(producer.send(topic, key=key, value=value))
    producer.flush()
    failed = [future.exception for future in futures if future.failed()]
    if failed:
        raise HubError(
            f"{len(failed)} of {len(futures)} event(s) were not written to {topic}: {failed[0]}; "
            "send them again (their ids make a second copy harmless)",
            kind="retriable",
        )
