"""How well the gate answered the defects the synthetic sources injected (`hub seed` writes their
ground truth to var/sources/manifest.json): recall per defect and the clean records it flagged.

A defect counts as caught when the check named for it in CAUGHT_BY flagged, quarantined or
repaired the very record (the gate's `_findings` list every such record by key), when landing
repaired as many values as were injected (mixed date formats, UTC times), or when the DLQs hold as
many records as were made unreadable. A finding on a record the manifest does not list is a false
positive. `hub quality recall` prints it; tests/e2e/test_quality_recall.py holds it at 100 % / 0.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import func, select

from catalog.db import session_scope
from catalog.models import ConnectorRun, Landing, QualityRun
from hub.settings import get_settings
from quality.dates import parse_mixed_date

#: Which check (by name or name suffix) must answer each injected defect.
CAUGHT_BY = {
    "duplicate_exact": ("key.unique",),
    "near_duplicate_fullwidth": ("key.unique",),
    "id_bad_check": (".resident_id",),
    "id_impossible_date": (".resident_id",),
    "id_lowercase_x": (".resident_id_upper_x",),
    "id_legacy_15": (".resident_id_15_to_18",),
    "uscc_bad_check": (".uscc",),
    "uscc_old_regno": (".uscc",),
    "phone_missing": (".present",),
    "phone_invalid": (".mobile", ".regex"),  # a phone item takes landlines too: its regex is its format rule
    "coord_swapped": (".lon", ".lat", "geometry_in_box"),
    "coord_null_island": (".lon", ".lat", "geometry_in_box", ".not_null"),
    "coord_outside_box": (".lon", ".lat", "geometry_in_box"),
    "coord_gcj02": ("gcj02_shift",),
    "date_future": (".not_future_date",),
    "date_sentinel": (".not_sentinel_date",),
    "camera_id_malformed": (".camera_id",),
    "mojibake": (".text_intact",),
    "orphan_household": ("household_head",),
    "meter_rollback": ("meter_rollback",),
    "meter_spike": ("meter_spike",),
    "meter_stuck": ("meter_stuck",),
    "footprint_outside_district": ("geometry_in_box",),
    "footprint_self_intersecting": ("geometry_valid",),
    "status_illegal_jump": ("work_order_status",),
    "dispatch_before_report": ("work_order_dates",),
    "confidence_out_of_range": (".between",),
    "alert_type_unknown": (".in_set",),
}
REPAIRED_AT_LANDING = {"date_mixed_format": "date_iso", "iot_ts_utc": "timestamp_to_local"}
SENT_TO_DLQ = ("unreadable_row",)


@dataclass
class Recall:
    """Per defect: injected records and those the gate answered; misses and false positives listed."""

    injected: Counter = field(default_factory=Counter)
    caught: Counter = field(default_factory=Counter)
    missed: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    false_positives: list[tuple] = field(default_factory=list)

    def rate(self, defect: str) -> float:
        return self.caught[defect] / self.injected[defect] if self.injected[defect] else 1.0


def canonical(key: str) -> tuple:
    """A key as comparable text: instants in UTC, dates in ISO, whatever format they were written in."""
    parts = []
    for part in str(key).split("|"):
        text = part.strip()
        if len(text) > 10:  # a timestamp: compare instants
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
                parts.append(moment.astimezone(timezone.utc).isoformat() if moment.tzinfo else moment.isoformat())
                continue
            except ValueError:
                pass
        day = parse_mixed_date(text)
        parts.append(day.isoformat() if day else text)
    return tuple(parts)


def measure() -> Recall:
    """Recall and false positives of the gate over this hub home (seeded and ingested)."""
    settings = get_settings()
    manifest = json.loads((settings.var_dir / "sources" / "manifest.json").read_text())["resources"]
    findings = _findings(settings.lake_dir / "_findings")
    repairs, dlq = _evidence()
    recall = Recall()
    for resource_id, entry in manifest.items():
        for defect, identities in entry["defects"].items():
            recall.injected[defect] += len(identities)
            if defect in SENT_TO_DLQ or defect in REPAIRED_AT_LANDING:
                answered = (
                    dlq[resource_id] if defect in SENT_TO_DLQ else repairs[resource_id][REPAIRED_AT_LANDING[defect]]
                )
                recall.caught[defect] += min(answered, len(identities))
                if answered < len(identities):
                    recall.missed[defect].append((resource_id, f"{answered} of {len(identities)}"))
                continue
            for identity in identities:
                checks = {check for check, _ in findings[resource_id].get(canonical(identity), ())}
                if any(check.endswith(expected) for check in checks for expected in CAUGHT_BY[defect]):
                    recall.caught[defect] += 1
                else:
                    recall.missed[defect].append((resource_id, identity, sorted(checks)))
        defective = {canonical(identity) for ids in entry["defects"].values() for identity in ids}
        recall.false_positives += [
            (resource_id, key, sorted(found)) for key, found in findings[resource_id].items() if key not in defective
        ]
    return recall


def _findings(folder: Path) -> dict[str, dict[tuple, set]]:
    found: dict[str, dict[tuple, set]] = defaultdict(lambda: defaultdict(set))
    for path in folder.glob("*/*/dt=*/*.parquet"):
        by_key = found[path.parent.parent.name]
        for row in pq.read_table(path, columns=["key", "check", "outcome"]).to_pylist():
            by_key[canonical(row["key"])].add((row["check"], row["outcome"]))
    return found


def _evidence() -> tuple[dict[str, Counter], Counter]:
    """Repairs per resource (quality runs) and DLQ records (connector runs + landings) from the catalogue."""
    repairs: dict[str, Counter] = defaultdict(Counter)
    dlq: Counter = Counter()
    with session_scope() as session:
        for resource_id, repaired in session.execute(select(QualityRun.resource_id, QualityRun.repairs)):
            repairs[resource_id].update(repaired or {})
        for model, column in ((ConnectorRun, ConnectorRun.dlq_records), (Landing, Landing.dlq_rows)):
            for resource_id, count in session.execute(
                select(model.resource_id, func.sum(column)).group_by(model.resource_id)
            ):
                dlq[resource_id] += count or 0
    return repairs, dlq
