"""Ten simulated days at tiny scale (`hub simulate --days 10 --scale tiny`, tests/sim_kit.py) in a fresh
hub home with its own Kafka broker: each day's coverage, objections and share requests are what the
scenario (pipeline/scenario.py) implies on the Chinese calendar.

The expected figures are written down here from the scenario and the seed catalogue, not read back:

- the catalogue holds 144 entries in force: every day's denominator; 100 of them are bound;
- day 1 (Wed 2026-09-23) is the platform's first run: every bound resource lands its first load.
  Seven first loads carry more of the stand-ins' initial defects (the manifest's ground truth at
  tiny scale, seed 7) than their rule allows: old registration numbers and bad check characters in
  统一社会信用代码 (market_entities and food_business_licences, 每日; road_transport_licences, 每月),
  unknown algorithm types in the three video clouds' AI alerts (实时), illegal status jumps in
  drone_work_orders (每日). The daily steps after day 1 are clean (the scenario's faults are the only
  ones), so the 每日 and 实时 ones count from day 2; road_transport_licences runs again on 1 October
  (day 9, its monthly slot) and counts from then;
- 区政务服务数据管理局's export writes ten resident records with 婚姻状况 = "X" every night from day 2
  until day 9: resident_population is out on days 2–8 and back on day 9;
- 区市场监督管理局 (scjgj) is down on days 3–5. Its five 每日 resources last landed on day 2 at 10:00: at
  day 3's snapshot (10:30) they are 24.5 h old, within 36 h, and count; on days 4 and 5 (48.5 h and
  72.5 h) they are stale. Its 每周 special_equipment runs again on Monday 28 Sep (day 6), when the
  database is back. Back on day 6, all land again;
- hotline_12345 is bound on day 6 and counts from day 6 (one more aggregated, the total unchanged).

Deadlines (2026 calendar: 25 Sep is Mid-Autumn, off with the weekend after it; 1–7 Oct National Day):
- the objection resident_population's failing rule opens on Thu 24 Sep is due for acknowledgement at
  the end of the second working day after: Mon 28, Tue 29 Sep. Nobody acknowledges it: it is not
  overdue at day 7's snapshot (Tue 29 Sep) and overdue at day 8's; it closes as verified on day 9.
  Counting Friday 25 Sep as a working day would make it overdue a day earlier;
- road_transport_licences' objection opens on Wed 23 Sep: due Thu 24 and Mon 28 Sep, overdue on days
  7 and 8, closed on day 9;
- 民政局 and 卫健局 ask for resident_population on day 1 (Wed 23 Sep). With HUB_SHARE_ANSWER_WORKDAYS=2
  the answer is due at the end of Mon 28 Sep: 民政局's (day 6) is on time, 卫健局's (day 7) is late.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone

import pytest
from e2e_kit import REPO, hub_json

from hub.timezone import LOCAL_TZ

pytestmark = pytest.mark.simulation

START = date(2026, 9, 23)
DAYS = 10
TOTAL = 144
BOUND = 100
SCJGJ_DAILY = {
    "market_entities",
    "individual_businesses",
    "abnormal_operations",
    "admin_penalties",
    "food_business_licences",
}
LATE = "hotline_12345"
BAD = "resident_population"  # bad from day 2, corrected on day 9
MONTHLY_FAILING = "road_transport_licences"  # out until its run on 1 October (day 9)
FIRST_LOAD_FAILS = {
    "market_entities",
    "food_business_licences",
    MONTHLY_FAILING,
    "police_cloud_ai_alerts",
    "city_cloud_ai_alerts",
    "gov_cloud_ai_alerts",
    "drone_work_orders",
}
COUNTED = BOUND - 1 - 1  # from day 2: road_transport_licences and resident_population are out
# Aggregated per day, from the reasoning above.
EXPECTED = {
    1: BOUND - len(FIRST_LOAD_FAILS),
    2: COUNTED,
    3: COUNTED,  # scjgj down since this morning, but yesterday's loads are 24.5 h old
    4: COUNTED - len(SCJGJ_DAILY),  # 48.5 h old: stale
    5: COUNTED - len(SCJGJ_DAILY),
    6: COUNTED + 1,  # scjgj back, and the hotline bound and landed
    7: COUNTED + 1,
    8: COUNTED + 1,
    9: COUNTED + 1 + 2,  # resident_population corrected; road_transport_licences' monthly run passes
    10: COUNTED + 1 + 2,
}


def _documents(home) -> dict[int, dict]:
    """Day number → that day's stored coverage document (snapshot_date, aggregated and total checked)."""
    with sqlite3.connect(home / "catalog.db") as db:
        rows = db.execute(
            "SELECT snapshot_date, aggregated, total, document FROM coverage_snapshots ORDER BY snapshot_date"
        ).fetchall()
    documents = {}
    for day, aggregated, total, document in rows:
        parsed = json.loads(document)
        assert (parsed["overall"]["aggregated"], parsed["overall"]["total"]) == (aggregated, total)
        documents[(date.fromisoformat(str(day)) - START).days + 1] = parsed
    return documents


def _gaps(document: dict) -> dict[str, str]:
    return {gap["resource_code"]: gap["reason"] for gap in document["gaps"]}


def _codes() -> dict[str, str]:
    from catalog.spec import load_catalogue

    return {r.id: r.code for r in load_catalogue(REPO / "catalog" / "seed").resources}


