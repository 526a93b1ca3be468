"""一数一源: the daily check of every holder of a base item against its authoritative source (数源).

For each base item the catalogue declares (catalog.shared_items), every other holder's staged value
is compared with the 数源's on the subject's key (a resident ID, a credit code), after the same
normalisation the gate repairs with (quality.normalise: GBK mojibake, full-width characters) and
with all white space dropped. A value that is missing or damaged beyond repair (U+FFFD, "?", an
invalid mobile) is a quality finding, not a conflict: that key is not compared for that item.

Per base item and holder: keys compared, keys in conflict, the rate; aggregated per department and
overall. The figures go to one JSON file per computation in HUB_SOURCE_CONFLICTS_DIR, which the
catalogue's coverage document reads (catalog/conflicts.py) — they name no person or enterprise. The
conflicting keys (a bounded sample per holder) are kept apart, in `samples/`, for
warehouse.access.conflict_samples to show to those allowed to read the rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from catalog.shared_items import Holder, holders, subject_of
from hub import clock
from hub.files import newest_json_at, stamp_name, write_atomic
from hub.settings import get_settings
from quality.normalise import RESIDENT_ID_REPAIRS, get_normaliser
from quality.rules import mobile_mask
from quality.text import intact_text_mask
from warehouse import lake, store

DEFINITION_VERSION = "conflicts-2026.1"
SAMPLE_KEYS = 20  # conflicting keys kept per holder and item
KEEP_FILES = 500
BATCH_ROWS = 250_000  # rows normalised at a time
#: White space as Python's `\s` knows it (RE2's `\s` is ASCII only): dropped before comparing.
_SPACE = r"[\s\x0b\x1c-\x1f\x{85}\pZ]+"
_KEY_REPAIRS = {"人口": RESIDENT_ID_REPAIRS, "法人": ("halfwidth",)}


def conflicts_dir() -> Path:
    return get_settings().source_conflicts_dir


# --- the comparison (pure) ------------------------------------------------------------------------


def comparable_values(values, kind: str = "text") -> pa.Array:
    """The values as compared (a string array); null where one cannot be (missing, or damaged beyond
    repair). Vectorised: the repairs, white space and the intact-text and mobile checks run in Arrow."""
    text = _as_text(values)
    for name in ("mojibake_gbk", "halfwidth"):
        text = get_normaliser(name).vectorised(text)[0]
    text = _without_space(text)
    usable = intact_text_mask(text) & pc.fill_null(pc.greater(pc.utf8_length(text), 0), False).to_numpy(
        zero_copy_only=False
    )
    if kind == "mobile":
        for prefix in ("+86", "86"):
            strip = pc.and_(pc.greater(pc.utf8_length(text), 11), pc.starts_with(text, prefix))
            text = pc.if_else(strip, pc.utf8_slice_codeunits(text, len(prefix)), text)
        usable &= mobile_mask(text)
    return pc.if_else(pa.array(usable), text, pa.nulls(len(text), pa.string()))


def subject_keys(values, subject: str) -> pa.Array:
    """The subjects' keys as joined on: repaired as the gate repairs them, upper case; null when empty."""
    text = _as_text(values)
    for name in _KEY_REPAIRS[subject]:
        text = get_normaliser(name).vectorised(text)[0]
    text = pc.utf8_upper(_without_space(text))
    return pc.if_else(pc.equal(text, ""), pa.nulls(len(text), pa.string()), text)


def comparable(value, kind: str = "text") -> str | None:
    """One value as compared, or None (see comparable_values)."""
    return comparable_values([value], kind)[0].as_py()


def subject_key(value, subject: str) -> str | None:
    """One subject's key as joined on, or None (see subject_keys)."""
    return subject_keys([value], subject)[0].as_py()


