"""Source rows → hub records: values conformed to the catalogue's items, the business key, the
event time, and the DLQ message for rows that cannot become records.

Conforming is deliberately lenient about *content* (a date in the wrong format stays a string;
quality rules judge it) and strict about *shape*: a value that cannot have the item's type at
all ("abc" for a number) makes the row unreadable — it goes to the DLQ with that reason.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

import orjson

from catalog.derive import key_columns, schema_fingerprint
from connectors.base import Conformed, SourceItem, SourceRecord, Unreadable, event_time_item, parse_time
from connectors.errors import UnreadableRow
from connectors.kinds.sqlite_text import BadText, portable_json
from hub import clock
from hub.envelope import Encoder

TRUE_TEXTS = {"1", "true", "t", "y", "yes", "是"}
FALSE_TEXTS = {"0", "false", "f", "n", "no", "否"}
MAX_REASON_HEADER = 1000


def _number_text(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _fail(item, value, expected: str):
    raise UnreadableRow(
        f"item {item.name} ({item.label}, type {item.type}) expects {expected}, got {str(value)[:80]!r}"
    )


def _as_text(item, value):
    if isinstance(value, BadText):
        raise UnreadableRow(
            f"item {item.name} ({item.label}) is not valid UTF-8 text ({value.problem()}): "
            f"the source wrote another encoding (GBK?) into a UTF-8 column"
        )
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, Decimal)):
        return _number_text(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableRow(
                f"item {item.name} ({item.label}) holds bytes that are not UTF-8 text (byte "
                f"0x{exc.object[exc.start]:02x} at {exc.start}): another encoding (GBK?) or binary data"
            ) from None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    _fail(item, value, "text")


def _as_float(item, value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            pass
    _fail(item, value, "a number")


def _as_int(item, value):
    number = _as_float(item, value)
    if number is None or isinstance(number, int):
        return number
    if number.is_integer():
        return int(number)
    _fail(item, value, "an integer")


def _as_bool(item, value):
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_TEXTS | FALSE_TEXTS:
        return value.strip().lower() in TRUE_TEXTS
    _fail(item, value, "a logical value (1/0, true/false)")


# Item type → (the Python types passed through untouched, the converter for anything else).
_CONFORM: dict[str, tuple[tuple[type, ...], Callable]] = {
    "C": ((str,), _as_text),
    "D": ((str,), _as_text),
    "T": ((str,), _as_text),
    "N": ((float, int), _as_float),
    "F": ((float, int), _as_float),
    "B": ((float, int), _as_float),
    "I": ((int,), _as_int),
    "L": ((bool,), _as_bool),
}


class RecordBuilder:
    """Builds the envelope of one resource's records; `encode(item)` raises UnreadableRow."""

    def __init__(self, resource, source_label: str):
        self.resource_id = resource.id
        self.source_label = source_label
        self.schema = schema_fingerprint(resource)
        self.keys = key_columns(resource)
        self.plan = []
        for item in resource.items:
            passthrough, convert = _CONFORM.get(item.type, ((str,), _as_text))
            self.plan.append((item.name, item, passthrough, convert))
        self.event_item = event_time_item(resource)
        self._envelope = Encoder(resource.id, source_label, self.schema)

    def conform(self, raw: dict) -> dict:
        value = {}
        for name, item, passthrough, convert in self.plan:
            found = raw.get(name)
            # Exact type test: bool is an int subclass, and True must not pass as a number.
            if found is None or type(found) in passthrough:
                value[name] = found
            else:
                value[name] = convert(item, found)
        return value

    def key(self, value: dict) -> bytes:
        if not self.keys:  # no declared key: the content is the identity (exact duplicates collapse)
            return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest().encode()
        parts = []
        for name in self.keys:
            part = value.get(name)
            if part is None or part == "":
                raise UnreadableRow(f"key item {name} is empty: the record cannot be keyed")
            parts.append(part if isinstance(part, str) else _number_text(part))
        return "|".join(parts).encode()

    def event_time(self, value: dict, item: SourceRecord) -> datetime:
        return _row_time(value.get(self.event_item) if self.event_item else None, item.event_time)

    def encode(self, item: SourceRecord) -> tuple[bytes, bytes, list]:
        """(key, value, headers) of one source row; raises UnreadableRow."""
        value = self.conform(item.value)
        return self._envelope(self.key(value), value, self.event_time(value, item), item.op)

    def encode_conformed(self, item: Conformed) -> list[tuple[bytes, bytes, list]]:
        """(key, value, headers) of rows the source conformed itself (`connectors.base.Conformed`)."""
        times = item.event_times
        if b"" in times:  # rows whose event time the source left to Python
            times = [text or _row_time(*item.times_of(n)).isoformat().encode() for n, text in enumerate(times)]
        return list(zip(item.keys, item.values, self._envelope.headers_at(times), strict=True))

    def messages(self, items: Iterable[SourceItem]) -> Iterator[tuple[bytes, bytes, list] | UnreadableRow]:
        """What the runner sends for each item a source read, in order: (key, value, headers), or the
        UnreadableRow of a row it sends to the DLQ. For tools and checks; the runner has its own loop."""
        for item in items:
            kind = type(item)
            if kind is Conformed:
                yield from self.encode_conformed(item)
            elif kind is SourceRecord:
                try:
                    yield self.encode(item)
                except UnreadableRow as exc:
                    yield exc
            elif kind is Unreadable:
                yield UnreadableRow(item.reason)

    def dlq_message(self, raw, reason: str) -> tuple[bytes, bytes, list]:
        """(key, value, headers) of a DLQ message carrying the raw row (text, or base64 if not UTF-8)."""
        text, encoding = raw_as_text(raw)
        value = orjson.dumps(
            {
                "resource": self.resource_id,
                "source": self.source_label,
                "stage": "connector",
                "reason": reason,
                "raw": text,
                "raw_encoding": encoding,
                "at": clock.now().isoformat(),
            }
        )
        headers = [
            ("hub-dlq-reason", reason[:MAX_REASON_HEADER].encode()),
            ("hub-dlq-stage", b"connector"),
            ("hub-resource", self.resource_id.encode()),
            ("hub-source", self.source_label.encode()),
            ("hub-dlq-encoding", encoding.encode()),
        ]
        return self.source_label.encode(), value, headers


def _row_time(event, changed) -> datetime:
    """A record's event time: its event-time item's value if that is a time, else the source's change
    time, else now."""
    return (event is not None and parse_time(event)) or parse_time(changed) or clock.now()


def raw_as_text(raw) -> tuple[str, str]:
    """(text, "utf-8") when the raw row is text, else (base64, "base64")."""
    if isinstance(raw, str):
        return raw, "utf-8"
    if isinstance(raw, dict):
        return portable_json(raw), "utf-8"
    data = bytes(raw)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), "base64"
