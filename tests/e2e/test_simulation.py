"""Ten simulated days at tiny scale (`hub simulate --days 10 --scale tiny`) in a fresh hub home with its
own Kafka broker: the coverage of each day is what the scenario (pipeline/scenario.py) implies.

The expected figures are written down here from the scenario and the seed catalogue, not read back:

- the catalogue holds 132 entries in force: every day's denominator;
- 88 of them are bound; day 1 (2026-11-01) is the platform's first run, so every bound resource
  lands its first load; three of those loads carry the stand-ins' injected old registration numbers
  and bad check characters in 统一社会信用代码 (uscc_old_regno, uscc_bad_check in the manifest) beyond
  their threshold and fail tyshxydm.uscc: market_entities and food_business_licences (每日: day 2's
  batch is clean and counts) and road_transport_licences (每月: its next run is on 12-01, so it stays
  out for the whole run);
- 区市场监督管理局 (scjgj) is down on days 3–5. Its five 每日 resources (below) last landed on day 2
  at 10:00: at day 3's snapshot (10:30) they are 24.5 h old, within 36 h, and count; on days 4 and 5
  they are 48.5 h and 72.5 h old: stale. Its 每周 special_equipment ran on Monday (day 2) and stays
  within 8 days; its 每月 and 每年 ones are far inside their windows. Back on day 6, all land again;
- hotline_12345 is bound on day 6 and counts from day 6 (one more aggregated, the total unchanged);
- resident_population's batch of day 7 fails a critical rule (婚姻状况 = "X"): out on day 7; the
  correction lands on day 8: back.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from datetime import date

import pytest
from e2e_kit import HUB, REPO, free_port, hub_json

pytestmark = pytest.mark.simulation

DAYS = 10
START = date(2026, 11, 1)
TOTAL = 132
BOUND = 88
SCJGJ_DAILY = {
    "market_entities",
    "individual_businesses",
    "abnormal_operations",
    "admin_penalties",
    "food_business_licences",
}
LATE = "hotline_12345"
# A few minutes on an idle 2-core machine; measured 16 min for day 1 and 8 min a day after at load 13.
SIMULATION_TIMEOUT_S = 5400
BAD = "resident_population"
FIRST_LOAD_FAILS = {"market_entities", "food_business_licences", "road_transport_licences"}
MONTHLY_FAILING = {"road_transport_licences"}
COUNTED = BOUND - len(MONTHLY_FAILING)  # from day 2 on, before the scenario's events
# Aggregated per day, from the reasoning above.
EXPECTED = {
    1: BOUND - len(FIRST_LOAD_FAILS),
    2: COUNTED,
    3: COUNTED,  # down since this morning, but yesterday's loads are 24.5 h old
    4: COUNTED - len(SCJGJ_DAILY),  # 48.5 h old: stale
    5: COUNTED - len(SCJGJ_DAILY),
    6: COUNTED + 1,  # scjgj back, and the hotline bound and landed
    7: COUNTED + 1 - 1,  # the bad batch fails the gate
    8: COUNTED + 1,  # corrected
    9: COUNTED + 1,
    10: COUNTED + 1,
}


@pytest.fixture(scope="module")
def simulation(tmp_path_factory):
    """`hub simulate --days 10 --scale tiny` once in an isolated home; yield (env, home, output)."""
    home = tmp_path_factory.mktemp("sim-home")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("HUB_", "AIRFLOW"))}
    env.update(
        HUB_VAR_DIR=str(home),
        HUB_KAFKA_PORT=str(free_port()),
        HUB_KAFKA_CONTROLLER_PORT=str(free_port()),
        HUB_KAFKA_LIBS_DIR=str(REPO / "var" / "kafka" / "libs"),
        HUB_VIDEO_URL=f"http://127.0.0.1:{free_port()}",
        HUB_MQTT_PORT=str(free_port()),
        HUB_TARGET_DATE="2026-12-31",
    )
    try:  # the services and broker it started are stopped even if it fails or times out
        run = subprocess.run(
            [HUB, "simulate", "--days", str(DAYS), "--scale", "tiny", "--start", START.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=SIMULATION_TIMEOUT_S,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-6000:]
        yield env, home, run.stdout + run.stderr
    finally:
        for command in (["sources", "down"], ["kafka", "down"]):
            subprocess.run([HUB, *command], env=env, capture_output=True, timeout=120)


def _snapshots(home) -> list[tuple]:
    with sqlite3.connect(home / "catalog.db") as db:
        return db.execute(
            "SELECT snapshot_date, aggregated, total, document FROM coverage_snapshots ORDER BY snapshot_date"
        ).fetchall()


def _gaps(document: str) -> dict[str, str]:
    return {gap["resource_code"]: gap["reason"] for gap in json.loads(document)["gaps"]}


def test_one_immutable_snapshot_per_day_with_the_coverage_the_scenario_implies(simulation):
    _, home, output = simulation
    rows = _snapshots(home)
    days = {(date.fromisoformat(str(day)) - START).days + 1: (aggregated, total) for day, aggregated, total, _ in rows}
    assert sorted(days) == list(range(1, DAYS + 1)), output[-3000:]
    assert {day: total for day, (_, total) in days.items()} == {day: TOTAL for day in days}
    assert {day: aggregated for day, (aggregated, _) in days.items()} == EXPECTED, output[-3000:]


def test_the_outage_dip_names_the_departments_daily_resources_as_stale(simulation):
    env, home, _ = simulation
    codes = _codes(env)
    documents = {(date.fromisoformat(str(day)) - START).days + 1: doc for day, _, _, doc in _snapshots(home)}
    for day in (4, 5):
        gaps = _gaps(documents[day])
        assert {rid for rid in SCJGJ_DAILY if gaps.get(codes[rid]) == "stale"} == SCJGJ_DAILY
    for day in (3, 6):
        assert not SCJGJ_DAILY & {rid for rid, code in codes.items() if code in _gaps(documents[day])}
    assert _gaps(documents[7])[codes[BAD]].startswith("failing rule")
    assert codes[BAD] not in _gaps(documents[8])
    assert _gaps(documents[5])[codes[LATE]] == "no binding" and codes[LATE] not in _gaps(documents[6])


def test_the_trend_and_projection_show_the_history(simulation):
    env, _, _ = simulation
    document = hub_json(env, "coverage", "--json", "--as-of", "2026-11-10T10:45:00+08:00")
    assert [point["aggregated"] for point in document["trend"]] == [EXPECTED[day] for day in range(1, DAYS + 1)]
    assert document["projection"]["method"] != "insufficient history"


def test_reading_coverage_at_any_date_stores_nothing(simulation):
    env, home, _ = simulation
    before = _snapshots(home)
    for as_of in ("2026-10-01", "2026-11-04", "2026-11-10T23:00:00+08:00", "2026-11-20", "2027-06-30"):
        hub_json(env, "coverage", "--json", "--as-of", as_of)
    assert _snapshots(home) == before


def test_a_monthly_resource_is_not_stale_three_days_after_it_landed(simulation):
    env, _, _ = simulation
    codes = _codes(env)
    # gas_readings (每月, grace 72 h) landed on 11-01, its slot; three days later it still counts.
    document = hub_json(env, "coverage", "--json", "--as-of", "2026-11-04T10:30:00+08:00")
    gaps = _gaps(json.dumps(document))
    assert codes["gas_readings"] not in gaps and codes["water_readings"] not in gaps


def _codes(env) -> dict[str, str]:
    from catalog.spec import load_catalogue

    return {r.id: r.code for r in load_catalogue(REPO / "catalog" / "seed").resources}
