"""Defect injection: the plan is exact and disjoint, the rates land inside DOMAIN §5's ranges at the
small scale, and the meter defects are exactly what the quality package's meter rules find."""

from __future__ import annotations

import random
import sqlite3

import pandas as pd
import pytest

from connectors import systems
from quality.meters import rollback_mask, spike_mask, stuck_mask
from synthetic import generate
from synthetic.defects import RANGES, RATES, Tally, plan_defects, stochastic_count

# Every test runs with an isolated HUB_VAR_DIR (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hub_env")

RATE_CHECKED = (
    "resident_population",
    "market_entities",
    "electricity_readings",
    "standard_addresses",
    "camera_devices",
    "camera_status",
    "buildings",
)


def test_plan_is_disjoint_and_counts_follow_the_rates(hub_env):
    plan = plan_defects(10_000, ("id_bad_check", "phone_missing", "date_mixed_format"), random.Random(1))
    counts = pd.Series(list(plan.values())).value_counts().to_dict()
    assert counts == {"phone_missing": 750, "date_mixed_format": 500, "id_bad_check": 40}
    assert all(0 <= index < 10_000 for index in plan)


def test_plan_minimum_and_stochastic_rounding(hub_env):
    assert list(plan_defects(10, ("unreadable_row",), random.Random(2), minimum={"unreadable_row": 1}).values()) == [
        "unreadable_row"
    ]
    draws = [stochastic_count(0.25, 1, random.Random(seed)) for seed in range(2000)]
    assert 0.2 < sum(draws) / len(draws) < 0.3


def test_tally_identity_joins_keys_and_rejects_unknown_defects(hub_env):
    tally = Tally(["meter_id", "reading_time"])
    tally.record({"meter_id": "1", "reading_time": "2026-01-01T00:00:00+08:00"}, "meter_spike")
    assert tally.as_manifest()["defects"] == {"meter_spike": ["1|2026-01-01T00:00:00+08:00"]}
    with pytest.raises(ValueError, match="unknown defect"):
        tally.record({}, "typo")


def test_midpoint_rates_lie_inside_the_domain_ranges():
    for name, (low, high) in RANGES.items():
        assert low <= RATES[name] <= high, name


@pytest.fixture(scope="module")
def seeded_small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_VAR_DIR", str(folder))
        from hub import settings as hub_settings

        hub_settings.reset_settings()
        manifest = generate.seed("small", 7, only={*RATE_CHECKED, "water_readings", "gas_readings"})
        hub_settings.reset_settings()
    return folder, manifest


def test_defect_rates_at_small_scale_are_within_domain_ranges(hub_env, seeded_small):
    _folder, manifest = seeded_small
    checked = 0
    for resource_id in RATE_CHECKED:
        entry = manifest["resources"][resource_id]
        for defect, identities in entry["defects"].items():
            if defect not in RANGES or defect.startswith("meter_"):
                continue
            low, high = RANGES[defect]
            rate = len(identities) / entry["records"]
            assert low <= rate <= high, f"{resource_id} {defect}: {rate:.4f} outside {low}–{high}"
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize(
    "resource_id, table, register_max",
    [
        ("electricity_readings", "dl_cbsj", 999999.99),
        ("water_readings", "sw_cbsj", 99999.99),
        ("gas_readings", "rq_cbsj", 99999.999),
    ],
)
def test_meter_defects_are_exactly_what_the_meter_rules_find(hub_env, seeded_small, resource_id, table, register_max):
    folder, manifest = seeded_small
    with sqlite3.connect(folder / "sources" / "utility_db.sqlite") as db:
        readings = pd.read_sql(f"SELECT meter_id, reading_time, cumulative_value, meter_event FROM {table}", db)
    readings = readings.drop_duplicates().sort_values(["meter_id", "reading_time"]).reset_index(drop=True)
    identities = readings["meter_id"] + "|" + readings["reading_time"]
    defects = manifest["resources"][resource_id]["defects"]
    found = {
        "meter_rollback": rollback_mask(readings, register_max=register_max),
        "meter_spike": spike_mask(readings, register_max=register_max),
        "meter_stuck": stuck_mask(readings),
    }
    for defect, mask in found.items():
        assert set(identities[mask]) == set(defects[defect]), defect
    meters = readings["meter_id"].nunique()
    stuck_meters = {identity.split("|")[0] for identity in defects["meter_stuck"]}
    assert RANGES["meter_stuck"][0] <= len(stuck_meters) / meters <= RANGES["meter_stuck"][1]
    assert (readings["meter_event"] == "replacement").any() or meters < 1000  # replacements are not defects


def test_small_seed_manifest_is_where_the_connectors_look(hub_env, seeded_small):
    folder, _manifest = seeded_small
    assert (folder / "sources" / "manifest.json").exists()
    assert systems.manifest_path() == hub_env / "sources" / "manifest.json"
