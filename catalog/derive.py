"""Everything derived from a catalogue entry, one function each: Arrow schema, Kafka topics,
DuckDB table names, key columns, PII columns (and the schema fingerprint the envelope carries).

Each function accepts the seed model (`catalog.spec.Resource`) and the ORM row
(`catalog.models.Resource`) alike: both have `id` and `items` with name / type / length /
nullable / key / pii.

Type mapping (information item letter → Arrow), decided here and nowhere else:
  C 字符 → string        D 日期 → date32          T 日期时间 → timestamp[us, tz=Asia/Shanghai]
  L 逻辑 → bool          I 整型 → int64           F 浮点, B 双精度 → float64
  N 数值 → float64: the catalogue gives a length but no scale, the sources send JSON numbers and
    the values (money, meter readings, coordinates) stay well inside float64's 15 significant
    digits; a mart that needs exact decimals casts there.
Envelope columns, appended after the items in this order, carry what the Kafka message said
about the record (see hub.envelope): _event_time, _op, _source, _partition, _offset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple, Protocol

import pyarrow as pa

from hub.timezone import LOCAL_TZ_NAME
from hub.topics import dlq_topic, raw_topic

LOCAL_TZ = LOCAL_TZ_NAME  # Arrow timestamps carry the zone by name (hub/timezone.py)

ITEM_ARROW_TYPES: dict[str, pa.DataType] = {
    "C": pa.string(),
    "N": pa.float64(),
    "D": pa.date32(),
    "T": pa.timestamp("us", tz=LOCAL_TZ),
    "L": pa.bool_(),
    "I": pa.int64(),
    "F": pa.float64(),
    "B": pa.float64(),
}

ENVELOPE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("_event_time", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_op", pa.string(), nullable=False),  # upsert | delete
    pa.field("_source", pa.string(), nullable=True),
    pa.field("_partition", pa.int32(), nullable=False),
    pa.field("_offset", pa.int64(), nullable=False),
)
ENVELOPE_COLUMNS: tuple[str, ...] = tuple(f.name for f in ENVELOPE_FIELDS)

RAW_SCHEMA = "raw"
STAGING_SCHEMA = "staging"


class ItemLike(Protocol):
    name: str
    type: str
    length: int | None
    nullable: bool
    key: bool
    pii: str


class ResourceLike(Protocol):
    id: str

    @property
    def items(self) -> Iterable[ItemLike]: ...


class TableNames(NamedTuple):
    """Schema-qualified DuckDB names; `quoted()` gives them ready for SQL text."""

    raw: str
    staging: str


class UnknownItemType(ValueError):
    pass


def arrow_type(item: ItemLike) -> pa.DataType:
    try:
        return ITEM_ARROW_TYPES[item.type]
    except KeyError:
        raise UnknownItemType(
            f"information item {item.name!r} has type {item.type!r}; use one of {sorted(ITEM_ARROW_TYPES)}"
        ) from None


def arrow_schema(resource: ResourceLike, *, envelope: bool = True) -> pa.Schema:
    """The Arrow schema of the resource's records: its items in catalogue order, then the envelope.

    Key columns are never null whatever the entry says (they are the Kafka key and the dedup key).
    Field metadata carries the Chinese label, the PII kind and the key flag for readers of the Parquet.
    """
    fields = [
        pa.field(
            item.name,
            arrow_type(item),
            nullable=bool(item.nullable) and not item.key,
            metadata={
                "label": getattr(item, "label", "") or "",
                "pii": item.pii or "none",
                "key": "1" if item.key else "0",
            },
        )
        for item in resource.items
    ]
    if envelope:
        fields.extend(ENVELOPE_FIELDS)
    metadata = {"hub.resource": resource.id, "hub.schema": schema_fingerprint(resource)}
    return pa.schema(fields, metadata=metadata)


def topics(resource: ResourceLike) -> tuple[str, str]:
    """(raw topic, dead-letter topic) of the resource."""
    return raw_topic(resource.id), dlq_topic(resource.id)


def table_names(resource: ResourceLike) -> TableNames:
    """raw.<id> (every landed record) and staging.<id> (current state per key) in DuckDB."""
    return TableNames(raw=f"{RAW_SCHEMA}.{resource.id}", staging=f"{STAGING_SCHEMA}.{resource.id}")


def quoted(qualified: str) -> str:
    """'raw.x' → '"raw"."x"' (identifiers quoted, embedded quotes doubled)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in qualified.split("."))


def key_columns(resource: ResourceLike) -> tuple[str, ...]:
    """The business key: the items marked key, in catalogue order."""
    return tuple(item.name for item in resource.items if item.key)


def pii_columns(resource: ResourceLike) -> dict[str, str]:
    """Column → PII kind (id_number, name, phone, …) for the items that need masking."""
    return {item.name: item.pii for item in resource.items if item.pii and item.pii != "none"}


def schema_fingerprint(resource: ResourceLike) -> str:
    """A short hash of the record shape (names, types, lengths, nullability, keys).

    Connectors put it in the `hub-schema` header; landing compares it with the catalogue's to
    notice a source whose shape drifted. Labels and rules do not change the shape, so they are left out.
    """
    parts = [
        f"{item.name}:{item.type}:{item.length or ''}:{int(bool(item.nullable))}:{int(bool(item.key))}"
        for item in resource.items
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