def test_one_immutable_snapshot_per_day_with_the_coverage_the_scenario_implies(simulation):
    documents = _documents(simulation.home)
    assert sorted(documents) == list(range(1, DAYS + 1)), simulation.output[-3000:]
    assert {day: doc["overall"]["total"] for day, doc in documents.items()} == dict.fromkeys(documents, TOTAL)
    actual = {day: doc["overall"]["aggregated"] for day, doc in documents.items()}
    assert actual == EXPECTED, simulation.output[-3000:]


def test_each_dip_names_its_cause(simulation):
    codes = _codes()
    gaps = {day: _gaps(doc) for day, doc in _documents(simulation.home).items()}
    assert {rid for rid, code in codes.items() if code in gaps[1] and gaps[1][code] != "no binding"} == (
        FIRST_LOAD_FAILS
    )
    for day in (4, 5):
        assert {rid for rid in SCJGJ_DAILY if gaps[day].get(codes[rid]) == "stale"} == SCJGJ_DAILY
    for day in (3, 6):
        assert not {codes[rid] for rid in SCJGJ_DAILY} & set(gaps[day])
    for day in range(2, 9):
        assert gaps[day][codes[BAD]].startswith("failing rule"), day
        assert gaps[day][codes[MONTHLY_FAILING]].startswith("failing rule"), day
    assert codes[BAD] not in gaps[9] and codes[MONTHLY_FAILING] not in gaps[9]
    assert gaps[5][codes[LATE]] == "no binding" and codes[LATE] not in gaps[6]


def _overdue(document: dict) -> set[str]:
    return {row["resource"] for row in document["scorecard"]["overdue_objections"]}


def test_objections_fall_overdue_by_the_chinese_calendar_and_close_when_clean_data_lands(simulation):
    documents = _documents(simulation.home)
    with sqlite3.connect(simulation.home / "catalog.db") as db:
        db.row_factory = sqlite3.Row
        rows = {
            row["resource_id"]: row
            for row in db.execute(
                "SELECT * FROM objections WHERE resource_id IN (?, ?) AND origin = 'quality'", (BAD, MONTHLY_FAILING)
            )
        }
    bad, monthly = rows[BAD], rows[MONTHLY_FAILING]
    assert _local_date(bad["raised_at"]) == date(2026, 9, 24) and _local_date(bad["ack_due"]) == date(2026, 9, 29)
    assert _local_date(monthly["raised_at"]) == START and _local_date(monthly["ack_due"]) == date(2026, 9, 28)
    overdue = {day: _overdue(doc) & {BAD, MONTHLY_FAILING} for day, doc in documents.items()}
    assert overdue == {
        **dict.fromkeys(range(1, 7), set()),
        7: {MONTHLY_FAILING},  # due Mon 28 Sep
        8: {BAD, MONTHLY_FAILING},  # due Tue 29 Sep: Fri 25 Sep was Mid-Autumn
        9: set(),
        10: set(),
    }
    assert (bad["state"], monthly["state"]) == ("closed", "closed")
    assert _local_date(bad["ended_at"]) == _local_date(monthly["ended_at"]) == date(2026, 10, 1)


def _local_date(stored: str) -> date:
    """The Beijing date of a time the catalogue stored (SQLite keeps UTC without its zone)."""
    return datetime.fromisoformat(stored).replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).date()


def _requests(document: dict, department: str = "zsj") -> dict:
    card = next(card for card in document["scorecard"]["by_department"] if card["department_id"] == department)
    figures = card["share_requests"]
    return {key: figures[key] for key in ("received", "answered", "answered_on_time", "pending", "pending_overdue")}


def test_a_share_request_answered_after_its_working_days_counts_as_late(simulation):
    documents = _documents(simulation.home)
    day6, day7, day10 = (_requests(documents[day]) for day in (6, 7, 10))
    assert day6["received"] == 2 and day6["answered"] == day6["answered_on_time"] == 1
    assert len(day6["pending"]) == 1 and day6["pending_overdue"] == []  # due at the end of Mon 28 Sep
    assert (day7["answered"], day7["answered_on_time"], day7["pending"]) == (2, 1, [])
    assert day10 == {**day7, "received": 2}


def test_the_trend_and_projection_show_the_history(simulation):
    document = hub_json(simulation.env, "coverage", "--json", "--as-of", "2026-10-02T10:45:00+08:00")
    assert [point["aggregated"] for point in document["trend"]] == [EXPECTED[day] for day in range(1, DAYS + 1)]
    assert document["projection"]["method"] != "insufficient history"


def test_reading_coverage_at_any_date_stores_nothing(simulation):
    before = _documents(simulation.home)
    for as_of in ("2026-09-01", "2026-09-26", "2026-10-02T23:00:00+08:00", "2026-10-20", "2027-06-30"):
        hub_json(simulation.env, "coverage", "--json", "--as-of", as_of)
    assert _documents(simulation.home) == before


def test_a_monthly_resource_is_not_stale_three_days_after_it_landed(simulation):
    codes = _codes()
    # gas_readings and water_readings (每月, grace 72 h) landed on day 1; three days later they count.
    document = hub_json(simulation.env, "coverage", "--json", "--as-of", "2026-09-26T10:30:00+08:00")
    gaps = _gaps(document)
    assert codes["gas_readings"] not in gaps and codes["water_readings"] not in gaps
