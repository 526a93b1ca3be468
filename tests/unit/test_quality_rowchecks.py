"""quality.rowchecks: meter series, households, geometry boxes and GCJ-02 points judged over rows
together — in any row order, with staged history, and flagging exactly the defective rows."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
from seed_kit import seed_catalogue

from quality import geo
from quality.plan import ROW_CHECKS, evaluate, plan_checks
from quality.rowchecks import BOXES, geometry_in_box, geometry_in_box_mask

SHUNDE = timezone(timedelta(hours=8))
METER = {"meter": "meter_id", "time": "reading_time", "value": "cumulative_value", "event": "meter_event"}
T0 = datetime(2025, 1, 10, 9, 30, tzinfo=SHUNDE)


def readings(series: dict[str, list], step: timedelta = timedelta(days=30), start: datetime = T0) -> list[dict]:
    """Rows of each meter's values ((value, event) or value), one every `step`."""
    rows = []
    for meter_id, values in series.items():
        for n, value in enumerate(values):
            value, event = value if isinstance(value, tuple) else (value, None)
            rows.append(
                {
                    "meter_id": meter_id,
                    "reading_time": start + n * step,
                    "cumulative_value": value,
                    "meter_event": event,
                }
            )
    return rows


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("meter_id", pa.string()),
                ("reading_time", pa.timestamp("ms", "Asia/Shanghai")),
                ("cumulative_value", pa.float64()),
                ("meter_event", pa.string()),
            ]
        ),
    )


def flagged(check: str, rows: list[dict], history: list[dict] | None = None, **params) -> list[tuple]:
    """(meter, value) of each batch row the check flags."""
    batch = table(rows)
    mask = ROW_CHECKS[check].mask(batch, METER, params, table(history) if history is not None else None)
    assert mask.dtype == bool and len(mask) == len(rows)
    return sorted((rows[i]["meter_id"], rows[i]["cumulative_value"]) for i in np.flatnonzero(mask))


SERIES = {
    "rollback": [100.0, 130.0, 160.0, 190.0, 175.0, 205.0, 235.0],  # 175 drops below 190
    "spike": [100.0, 130.0, 161.0, 190.0, 900.0, 931.0, 960.0],  # 710 used in a month, median 30
    "stuck": [100.0, 130.0, 160.0, 160.0, 160.0, 160.0, 160.0],  # the run's first 160 is real
    "clean": [100.0, 131.0, 159.0, 190.0, 222.0, 250.0, 281.0],
    "replaced": [100.0, 130.0, (5.0, "replacement"), 35.0, 66.0, 95.0],  # a new meter, not a rollback
}


@pytest.mark.parametrize("seed", range(5))
def test_each_meter_is_judged_in_time_order_whatever_the_row_order(seed):
    rows = readings(SERIES)
    random.Random(seed).shuffle(rows)
    assert flagged("meter_rollback", rows) == [("rollback", 175.0)]
    assert flagged("meter_spike", rows) == [("spike", 900.0)]
    assert flagged("meter_stuck", rows) == [("stuck", 160.0)] * 4


def test_a_series_continues_from_the_staged_rows():
    staged = readings({"m": [100.0, 130.0, 160.0, 190.0, 220.0]})
    later = readings({"m": [210.0]}, start=T0 + 5 * timedelta(days=30))
    assert flagged("meter_rollback", later) == []  # alone, one reading judges nothing
    assert flagged("meter_rollback", later, staged) == [("m", 210.0)]
    spike = readings({"m": [600.0]}, start=T0 + 5 * timedelta(days=30))
    assert flagged("meter_spike", spike, staged) == [("m", 600.0)]
    flat = readings({"m": [220.0, 220.0]}, start=T0 + 5 * timedelta(days=30))
    assert flagged("meter_stuck", flat, staged) == [("m", 220.0)] * 2  # staged 220 starts the run


def test_staged_rows_are_never_reported_and_a_repeated_reading_is_judged_once():
    staged = readings({"m": [100.0, 130.0, 160.0, 150.0]})  # 150 was staged as a (warning-free) wrong read
    corrected = [dict(staged[-1], cumulative_value=190.0)]  # the source corrects it: same meter and time
    assert flagged("meter_rollback", corrected, staged) == []
    assert flagged("meter_rollback", corrected, staged + readings({"other": [5.0, 1.0]})) == []


