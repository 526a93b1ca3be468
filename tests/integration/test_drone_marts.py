"""The drone platform end to end on the real broker: its stand-in seeded, connected, landed, judged and
staged, then its marts checked against an independent computation over the source's own rows —
shapely's union of the footprints in the platform's database that carry no injected defect."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from datetime import datetime, timezone

import pytest
import shapely
from kafka_kit import drop_resource_topics, gate_and_stage
from seed_kit import seed_catalogue

from catalog.db import session_scope
from catalog.reference import SHUNDE_DISTRICT_CODE
from catalog.store import load_catalogue_into
from connectors import systems
from connectors.runner import connect
from hub import settings as hub_settings
from synthetic import generate
from warehouse import landing, marts, store

pytestmark = pytest.mark.kafka
DRONE = ("drone_flight_missions", "drone_imagery", "drone_work_orders")


@pytest.fixture(scope="module")
def drone_warehouse(tmp_path_factory):
    """A test home whose warehouse holds the drone platform's small seed; yields the seed's manifest."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_VAR_DIR", str(tmp_path_factory.mktemp("drone") / "var"))
        patch.delenv("HUB_CATALOG_URL", raising=False)
        hub_settings.reset_settings()
        drop_resource_topics(DRONE)
        with session_scope() as session:
            load_catalogue_into(session, seed_catalogue(), now=datetime.now(timezone.utc))
        manifest = generate.seed("small", 7, only=set(DRONE))["resources"]
        by_id = {r.id: r for r in seed_catalogue().resources}
        try:
            for resource_id in DRONE:
                assert all(report.ok for report in connect(resource_id, progress=False)), resource_id
                gate_and_stage(by_id[resource_id], landing.land(resource_id))
            built = marts.refresh_marts()
            assert {f"mart.{name}" for name in marts.MARTS if name.startswith("drone_")} <= set(built)
            yield manifest
        finally:
            drop_resource_topics(DRONE)
            hub_settings.reset_settings()


def query(sql: str, params: list | None = None) -> list[tuple]:
    connection = store.connect_reader()
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def source_rows(table: str, manifest_entry: dict) -> list[dict]:
    """The platform's rows as its database holds them, without the records the manifest lists as defective."""
    defective = {identity for ids in manifest_entry["defects"].values() for identity in ids}
    key = manifest_entry["key_columns"][0]
    path = systems.source_url("drone_db").removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = [dict(row) for row in connection.execute(f'SELECT * FROM "{table}"')]
    assert len(rows) == manifest_entry["records"]
    return [row for row in rows if row[key] not in defective]


def test_imagery_areas_equal_shapely_union_of_the_clean_source_footprints(drone_warehouse):
    entry = drone_warehouse["drone_imagery"]
    assert entry["defects"].keys() == {"footprint_outside_district", "footprint_self_intersecting"}
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in source_rows("uav_imagery", entry):
        groups[(row["ssjz"], row["yxlx"])].append(row)
        groups[(SHUNDE_DISTRICT_CODE, row["yxlx"])].append(row)
    expected = {
        group: (
            len(rows),
            sum(r["mj"] for r in rows),
            shapely.union_all(shapely.from_wkt([r["geometry"] for r in rows])).area / 1e6,
        )
        for group, rows in groups.items()
    }
    mart = {
        (town, kind): (images, gathered, covered)
        for town, kind, images, gathered, covered, invalid in query(
            "SELECT town_code, imagery_type, images, gathered_km2, covered_km2, invalid_footprints "
            "FROM mart.drone_imagery_area_by_town_type"
        )
        if invalid == 0
    }
    assert mart.keys() == expected.keys()
    for group, (images, gathered, covered) in expected.items():
        assert mart[group][0] == images, group
        assert mart[group][1] == pytest.approx(gathered, abs=1e-3), group
        assert mart[group][2] == pytest.approx(covered, abs=1e-3), group
    for kind in ("正射", "全景"):
        district = mart[(SHUNDE_DISTRICT_CODE, kind)]
        assert district[2] < district[1]  # repeat flights: less ground covered than imagery gathered
        assert (
            district[2]
            <= sum(v[2] for (town, k), v in mart.items() if k == kind and town != SHUNDE_DISTRICT_CODE) + 1e-6
        )
    assert query(
        "SELECT town_name FROM mart.drone_imagery_area_by_town_type WHERE town_code = ? LIMIT 1", [SHUNDE_DISTRICT_CODE]
    ) == [("区级",)]


def test_work_orders_mart_counts_the_staged_orders_by_category_status_and_department(drone_warehouse):
    entry = drone_warehouse["drone_work_orders"]
    clean = source_rows("uav_event_order", entry)
    rows = query(
        "SELECT category, status, department, sum(orders), sum(open_orders) "
        "FROM mart.drone_work_orders_by_category_status_department_age GROUP BY ALL"
    )
    assert {(c, s, d): n for c, s, d, n, _ in rows} == Counter((r["sjlb"], r["zt"], r["zpbm"]) for r in clean)
    assert sum(open_ for *_, open_ in rows) == sum(1 for r in clean if r["zt"] != "已处置")
    bands = {
        band
        for (band,) in query("SELECT DISTINCT age_band FROM mart.drone_work_orders_by_category_status_department_age")
    }
    assert bands <= {"0-7天", "8-30天", "31-90天", "91-365天", "365天以上"} and len(bands) > 1


def test_repeat_flights_are_the_flights_after_the_first_per_route_type_and_month(drone_warehouse):
    missions = source_rows("uav_flight_mission", drone_warehouse["drone_flight_missions"])
    flights, repeats = query("SELECT sum(flights), sum(repeat_flights) FROM mart.drone_repeat_flights_by_route_month")[
        0
    ]
    periods = {(m["hxbh"], m["yxlx"], m["qfsj"][:7]) for m in missions}  # +08:00 times: the month as written
    assert flights == len(missions)
    assert repeats == len(missions) - len(periods) > 0
