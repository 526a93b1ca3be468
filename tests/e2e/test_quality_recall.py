"""Every defect the synthetic sources injected (var/sources/manifest.json) is caught by a rule,
repaired by a normaliser or sent to a DLQ on its way through the demo's ingest DAGs — and no clean
record is flagged. Read from the demo run's lake (the gate's _findings), catalogue and manifest."""
from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from datetime import datetime, timezone

import pyarrow.parquet as pq
import pytest

from quality.dates import parse_mixed_date

# Which check (by name or name suffix) or repair must answer each injected defect.
CAUGHT_BY = {
    "duplicate_exact": ("key.unique",), "near_duplicate_fullwidth": ("key.unique",),
    "id_bad_check": (".resident_id",), "id_impossible_date": (".resident_id",),
    "id_lowercase_x": (".resident_id_upper_x",), "id_legacy_15": (".resident_id_15_to_18",),
    "uscc_bad_check": (".uscc",), "uscc_old_regno": (".uscc",),
    "phone_missing": (".present",), "phone_invalid": (".mobile",),
    "coord_swapped": (".lon", ".lat", "geometry_in_box"), "coord_null_island": (".lon", ".lat", "geometry_in_box", ".not_null"),
    "coord_outside_box": (".lon", ".lat", "geometry_in_box"), "coord_gcj02": ("gcj02_shift",),
    "date_future": (".not_future_date",), "date_sentinel": (".not_sentinel_date",),
    "camera_id_malformed": (".camera_id",), "mojibake": (".text_intact",),
    "orphan_household": ("household_head",),
    "meter_rollback": ("meter_rollback",), "meter_spike": ("meter_spike",), "meter_stuck": ("meter_stuck",),
}
REPAIRED_AT_LANDING = {"date_mixed_format": "date_iso", "iot_ts_utc": "timestamp_to_local"}
SENT_TO_DLQ = ("unreadable_row",)


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


@pytest.fixture(scope="module")
def outcome(demo):
    """(manifest resources, findings by resource → canonical key → {(check, outcome)}, catalogue evidence)."""
    _, home, _ = demo
    manifest = json.loads((home / "sources" / "manifest.json").read_text())["resources"]
    findings: dict[str, dict[tuple, set]] = defaultdict(lambda: defaultdict(set))
    for path in (home / "lake" / "_findings").glob("*/*/dt=*/*.parquet"):
        resource_id = path.parent.parent.name
        for row in pq.read_table(path).to_pylist():
            findings[resource_id][canonical(row["key"])].add((row["check"], row["outcome"]))
    with sqlite3.connect(home / "catalog.db") as db:
        repairs = defaultdict(Counter)
        for resource_id, repaired in db.execute("SELECT resource_id, repairs FROM quality_runs"):
            repairs[resource_id].update(json.loads(repaired or "{}"))
        dlq = Counter()
        for resource_id, count in db.execute("SELECT resource_id, sum(dlq_records) FROM connector_runs GROUP BY 1"):
            dlq[resource_id] += count or 0
        for resource_id, count in db.execute("SELECT resource_id, sum(dlq_rows) FROM landings GROUP BY 1"):
            dlq[resource_id] += count or 0
    return manifest, findings, repairs, dlq


def test_every_injected_defect_is_caught_repaired_or_dead_lettered(outcome):
    manifest, findings, repairs, dlq = outcome
    missed: dict[str, list] = defaultdict(list)
    for resource_id, entry in manifest.items():
        for defect, identities in entry["defects"].items():
            if defect in SENT_TO_DLQ:
                if dlq[resource_id] < len(identities):
                    missed[defect].append((resource_id, f"DLQ {dlq[resource_id]} < {len(identities)}"))
            elif defect in REPAIRED_AT_LANDING:
                if repairs[resource_id][REPAIRED_AT_LANDING[defect]] < len(identities):
                    missed[defect].append((resource_id, f"repaired {repairs[resource_id][REPAIRED_AT_LANDING[defect]]} "
                                                         f"< {len(identities)}"))
            else:
                for identity in identities:
                    checks = {check for check, _ in findings[resource_id].get(canonical(identity), ())}
                    if not any(check.endswith(expected) for check in checks for expected in CAUGHT_BY[defect]):
                        missed[defect].append((resource_id, identity, sorted(checks)))
    assert not missed, {defect: (len(misses), misses[:5]) for defect, misses in missed.items()}


def test_no_clean_record_is_flagged(outcome):
    manifest, findings, _, _ = outcome
    false_positives = []
    for resource_id, by_key in findings.items():
        defective = {canonical(identity) for identities in manifest[resource_id]["defects"].values()
                     for identity in identities}
        false_positives += [(resource_id, key, sorted(checks)) for key, checks in by_key.items() if key not in defective]
    assert not false_positives, (len(false_positives), false_positives[:10])


def test_every_defect_kind_was_injected(outcome):
    manifest, *_ = outcome
    injected = {defect for entry in manifest.values() for defect, ids in entry["defects"].items() if ids}
    assert injected == set(CAUGHT_BY) | set(REPAIRED_AT_LANDING) | set(SENT_TO_DLQ)
