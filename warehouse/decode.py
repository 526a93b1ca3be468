"""Bulk decoding of Kafka values (UTF-8 JSON objects) into Arrow columns of a catalogue schema.

The fast path joins the values of a chunk with b"\\n" and parses that NDJSON in one
`pyarrow.json.read_json` call against an explicit schema, then casts dates and times column by
column. Only what fails is narrowed down: a failing parse is retried in sub-batches and, inside a
failing sub-batch, record by record with orjson; a failing cast is bisected to the bad values.
Before a cast, what a stated rule repairs is repaired (mixed date formats: `date_iso`; times at UTC:
`timestamp_to_local`), and only on the values that need it, so clean columns pay one cheap check.
Every function returns data aligned with its input (rejected rows hold nulls) plus
`{index: reason}` for the rows to send to the dead-letter topic.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from catalog.derive import LOCAL_TZ
from hub.envelope import DecodedHeaders
from quality.normalise import NORMALISERS

Rejects = dict[int, str]
Repairs = dict[str, list[int]]  # normaliser name → indices of the rows it repaired

MAX_RECORD_BYTES = 1 << 20  # Kafka's default message size limit: bigger values are refused, not parsed
SUB_BATCH = 1024
_BLOCK_SIZE = 2 << 20  # must exceed the longest line; MAX_RECORD_BYTES guarantees that
# A time with a zone: ...T08:00[:00[.123]] followed by Z, +08, +0800 or +08:00.
_ZONED = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_ISO_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_LOCAL_OFFSET = "+08:00"  # how the sources write Shunde time; anything else is checked for UTC
_JSON_TYPES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
    type(None): "null",
}


def parse_schema(items: pa.Schema) -> pa.Schema:
    """The schema the JSON reader parses into: dates and times stay strings (cast afterwards)."""
    return pa.schema([pa.field(f.name, pa.string() if _is_temporal(f.type) else f.type) for f in items])


def decode_values(
    values: Sequence[bytes | None], items: pa.Schema, *, max_record_bytes: int = MAX_RECORD_BYTES
) -> tuple[pa.Table, Rejects, Repairs]:
    """The values as a table of `items` (the catalogue columns), aligned with `values`; the rows
    to reject with their reasons; the rows each normaliser repaired."""
    rejects, slow = _screen(values, max_record_bytes)
    parsing = parse_schema(items)
    lines = _with_placeholders(values, rejects.keys() | slow)
    data = b"\n".join(lines)
    # A raw line break inside a value would shift every later row: such values go the slow way.
    if data.count(b"\n") != len(lines) - 1 or b"\r" in data:
        broken = {i for i, v in enumerate(lines) if b"\n" in v or b"\r" in v}
        slow |= broken
        lines = _with_placeholders(lines, broken)
        data = b"\n".join(lines)
    parsed, failed = _parse_fast(lines, data, parsing)
    slow = (slow | failed | _bad_utf8_rows(parsed)) - rejects.keys()
    if slow:
        parsed = _patch_rows(parsed, sorted(slow), values, parsing, rejects)
    table, cast_rejects, repairs = cast_items(parsed, items)
    for index, reason in cast_rejects.items():
        rejects.setdefault(index, reason)
    return table, rejects, repairs


def _with_placeholders(values: Sequence[bytes | None], indices) -> Sequence[bytes]:
    """`values` with an empty object in place of each of `indices` (keeps the rows aligned)."""
    if not indices:
        return values
    return [b"{}" if i in indices else v for i, v in enumerate(values)]


def _screen(values: Sequence[bytes | None], max_bytes: int) -> tuple[Rejects, set[int]]:
    """Rejects (no value, too big) and the rows the NDJSON fast path cannot take, found in Arrow.

    Why the shape check: the reader turns a bare `null` line into a row of nulls (and crashes the
    process on one at the start of its input), so only values that look like {...} go the fast way.
    """
    raw = pa.array(values, pa.binary())
    fits = pc.and_(
        pc.and_(pc.starts_with(raw, pattern="{"), pc.ends_with(raw, pattern="}")),
        pc.less_equal(pc.binary_length(raw), max_bytes),
    )
    rejects: Rejects = {}
    slow = set()
    for index in _true_indices(pc.invert(pc.fill_null(fits, False))):  # only the odd rows: Python from here
        value = values[index]
        if value is None:
            rejects[index] = "message has no value (a tombstone is not a hub record)"
        elif len(value) > max_bytes:
            rejects[index] = f"value of {len(value):,} bytes exceeds the landing limit of {max_bytes:,} bytes"
        else:
            slow.add(index)
    return rejects, slow


def _bad_utf8_rows(table: pa.Table) -> set[int]:
    """Rows with a string that is not UTF-8 (the JSON reader does not check; Arrow's validation does)."""

    def valid(array: pa.Array) -> pa.Array:
        array.validate(full=True)
        return array

    bad: set[int] = set()
    for column in table.columns:
        if pa.types.is_string(column.type):
            bad.update(cast_isolating(column.combine_chunks(), valid, column.type)[1])
    return bad


def _parse_fast(lines: Sequence[bytes], data: bytes, parsing: pa.Schema) -> tuple[pa.Table, set[int]]:
    """One read_json call on `data` (the joined lines); if it fails, sub-batches, and the rows of
    a failing sub-batch are returned as failed."""
    table = _read_ndjson(len(lines), data, parsing)
    if table is not None:
        return table, set()
    parts, failed = [], set()
    for start in range(0, len(lines), SUB_BATCH):
        batch = lines[start : start + SUB_BATCH]
        part = _read_ndjson(len(batch), b"\n".join(batch), parsing)
        if part is None:
            failed.update(range(start, start + len(batch)))
            part = _null_table(parsing, len(batch))
        parts.append(part)
    return pa.concat_tables(parts), failed


def _read_ndjson(count: int, data: bytes, parsing: pa.Schema) -> pa.Table | None:
    """`count` NDJSON lines parsed in one call, or None if any fails or the row count comes out wrong."""
    if not count:
        return _null_table(parsing, 0)
    try:
        table = pj.read_json(
            io.BytesIO(data),
            # Landing parses polls on its decoder threads side by side: Arrow's pool would only add
            # hand-overs (measured: 135 k → 145 k rec/s through land() without it).
            read_options=pj.ReadOptions(block_size=_BLOCK_SIZE, use_threads=False),
            parse_options=pj.ParseOptions(
                explicit_schema=parsing, unexpected_field_behavior="ignore", newlines_in_values=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != count:  # two objects on one line, say
        return None
    return table.select(parsing.names).combine_chunks()


def _patch_rows(
    parsed: pa.Table, indices: list[int], values: Sequence[bytes], parsing: pa.Schema, rejects: Rejects
) -> pa.Table:
    """Decode `indices` one by one with orjson and put the good ones in place of their placeholder."""
    checks = [(f.name, _type_check(f.type)) for f in parsing]
    rows = []
    for index in indices:
        row = decode_one(values[index], checks)
        if isinstance(row, str):
            rejects.setdefault(index, row)
            row = {}
        rows.append(row)
    patch = pa.Table.from_pylist(rows, schema=parsing)
    positions = list(range(parsed.num_rows))
    for j, index in enumerate(indices):
        positions[index] = parsed.num_rows + j
    return pa.concat_tables([parsed, patch]).take(pa.array(positions, pa.int64())).combine_chunks()


def decode_one(value: bytes, checks: list[tuple[str, tuple[Callable[[object], bool], str]]]) -> dict | str:
    """One value as a dict of the checked fields, or the reason it cannot be one."""
    try:
        text = bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"value is not UTF-8 (byte {exc.start}: {exc.reason})"
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return f"value is not JSON: {exc}"
    if not isinstance(parsed, dict):
        return f"value is JSON {_JSON_TYPES.get(type(parsed), type(parsed).__name__)}, expected an object"
    row = {}
    for name, (check, expected) in checks:
        item = parsed.get(name)
        if item is not None and not check(item):
            return (
                f"item {name}: {_JSON_TYPES.get(type(item), type(item).__name__)} {_clip(item)} does not fit {expected}"
            )
        row[name] = item
    return row


_CHECKS = {  # what the Arrow JSON reader accepts for each type, as a test of a parsed JSON value
    "integer": (lambda v: type(v) is int and -(1 << 63) <= v < (1 << 63), "an integer item (64-bit JSON integer)"),
    "number": (lambda v: type(v) in (int, float), "a numeric item (JSON number)"),
    "boolean": (lambda v: type(v) is bool, "a logical item (true/false)"),
    "string": (lambda v: type(v) is str, "a string item"),
}


def _type_check(arrow_type: pa.DataType) -> tuple[Callable[[object], bool], str]:
    if pa.types.is_integer(arrow_type):
        return _CHECKS["integer"]
    if pa.types.is_floating(arrow_type):
        return _CHECKS["number"]
    if pa.types.is_boolean(arrow_type):
        return _CHECKS["boolean"]
    return _CHECKS["string"]


# --- casts to the catalogue types ----------------------------------------------------------


def cast_items(parsed: pa.Table, items: pa.Schema) -> tuple[pa.Table, Rejects, Repairs]:
    """Cast date/time strings to the catalogue types after the repairs a stated rule allows;
    values still unparsable become nulls + rejects (the reason quotes the value as sent)."""
    rejects: Rejects = {}
    repairs: Repairs = {}
    columns = []
    for field in items:
        column = (
            parsed.column(field.name).combine_chunks()
            if parsed.num_rows
            else pa.array([], parsed.schema.field(field.name).type)
        )
        if column.type != field.type:  # dates and times, parsed as strings
            sent = column
            column, bad, repaired = cast_temporal(column, field.type)
            for name, rows in repaired.items():
                repairs.setdefault(name, []).extend(rows)
            for index in bad:
                rejects.setdefault(
                    index, f"item {field.name}: {_clip(sent[index].as_py())} is not a {_type_name(field.type)}"
                )
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=items), rejects, repairs


def cast_temporal(strings: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[int], Repairs]:
    """Date/time strings cast to `target` (date32 or timestamp), with the failing indices and the
    repaired rows. Dates are repaired (`date_iso`) only when the bulk cast fails, and then only the
    values not already YYYY-MM-DD; times only where they do not end in +08:00 (`timestamp_to_local`:
    the instant stays, but a source writing UTC is a defect to count)."""
    caster = _caster(target)
    if pa.types.is_timestamp(target):
        strings, repaired = _repair(strings, "timestamp_to_local", pc.invert(pc.ends_with(strings, _LOCAL_OFFSET)))
    else:
        try:
            return caster(strings), [], {}
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        strings, repaired = _repair(strings, "date_iso", pc.invert(pc.match_substring_regex(strings, _ISO_DAY)))
    cast, bad = cast_isolating(strings, caster, target)
    return cast, bad, repaired


def _repair(strings: pa.Array, name: str, suspects: pa.Array) -> tuple[pa.Array, Repairs]:
    """`strings` with the normaliser `name` run over the `suspects` rows only, and the rows it changed."""
    suspects = pc.fill_null(suspects, False)
    if not pc.any(suspects).as_py():
        return strings, {}
    subset = strings.filter(suspects)
    fixed, count = NORMALISERS[name].vectorised(subset)
    if not count:
        return strings, {}
    changed = pc.indices_nonzero(pc.fill_null(pc.not_equal(subset, fixed), False))
    rows = pc.indices_nonzero(suspects).take(changed)
    return pc.replace_with_mask(strings, suspects, fixed), {name: rows.to_pylist()}


def _type_name(arrow_type: pa.DataType) -> str:
    if pa.types.is_date(arrow_type):
        return "date (YYYY-MM-DD)"
    if pa.types.is_timestamp(arrow_type):
        return "date-time (ISO-8601, e.g. 2026-01-05T08:00:00+08:00)"
    return str(arrow_type)


def required_nulls(table: pa.Table, items: pa.Schema, keys: Sequence[str], op: pa.Array) -> Rejects:
    """Rows where a key, or a required item of an upsert, is null (a delete needs only its key)."""
    rejects: Rejects = {}
    upsert = pc.fill_null(pc.equal(op, "upsert"), True)
    for field in items:
        if field.nullable and field.name not in keys:
            continue
        missing = table.column(field.name).is_null()
        if field.name not in keys:
            missing = pc.and_(missing, upsert)
        what = "key item" if field.name in keys else "required item"
        for index in _true_indices(missing):
            rejects.setdefault(index, f"{what} {field.name} is null or missing")
    return rejects


def _caster(target: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    if pa.types.is_timestamp(target):
        return lambda strings: local_timestamps(strings).cast(target)
    return lambda strings: strings.cast(target)


def local_timestamps(strings: pa.Array) -> pa.Array:
    """ISO-8601 strings as UTC instants: zoned ones as given, naive ones read as Shanghai wall time."""
    utc = pa.timestamp("us", "UTC")
    try:
        return strings.cast(utc)  # the usual case: every value carries its zone
    except pa.ArrowInvalid:
        pass
    zoned = pc.fill_null(pc.match_substring_regex(strings, _ZONED), False)
    zoned_count = pc.sum(zoned).as_py() or 0
    none = pa.scalar(None, strings.type)
    naive = pc.assume_timezone(pc.if_else(zoned, none, strings).cast(pa.timestamp("us")), LOCAL_TZ).cast(utc)
    if zoned_count == 0:
        return naive
    return pc.if_else(zoned, pc.if_else(zoned, strings, none).cast(utc), naive)


def cast_isolating(
    column: pa.Array, cast: Callable[[pa.Array], pa.Array], target: pa.DataType
) -> tuple[pa.Array, list[int]]:
    """cast(column), with nulls and their indices where single values fail (found by bisection)."""
    try:
        return cast(column), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        if len(column) <= 1:
            return pa.nulls(len(column), target), list(range(len(column)))
    middle = len(column) // 2
    left, left_bad = cast_isolating(column.slice(0, middle), cast, target)
    right, right_bad = cast_isolating(column.slice(middle), cast, target)
    return pa.concat_arrays([left, right]), left_bad + [middle + i for i in right_bad]


# --- the envelope (Kafka headers) as columns -----------------------------------------------


def envelope_columns(
    headers: DecodedHeaders, partition: int, offsets: Sequence[int]
) -> tuple[dict[str, pa.Array], Rejects]:
    """_event_time, _op, _source, _partition, _offset of each record, and the records whose envelope
    (hub.envelope's batch decoder) is broken, with the reason."""
    columns = {
        "_event_time": headers.event_time,
        "_op": headers.op,
        "_source": headers.source,
        "_partition": pa.array([partition] * len(offsets), pa.int32()),
        "_offset": pa.array(offsets, pa.int64()),
    }
    return columns, {index: str(error) for index, error in headers.errors.items()}


# --- small helpers -------------------------------------------------------------------------


def _is_temporal(arrow_type: pa.DataType) -> bool:
    return pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type)


def _true_indices(mask: pa.Array) -> list[int]:
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return []
    return pc.indices_nonzero(mask).to_pylist()


def _null_table(schema: pa.Schema, rows: int) -> pa.Table:
    return pa.Table.from_arrays([pa.nulls(rows, f.type) for f in schema], schema=schema)


def _clip(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def undeclared_fields(sample: Sequence[bytes | None], declared: Sequence[str]) -> set[str]:
    """Top-level fields of the sampled values that the catalogue does not declare."""
    names = set(declared)
    found: set[str] = set()
    for value in sample:
        try:
            parsed = orjson.loads(value) if value is not None else None
        except orjson.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            found.update(k for k in parsed if k not in names)
    return found
