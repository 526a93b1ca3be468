"""The record envelope: business key as bytes, the record as UTF-8 JSON, metadata in headers.

`encode`, `decode` and `HeaderColumns` are the only places that know the wire format. `decode` is
strict and raises an `EnvelopeError` subclass naming what is wrong, so a consumer can route the
message to the DLQ; `HeaderColumns` decodes the headers of a whole batch into Arrow columns with
one typed error per bad record (landing's hot path: one Python pass, the rest in Arrow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from hub import clock
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
    event_time: datetime = field(default_factory=clock.now)
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


class Encoder:
    """`encode` for the many records of one resource from one source: the headers that do not change
    from record to record are encoded once (the connectors' hot path). Same wire format as `encode`."""

    __slots__ = ("_resource", "_ops", "_source", "_schema")

    def __init__(self, resource: str, source: str, schema: str) -> None:
        self._resource = ("hub-resource", resource.encode())
        self._ops = {op: ("hub-op", op.encode()) for op in OPS}
        self._source = ("hub-source", source.encode())
        self._schema = ("hub-schema", schema.encode())

    def __call__(
        self, key: bytes, value: dict, event_time: datetime, op: str = "upsert"
    ) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        return key, orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), self.headers(event_time, op)

    def headers(self, event_time: datetime, op: str = "upsert") -> list[tuple[str, bytes]]:
        """The headers of one record (its value may be JSON built elsewhere, e.g. by the source's database)."""
        op_header = self._ops.get(op)
        if op_header is None:
            raise BadHeader(f"op {op!r} of resource {self._resource[1].decode()!r} is not one of {OPS}")
        if event_time.tzinfo is None:
            raise BadHeader(f"event time of resource {self._resource[1].decode()!r} must be timezone-aware")
        return [
            self._resource,
            op_header,
            ("hub-event-time", event_time.isoformat().encode()),
            self._source,
            self._schema,
        ]

    def headers_at(self, event_times: list[bytes]) -> list[list[tuple[str, bytes]]]:
        """The headers of many upserts, one per event time given as its header text (written by the
        source's database as `datetime.isoformat` would)."""
        resource, op, source, schema = self._resource, self._ops["upsert"], self._source, self._schema
        return [[resource, op, ("hub-event-time", text), source, schema] for text in event_times]


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


# --- a batch of headers as columns -----------------------------------------------------------------

_OPS = pa.array(OPS)
_UTC = pa.timestamp("us", "UTC")
Headers = Sequence[tuple[str, bytes | None]] | None  # as kafka-python and confluent-kafka hand them over


@dataclass(slots=True)
class HeaderColumns:
    """The hub headers of a batch of records, one list per header: raw bytes, None where absent.

    Fill it with `extend` (one call per poll batch), then `decode` it once per chunk.
    """

    resource: list = field(default_factory=list)
    op: list = field(default_factory=list)
    event_time: list = field(default_factory=list)
    source: list = field(default_factory=list)
    schema: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.op)

    def extend(self, batch: Iterable[Headers]) -> None:
        """Append the hub headers of each record's header list (None: a record without headers).

        The usual batch (every record's headers exactly as `encode` writes them) is split into the
        five columns by C-level passes (map/itemgetter), no Python per record; any other batch
        takes the record-by-record way, which also handles missing, repeated and reordered names."""
        batch = batch if isinstance(batch, list) else list(batch)
        if not batch:
            return
        columns = _in_encode_order(batch)
        if columns is None:
            self._extend_each(batch)
            return
        for target, values in zip((self.resource, self.op, self.event_time, self.source, self.schema), columns):
            target += values

    def _extend_each(self, batch: list[Headers]) -> None:
        resources, ops, times, sources, schemas = self.resource, self.op, self.event_time, self.source, self.schema
        for headers in batch:
            try:  # encode() writes the headers in this order; anything else takes the slow way
                if (
                    len(headers) != len(HEADERS)
                    or headers[0][0] != "hub-resource"
                    or headers[1][0] != "hub-op"
                    or headers[2][0] != "hub-event-time"
                    or headers[3][0] != "hub-source"
                    or headers[4][0] != "hub-schema"
                ):
                    raise IndexError
                resources.append(headers[0][1])
                ops.append(headers[1][1])
                times.append(headers[2][1])
                sources.append(headers[3][1])
                schemas.append(headers[4][1])
            except (IndexError, TypeError):
                named = dict(headers or ())  # the last of repeated names wins, as in decode_headers
                resources.append(named.get("hub-resource"))
                ops.append(named.get("hub-op"))
                times.append(named.get("hub-event-time"))
                sources.append(named.get("hub-source"))
                schemas.append(named.get("hub-schema"))

    def decode(self) -> "DecodedHeaders":
        """The headers as columns, with an EnvelopeError per record whose envelope is broken.

        hub-op and hub-event-time are required (a record cannot be placed without them); hub-source,
        hub-resource and hub-schema are null where absent. A header that is present must be UTF-8.
        The first problem of a record is its error, in the order op, event time, source, resource, schema.
        """
        errors: dict[int, EnvelopeError] = {}
        op = _text_column(self.op, "hub-op", errors, required=True)
        for index in _true_indices(pc.invert(pc.fill_null(pc.is_in(op, value_set=_OPS), False))):
            if index not in errors:
                errors[index] = BadHeader(f"hub-op {_clip(op[index].as_py())} is not upsert or delete")
        times = _text_column(self.event_time, "hub-event-time", errors, required=True)
        # The cast accepts only times with a zone (Z, +08:00, ...), which is what the envelope requires.
        event_time, bad = _cast_isolating(times, lambda a: a.cast(_UTC), _UTC)
        for index in bad:
            if index not in errors:
                errors[index] = BadHeader(
                    f"hub-event-time {_clip(times[index].as_py())} is not ISO-8601 with a UTC offset"
                )
        source = _text_column(self.source, "hub-source", errors, required=False)
        resources = _distinct_text(self.resource, "hub-resource", errors)
        schemas = _distinct_text(self.schema, "hub-schema", errors)
        return DecodedHeaders(op, event_time, source, errors, resources, schemas, self.resource, self.schema)