@pytest.mark.parametrize("seed", range(5))
def test_a_reading_sent_twice_is_one_reading_in_the_batch_and_against_history(seed):
    """A connector replaying after a crash sends readings again: every copy gets the one verdict."""
    rows = readings(SERIES)
    replayed = rows + [dict(row) for row in rows if row["meter_id"] in ("rollback", "stuck")]
    random.Random(seed).shuffle(replayed)
    assert flagged("meter_rollback", replayed) == [("rollback", 175.0)] * 2
    assert flagged("meter_stuck", replayed) == [("stuck", 160.0)] * 8
    earlier = readings({"rollback": SERIES["rollback"][:5]})  # landed before, 175 among them
    again = readings({"rollback": SERIES["rollback"]})[3:]  # 190, 175, 205, 235 sent again
    assert flagged("meter_rollback", again, earlier) == [("rollback", 175.0)]


def test_a_skipped_read_is_not_a_spike_but_a_burst_between_reads_is():
    months = [100.0 + 30 * n for n in range(6)]
    after_a_year = readings({"m": months}) + readings({"m": [months[-1] + 30 * 12]}, start=T0 + 17 * timedelta(days=30))
    assert flagged("meter_spike", after_a_year) == []  # 12 months' use, read 12 months later
    burst = readings({"m": months}) + readings(
        {"m": [months[-1] + 200]}, start=T0 + 5 * timedelta(days=30) + timedelta(days=2)
    )
    assert flagged("meter_spike", burst) == [("m", months[-1] + 200)]


def test_a_quiet_night_of_a_smart_meter_is_not_stuck_but_a_flat_day_is():
    night = [1000.0 + 0.2 * n for n in range(40)] + [1008.0] * 8 + [1008.0 + 0.2 * n for n in range(1, 40)]
    assert flagged("meter_stuck", readings({"smart": night}, step=timedelta(minutes=15))) == []
    day = [1000.0 + 0.2 * n for n in range(10)] + [1005.0] * 100 + [1005.2, 1005.4]
    assert len(flagged("meter_stuck", readings({"smart": day}, step=timedelta(minutes=15)))) == 99


def test_register_wrap_is_not_a_rollback_when_the_register_width_is_declared():
    wrapping = readings({"m": [99_950.0, 99_990.0, 30.0, 70.0]})
    assert flagged("meter_rollback", wrapping) == [("m", 30.0)]
    item_rules = {"cumulative_value": {"max": 99_999.99}}
    assert flagged("meter_rollback", wrapping, item_rules=item_rules) == []
    assert (
        flagged(
            "meter_spike", wrapping + readings({"m": [110.0]}, start=T0 + 4 * timedelta(days=30)), item_rules=item_rules
        )
        == []
    )


def test_missing_meters_values_and_empty_batches_are_not_flagged():
    rows = readings({"m": [100.0, None, 90.0]}) + [
        {"meter_id": None, "reading_time": T0, "cumulative_value": 1.0, "meter_event": None}
    ]
    assert flagged("meter_rollback", rows) == [("m", 90.0)]  # the missing value hides no drop
    undated = readings({"m": [100.0, 130.0]}) + [
        {"meter_id": "m", "reading_time": None, "cumulative_value": 5.0, "meter_event": None}
    ]
    assert flagged("meter_rollback", undated) == []  # an undated reading is not the latest
    for name in ("meter_rollback", "meter_spike", "meter_stuck"):
        assert flagged(name, []) == [] and flagged(name, [], readings({"m": [1.0, 2.0]})) == []


def test_staged_history_may_have_other_column_types():
    staged = pa.Table.from_pylist(
        readings({"m": [100.0, 130.0, 160.0]}),
        schema=pa.schema(
            [
                ("meter_id", pa.large_string()),
                ("reading_time", pa.timestamp("us", "UTC")),
                ("cumulative_value", pa.float64()),
                ("meter_event", pa.string()),
            ]
        ),
    )
    later = table(readings({"m": [150.0]}, start=T0 + 3 * timedelta(days=30)))
    assert ROW_CHECKS["meter_rollback"].mask(later, METER, {}, staged).tolist() == [True]


def test_the_plan_passes_the_registers_width_and_history_by_check_name():
    resource = next(r for r in seed_catalogue().resources if r.id == "electricity_readings")
    checks = [c for c in plan_checks(resource) if c.kind.startswith("meter_")]
    assert {c.name: c.severity for c in checks} == {
        "meter_rollback": "critical",
        "meter_spike": "warning",
        "meter_stuck": "warning",
    }
    assert checks[0].params["item_rules"]["cumulative_value"]["max"] == 999999.99
    staged = table(readings({"m": [100.0, 130.0]}))
    later = table(readings({"m": [120.0]}, start=T0 + 2 * timedelta(days=30)))
    verdicts = evaluate(checks, later, {"meter_rollback": staged})
    assert verdicts.masks["meter_rollback"].tolist() == [True] and not verdicts.masks["meter_spike"].any()


