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
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from catalog.shared_items import Holder, holders, subject_of
from hub import clock
from hub.files import newest_json_at, stamp_name, write_atomic
from hub.settings import get_settings
from quality.normalise import RESIDENT_ID_REPAIRS, get_normaliser
from quality.rules import is_valid_mobile
from quality.text import is_intact_text
from warehouse import lake, store

DEFINITION_VERSION = "conflicts-2026.1"
SAMPLE_KEYS = 20  # conflicting keys kept per holder and item
KEEP_FILES = 500
_SPACE = re.compile(r"\s+")
_KEY_REPAIRS = {"人口": RESIDENT_ID_REPAIRS, "法人": ("halfwidth",)}


def conflicts_dir() -> Path:
    return get_settings().source_conflicts_dir


# --- the comparison (pure) ------------------------------------------------------------------------


def comparable(value, kind: str = "text") -> str | None:
    """The value as compared, or None when it cannot be (missing, or damaged beyond repair)."""
    if value is None:
        return None
    text = str(value)
    for name in ("mojibake_gbk", "halfwidth"):
        text = get_normaliser(name).row(text)[0]
    text = _SPACE.sub("", text)
    if not text or not is_intact_text(text):
        return None
    if kind == "mobile":
        text = text.removeprefix("+86") if len(text) > 11 else text
        text = text.removeprefix("86") if len(text) > 11 else text
        return text if is_valid_mobile(text) else None
    return text


def subject_key(value, subject: str) -> str | None:
    """The subject's key as joined on: repaired as the gate repairs it, upper case; None when empty."""
    if value is None:
        return None
    text = str(value)
    for name in _KEY_REPAIRS[subject]:
        text = get_normaliser(name).row(text)[0]
    text = _SPACE.sub("", text).upper()
    return text or None


@dataclass(frozen=True)
class Comparison:
    compared: int
    conflicting: list[str]  # every key whose holder value differs from the 数源's, sorted

    @property
    def rate(self) -> float:
        return round(len(self.conflicting) / self.compared, 6) if self.compared else 0.0


def compare(authoritative: Iterable[tuple], holder: Iterable[tuple], *, subject: str, kind: str = "text") -> Comparison:
    """Compare (key, value) rows of a holder with the 数源's. A key is compared when both hold a usable
    value for it (a 数源 key with two different values is ambiguous and left out); it conflicts when
    any of the holder's values differs from the 数源's."""
    truth: dict[str, set[str]] = defaultdict(set)
    for key, value in authoritative:
        key, value = subject_key(key, subject), comparable(value, kind)
        if key is not None and value is not None:
            truth[key].add(value)
    held: dict[str, set[str]] = defaultdict(set)
    for key, value in holder:
        key, value = subject_key(key, subject), comparable(value, kind)
        if key is not None and value is not None and len(truth.get(key, ())) == 1:
            held[key].add(value)
    conflicting = sorted(key for key, values in held.items() if values - truth[key])
    return Comparison(len(held), conflicting)


# --- over staging -----------------------------------------------------------------------------------


def _staged(connection) -> set[str]:
    query = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'"
    return {name for (name,) in connection.execute(query).fetchall()}


def _rows(connection, resource_id: str, key: str, item: str) -> list[tuple]:
    quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in (key, item))
    table = '"staging"."' + resource_id.replace('"', '""') + '"'
    return connection.execute(f"SELECT {quoted} FROM {table}").fetchall()


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