@dataclass(frozen=True, slots=True)
class DecodedHeaders:
    """A batch's hub headers decoded: Arrow columns aligned with the records (null where absent or
    broken), the envelope error of each record that has one (a consumer dead-letters those), and the
    distinct resources and schema fingerprints (a batch holds few; their columns are made on demand)."""

    op: pa.Array  # string: upsert | delete
    event_time: pa.Array  # timestamp[us, UTC]
    source: pa.Array  # string
    errors: dict[int, EnvelopeError]
    resources: frozenset[str]
    schemas: frozenset[str]  # the fingerprints the producers wrote under
    raw_resource: list = field(repr=False)
    raw_schema: list = field(repr=False)

    def resource(self) -> pa.Array:
        """hub-resource as a string column."""
        return _as_text_column(self.raw_resource, self.resources)

    def schema(self) -> pa.Array:
        """hub-schema as a string column."""
        return _as_text_column(self.raw_schema, self.schemas)


_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def _in_encode_order(batch: list[Headers]) -> list[list] | None:
    """The five header value columns when every record carries exactly the five hub headers in
    `encode`'s order (checked on the names, column by column), else None."""
    try:
        if set(map(len, batch)) != {len(HEADERS)}:
            return None
    except TypeError:  # a record without headers (None)
        return None
    columns = []
    try:
        for position, name in enumerate(HEADERS):
            pairs = list(map(itemgetter(position), batch))
            if set(map(_FIRST, pairs)) != {name}:
                return None
            columns.append(list(map(_SECOND, pairs)))
    except (IndexError, TypeError):  # a header that is not a (name, value) pair
        return None
    return columns


def decode_header_batch(batch: Iterable[Headers]) -> DecodedHeaders:
    """The hub headers of a batch of records (each a list of (name, bytes) or None) as columns."""
    columns = HeaderColumns()
    columns.extend(batch)
    return columns.decode()


def _distinct_text(values: list, name: str, errors: dict[int, EnvelopeError]) -> frozenset[str]:
    """The distinct values of an optional header as text; records whose value is not UTF-8 get an error.
    Checked per distinct value: a batch carries one resource and one or two fingerprints."""
    distinct, bad = set(), set()
    # Comparing to the first value is cheaper than hashing every one, and the usual answer.
    candidates = values[:1] if values and values.count(values[0]) == len(values) else set(values)
    for raw in candidates:
        if raw is None:
            continue
        try:
            distinct.add(bytes(raw).decode("utf-8"))
        except (UnicodeDecodeError, TypeError):
            bad.add(raw)
    if bad:
        for index, raw in enumerate(values):
            if raw in bad and index not in errors:
                errors[index] = BadHeader(f"header {name} is not UTF-8 text")
    return frozenset(distinct)


def _as_text_column(values: list, distinct: frozenset[str]) -> pa.Array:
    texts = {text.encode(): text for text in distinct}
    return pa.array([texts.get(bytes(raw)) if raw is not None else None for raw in values], pa.string())


def _text_column(values: list, name: str, errors: dict[int, EnvelopeError], *, required: bool) -> pa.Array:
    raw = pa.array(values, pa.binary())
    text, bad = _cast_isolating(raw, lambda a: a.cast(pa.string()), pa.string())
    for index in bad:
        if index not in errors:
            errors[index] = BadHeader(f"header {name} is not UTF-8 text")
    if required:
        for index in _true_indices(raw.is_null()):
            if index not in errors:
                errors[index] = MissingHeader(f"message lacks header {name}: was it produced through hub.envelope?")
    return text


def _cast_isolating(
    column: pa.Array, cast: Callable[[pa.Array], pa.Array], target: pa.DataType
) -> tuple[pa.Array, list[int]]:
    """cast(column), with nulls and their indices where single values fail (found by bisection)."""
    try:
        return cast(column), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        if len(column) <= 1:
            return pa.nulls(len(column), target), list(range(len(column)))
    middle = len(column) // 2
    left, left_bad = _cast_isolating(column.slice(0, middle), cast, target)
    right, right_bad = _cast_isolating(column.slice(middle), cast, target)
    return pa.concat_arrays([left, right]), left_bad + [middle + i for i in right_bad]


def _true_indices(mask: pa.Array) -> list[int]:
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return []
    return pc.indices_nonzero(mask).to_pylist()


def _clip(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