# --- households --------------------------------------------------------------------------------

HOUSEHOLD = {"household": "hh", "relation": "yhzgx"}


def members(*rows: tuple) -> pa.Table:
    return pa.table(
        {"hh": [r[0] for r in rows], "yhzgx": [r[1] for r in rows]},
        schema=pa.schema([("hh", pa.string()), ("yhzgx", pa.string())]),
    )


def test_members_of_a_household_without_a_head_are_flagged():
    batch = members(("A", "02"), ("A", "10"), ("B", "10"), ("B", "20"), ("C", "10"), (None, "10"), ("D", None))
    assert ROW_CHECKS["household_head"].mask(batch, HOUSEHOLD, {}, None).tolist() == [
        False,
        False,
        True,
        True,
        True,
        False,
        True,
    ]


def test_a_head_staged_in_an_earlier_load_counts():
    batch = members(("B", "10"), ("C", "30"))
    staged = members(("B", "02"), ("Z", "02"))
    assert ROW_CHECKS["household_head"].mask(batch, HOUSEHOLD, {}, staged).tolist() == [False, True]
    assert ROW_CHECKS["household_head"].mask(batch, HOUSEHOLD, {}, members()).tolist() == [True, True]


def test_the_head_code_is_a_parameter():
    batch = members(("A", "01"), ("A", "10"))
    assert ROW_CHECKS["household_head"].mask(batch, HOUSEHOLD, {"head": "01"}, None).tolist() == [False, False]
    assert ROW_CHECKS["household_head"].mask(batch, HOUSEHOLD, {}, None).tolist() == [True, True]


# --- geometry --------------------------------------------------------------------------------------

GEOMETRIES = [
    ("POINT (113.25 22.84)", "EPSG:4490", True),
    ("POINT (22.84 113.25)", "EPSG:4490", False),
    ("POINT (0 0)", "EPSG:4490", False),
    ("POINT EMPTY", "EPSG:4490", False),
    ("", "EPSG:4490", False),
    ("POINT Z (113.25 22.84 12.5)", "EPSG:4490", True),
    ("POINT ZM (113.25 22.84 1 2)", "epsg:4326", True),
    ("LINESTRING (113.2 22.8, 113.3 22.9)", "OGC:CRS84", True),
    ("LINESTRING (113.2 22.8, 114.3 22.9)", "EPSG:4490", False),
    ("POLYGON ((420000 2530000, 420100 2530000, 420100 2530100, 420000 2530000))", "EPSG:4547", True),
    ("POLYGON ((2530000 420000, 2530000 420100, 2530100 420100, 2530000 420000))", "EPSG:4547", False),
    ("POLYGON ((113.2 22.8, 113.3 22.8, 113.2 22.9, 113.2 22.8))", "EPSG:4547", False),  # degrees labelled metres
    ("POLYGON ((420000 2530000, 420100 2530000, 420100 2530100, 420000 2530000))", "EPSG:4490", False),
    ("POLYGON ((113.2 22.8, nan nan, 113.2 22.8))", "EPSG:4490", False),
    ("POINT (nan nan)", "EPSG:4490", False),
    ("POINT (113.25 22.84)", None, False),
    ("POINT (113.25 22.84)", "EPSG:3857", False),
    (
        "MULTIPOLYGON (((113.2 22.8, 113.3 22.8, 113.2 22.9, 113.2 22.8)), "
        "((113.21 22.81, 113.22 22.81, 113.21 22.82, 113.21 22.81)))",
        "EPSG:4490",
        True,
    ),
    ("GEOMETRYCOLLECTION (POINT (113.2 22.8), LINESTRING EMPTY, POINT (0 0))", "EPSG:4490", False),
    ("GEOMETRYCOLLECTION (POINT (113.2 22.8), LINESTRING EMPTY)", "EPSG:4490", True),
    ("SRID=4490;POINT (113.25 22.84)", "EPSG:4490", True),
    ("CIRCULARSTRING (113.2 22.8, 113.3 22.9, 113.2 22.85)", "EPSG:4490", False),
    ("POINT (113.25)", "EPSG:4490", False),
    ("POINT (1.1325e2 2.284e1)", "EPSG:4490", True),
    ("POINT(113.25 22.84)", "EPSG:4490", True),
    ("MULTIPOINT ((113.2 22.8), (113.3 22.9))", "EPSG:4490", True),
    ("POINT (112.95 22.63)", "EPSG:4490", True),
    ("POINT (112.9499 22.63)", "EPSG:4490", False),
    ("garbage", "EPSG:4490", False),
    ("POINT (113.25 22.84 1 2 3)", "EPSG:4490", False),
]