def _as_text(values) -> pa.StringArray:
    """Any column as strings, as str() writes them; None stays null."""
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = pa.array([None if v is None else str(v) for v in values], pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values if values.type == pa.string() else pc.cast(values, pa.string())


def _without_space(text: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(text, _SPACE, "")


Rows = pa.Table | pa.RecordBatchReader  # two columns: the subject's key, the item's value


@dataclass(frozen=True)
class Comparison:
    compared: int
    conflicting: list[str]  # every key whose holder value differs from the 数源's, sorted

    @property
    def rate(self) -> float:
        return round(len(self.conflicting) / self.compared, 6) if self.compared else 0.0


def compare(authoritative: Rows, holder: Rows, *, subject: str, kind: str = "text") -> Comparison:
    """Compare a holder's (key, value) columns with the 数源's. A key is compared when both hold a
    usable value for it (a 数源 key with two different values is ambiguous and left out); it
    conflicts when any of the holder's values differs from the 数源's. The sets are DuckDB's, in
    bounded memory."""
    scratch = store.connect_scratch()
    try:
        scratch.register("truth", _usable(authoritative, subject, kind))
        scratch.register("held", _usable(holder, subject, kind))
        [(compared, conflicting)] = scratch.execute("""
            WITH single AS (
                SELECT key, min(value) AS truth FROM truth GROUP BY key HAVING min(value) = max(value))
            SELECT count(DISTINCT key), coalesce(list(DISTINCT key ORDER BY key) FILTER (value <> truth), [])
            FROM held JOIN single USING (key)""").fetchall()
    finally:
        scratch.close()
    return Comparison(compared, conflicting)


def _usable(rows: Rows, subject: str, kind: str) -> pa.Table:
    """(key, value), normalised, without the rows that cannot be compared. Normalised a batch at a
    time: the repairs' working copies stay the size of a batch, not of the resource."""
    parts = [pa.table({"key": pa.array([], pa.string()), "value": pa.array([], pa.string())})]
    batches = rows.to_batches(max_chunksize=BATCH_ROWS) if isinstance(rows, pa.Table) else rows
    for batch in batches:
        keys, values = subject_keys(batch.column(0), subject), comparable_values(batch.column(1), kind)
        parts.append(pa.table({"key": keys, "value": values}).filter(pc.and_(pc.is_valid(keys), pc.is_valid(values))))
    return pa.concat_tables(parts)


# --- over staging -----------------------------------------------------------------------------------


def _staged(connection) -> set[str]:
    query = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'"
    return {name for (name,) in connection.execute(query).fetchall()}


def _rows(connection, resource_id: str, key: str, item: str) -> pa.RecordBatchReader:
    quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in (key, item))
    table = '"staging"."' + resource_id.replace('"', '""') + '"'
    return (
        connection.cursor().sql(f"SELECT {quoted} FROM {table}").to_arrow_reader(BATCH_ROWS)
    )  # one each: both stay open


def _kind(resources: dict, holder: Holder) -> str:
    item = next(i for i in resources[holder.resource_id].items if i.name == holder.item)
    rules = item.rules if isinstance(item.rules, dict) else item.rules.model_dump()
    return "mobile" if rules.get("validator") == "mobile" else "text"


def compute(as_of: datetime | None = None, catalogue=None) -> tuple[dict, dict]:
    """(figures, samples) at `as_of` (default now) from the current warehouse: the figures name no
    subject; the samples hold up to SAMPLE_KEYS conflicting keys per holder and item."""
    moment = as_of or clock.now()
    resources = {resource.id: resource for resource in lake.catalogue_resources(catalogue)}
    rows, samples = [], []
    connection = store.connect_reader()
    try:
        staged = _staged(connection)
        for base_item, found in sorted(holders(resources.values()).items()):
            source = found[0] if found and found[0].authoritative else None
            for holder in found:
                if holder.authoritative or source is None:
                    continue
                row = _row(base_item, holder, source)
                if {holder.resource_id, source.resource_id} <= staged:
                    result = compare(
                        _rows(connection, source.resource_id, source.key, source.item),
                        _rows(connection, holder.resource_id, holder.key, holder.item),
                        subject=subject_of(base_item),
                        kind=_kind(resources, source),
                    )
                    row |= {"status": "compared", "compared": result.compared, "conflicts": len(result.conflicting)}
                    row["rate"] = result.rate
                    keys = {"key_item": holder.key, "authoritative_key_item": source.key}
                    samples.append({**_sample_of(row), **keys, "keys": result.conflicting[:SAMPLE_KEYS]})
                rows.append(row)
    finally:
        connection.close()
    figures = {
        "definition_version": DEFINITION_VERSION,
        "computed_at": moment.isoformat(),
        "overall": _total(rows),
        "by_department": [
            {"department": department, **_total(part)} for department, part in _grouped(rows, "department")
        ],
        "by_item": [{"base_item": base_item, **_total(part)} for base_item, part in _grouped(rows, "base_item")],
        "rows": rows,
    }
    return figures, {"computed_at": figures["computed_at"], "samples": samples}


def _row(base_item: str, holder: Holder, source: Holder) -> dict:
    return {
        "base_item": base_item,
        "department": holder.department_id,
        "resource": holder.resource_id,
        "item": holder.item,
        "authoritative_department": source.department_id,
        "authoritative_resource": source.resource_id,
        "authoritative_item": source.item,
        "status": "not staged",  # the holder or the 数源 has no rows in staging yet
        "compared": 0,
        "conflicts": 0,
        "rate": 0.0,
    }


def _sample_of(row: dict) -> dict:
    names = ("base_item", "resource", "item", "authoritative_resource", "authoritative_item")
    return {name: row[name] for name in names}


def _total(rows: list[dict]) -> dict:
    compared, conflicts = sum(r["compared"] for r in rows), sum(r["conflicts"] for r in rows)
    return {"compared": compared, "conflicts": conflicts, "rate": round(conflicts / compared, 6) if compared else 0.0}


def _grouped(rows: list[dict], field: str) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row[field]].append(row)
    return sorted(groups.items(), key=lambda pair: (-_total(pair[1])["rate"], pair[0]))


# --- kept for the catalogue and the access layer ------------------------------------------------------


def write(figures: dict, samples: dict) -> Path:
    """Keep one computation (file named by its time; the oldest beyond KEEP_FILES go) and its samples."""
    folder = conflicts_dir()
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    moment = datetime.fromisoformat(figures["computed_at"])
    name = stamp_name(moment)
    # The keys identify people: the samples file is its owner's only (the access layer reads it).
    sample_path = write_atomic(folder / "samples" / name, json.dumps(samples, ensure_ascii=False).encode())
    sample_path.chmod(0o600)
    path = write_atomic(folder / name, json.dumps(figures, ensure_ascii=False, indent=1).encode())
    for kept in (folder, folder / "samples"):
        for stale in sorted(kept.glob("*.json"))[:-KEEP_FILES]:
            stale.unlink(missing_ok=True)
    return path


def latest_samples(as_of: datetime | None = None) -> dict:
    """The newest kept samples at or before `as_of` (empty when none)."""
    found = newest_json_at(conflicts_dir() / "samples", as_of or clock.now())
    return found if found is not None else {"computed_at": None, "samples": []}


def refresh(as_of: datetime | None = None) -> Path:
    """Run the check now and keep its figures and samples: what the daily flow calls before the snapshot."""
    return write(*compute(as_of))