@pytest.mark.parametrize(("wkt", "crs", "inside"), GEOMETRIES)
def test_geometry_in_box(wkt, crs, inside):
    assert geometry_in_box(wkt, crs) is inside
    assert geometry_in_box_mask(pa.array([wkt]), pa.array([crs], pa.string())).tolist() == [inside]


def test_a_point_inside_the_lon_lat_box_is_inside_it_in_epsg_4547_too():
    lons, lats = np.meshgrid(np.linspace(112.95, 113.42, 30), np.linspace(22.63, 23.06, 30))
    xs, ys = geo.project_4547(lons.ravel(), lats.ravel())
    wkts = pa.array([f"POINT ({float(x)!r} {float(y)!r})" for x, y in zip(xs, ys)])
    assert geometry_in_box_mask(wkts, pa.array(["EPSG:4547"] * len(wkts))).all()
    swapped = pa.array([f"POINT ({float(y)!r} {float(x)!r})" for x, y in zip(xs, ys)])
    assert not geometry_in_box_mask(swapped, pa.array(["EPSG:4547"] * len(wkts))).any()


def test_geometry_check_leaves_missing_geometries_to_not_null():
    batch = pa.table(
        {"g": [w for w, _, _ in GEOMETRIES] + [None], "crs": [c for _, c, _ in GEOMETRIES] + ["EPSG:4490"]}
    )
    mask = ROW_CHECKS["geometry_in_box"].mask(batch, {"geometry": "g", "crs": "crs"}, {}, None)
    assert mask.tolist() == [not inside for _, _, inside in GEOMETRIES] + [False]
    assert set(BOXES) >= {"EPSG:4490", "EPSG:4547", "EPSG:4326"}


# --- GCJ-02 against the survey -----------------------------------------------------------------------


def surveyed_points(count: int, error_m: float, seed: int = 3) -> tuple[np.ndarray, ...]:
    """True positions over the box, their EPSG:4547 survey, and GPS fixes `error_m` off per axis."""
    rng = np.random.default_rng(seed)
    lons, lats = rng.uniform(112.97, 113.40, count), rng.uniform(22.65, 23.04, count)
    xs, ys = geo.project_4547(lons, lats)
    fix_lons = lons + rng.normal(0, error_m, count) / (111_320 * np.cos(np.radians(lats)))
    fix_lats = lats + rng.normal(0, error_m, count) / 110_574
    return fix_lons, fix_lats, xs, ys


def gcj_table(lons, lats, xs, ys) -> pa.Table:
    return pa.table({"lon": lons, "lat": lats, "x": xs, "y": ys})


GCJ_ROLES = {"lon": "lon", "lat": "lat", "x": "x", "y": "y"}


@pytest.mark.parametrize("error_m", [0.0, 4.0, 25.0])
def test_gcj02_points_are_flagged_and_gps_fixes_are_not(error_m):
    lons, lats, xs, ys = surveyed_points(4000, error_m)
    check = ROW_CHECKS["gcj02_shift"]
    assert not check.mask(gcj_table(lons, lats, xs, ys), GCJ_ROLES, {}, None).any()
    shifted = geo.wgs84_to_gcj02(lons, lats)
    assert check.mask(gcj_table(*shifted, xs, ys), GCJ_ROLES, {}, None).all()


def test_a_point_wrong_by_as_much_in_another_direction_is_not_gcj02():
    lons, lats, xs, ys = surveyed_points(200, 0.0)
    north = lats + 630 / 110_574
    mirrored = 2 * lons - geo.wgs84_to_gcj02(lons, lats)[0], 2 * lats - geo.wgs84_to_gcj02(lons, lats)[1]
    check = ROW_CHECKS["gcj02_shift"]
    assert not check.mask(gcj_table(lons, north, xs, ys), GCJ_ROLES, {}, None).any()
    assert not check.mask(gcj_table(*mirrored, xs, ys), GCJ_ROLES, {}, None).any()


def test_missing_points_or_surveys_are_not_flagged():
    lon, lat = geo.wgs84_to_gcj02(113.25, 22.84)
    x, y = geo.project_4547(113.25, 22.84)
    batch = pa.table(
        {"lon": [lon, None, lon], "lat": [lat, lat, lat], "x": [x, x, None], "y": [y, y, y]},
        schema=pa.schema([(n, pa.float64()) for n in ("lon", "lat", "x", "y")]),
    )
    assert ROW_CHECKS["gcj02_shift"].mask(batch, GCJ_ROLES, {}, None).tolist() == [True, False, False]
