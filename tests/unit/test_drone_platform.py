"""The drone platform's stand-in (synthetic/drone.py) reproduces the district's figures, and its
row-set checks (quality/dronechecks.py) judge footprints, flights and work orders as documented."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
import shapely
from seed_kit import seed_catalogue

from catalog.reference import SHUNDE_TOWNS
from quality import dronechecks
from quality.plan import ROW_CHECKS
from quality.rowchecks import geometry_in_box_mask
from synthetic import drone
from synthetic.base import DEFAULT_AS_OF, ResourceContext
from synthetic.defects import Tally


def context(resource_id: str, scale: str, step: int = 0) -> ResourceContext:
    resource = next(r for r in seed_catalogue().resources if r.id == resource_id)
    return ResourceContext(resource, 7, scale, step, DEFAULT_AS_OF, Tally([i.name for i in resource.items if i.key]))


@pytest.fixture(scope="module")
def full_imagery() -> tuple[list[dict], ResourceContext]:
    ctx = context("drone_imagery", "full")
    return [row for chunk in drone.imagery(ctx) for row in chunk], ctx


def test_full_scale_reproduces_the_districts_gathered_areas(full_imagery):
    rows, _ = full_imagery
    gathered = Counter()
    for row in rows:
        gathered[row["yxlx"]] += row["mj"]
    assert gathered["正射"] == pytest.approx(drone.FULL_ORTHO_KM2, rel=0.02)
    assert gathered["全景"] == pytest.approx(drone.FULL_PANORAMA_KM2, rel=0.02)
    assert {row["ssjz"] for row in rows} == set(SHUNDE_TOWNS)


def test_repeat_flights_cover_far_less_ground_than_they_gather(full_imagery):
    rows, ctx = full_imagery
    defective = {identity for ids in ctx.tally.defects.values() for identity in ids}
    clean = [r for r in rows if r["yxbh"] not in defective]
    for kind in ("正射", "全景"):
        shapes = shapely.from_wkt([r["geometry"] for r in clean if r["yxlx"] == kind])
        covered = shapely.union_all(shapes).area / 1e6
        gathered = sum(r["mj"] for r in clean if r["yxlx"] == kind)
        assert 0 < covered < gathered / 3, kind  # each route flown many times over
        assert covered < 806  # never more than the district


def test_areas_are_the_footprints_areas_and_every_clean_footprint_is_valid_and_inside(full_imagery):
    rows, ctx = full_imagery
    defective = {identity for ids in ctx.tally.defects.values() for identity in ids}
    clean = [r for r in rows if r["yxbh"] not in defective]
    shapes = shapely.from_wkt([r["geometry"] for r in clean])
    assert shapely.is_valid(shapes).all()
    assert np.allclose(shapely.area(shapes) / 1e6, [r["mj"] for r in clean], atol=1e-5)
    assert geometry_in_box_mask([r["geometry"] for r in clean], ["EPSG:4547"] * len(clean)).all()


def test_full_scale_work_orders_match_the_districts_count_and_categories():
    ctx = context("drone_work_orders", "full")
    rows = [row for chunk in drone.work_orders(ctx) for row in chunk]
    assert len(rows) == drone.FULL_WORK_ORDERS == 8995
    assert len({r["gdbh"] for r in rows}) == len(rows)
    assert {r["sjlb"] for r in rows} == set(drone.CATEGORIES)
    assert {r["zt"] for r in rows} == set(drone.STATUSES)
    assert {r["zpbm"] for r in rows} == {department for _, department in drone.CATEGORIES.values()}


def test_smaller_scales_are_proportional():
    small = [row for chunk in drone.imagery(context("drone_imagery", "small")) for row in chunk]
    ortho = sum(r["mj"] for r in small if r["yxlx"] == "正射")
    assert ortho == pytest.approx(drone.FULL_ORTHO_KM2 / 20, rel=0.1)
    orders = [row for chunk in drone.work_orders(context("drone_work_orders", "small")) for row in chunk]
    assert len(orders) == round(drone.FULL_WORK_ORDERS / 20)


def test_missions_and_imagery_share_one_flight_stream():
    missions = {r["rwbh"]: r for chunk in drone.missions(context("drone_flight_missions", "small")) for r in chunk}
    images = [r for chunk in drone.imagery(context("drone_imagery", "small")) for r in chunk]
    assert images and all(missions[i["rwbh"]]["hxbh"] == i["hxbh"] for i in images)
    assert all(missions[i["rwbh"]]["qfsj"] <= i["pssj"] <= missions[i["rwbh"]]["jlsj"] for i in images)
    assert max(Counter(m["hxbh"] for m in missions.values()).values()) > 1  # routes are flown again


def test_later_steps_number_on_without_colliding():
    first = {r["gdbh"] for c in drone.work_orders(context("drone_work_orders", "small")) for r in c}
    later = {
        r["gdbh"] for step in (1, 2) for c in drone.work_orders(context("drone_work_orders", "small", step)) for r in c
    }
    assert later and not first & later


# --- the row checks ------------------------------------------------------------------------------------

SQUARE = "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))"
BOW_TIE = "POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))"


def test_geometry_valid_flags_bow_ties_and_unreadable_text_not_nulls():
    failing = ROW_CHECKS["geometry_valid"].mask(
        pa.table({"g": [SQUARE, BOW_TIE, "POLYGON ((0 0, 1", None, "POLYGON EMPTY"]}), {"geometry": "g"}, {}, None
    )
    assert failing.tolist() == [False, True, True, False, True]


T0 = datetime(2026, 11, 1, 8, tzinfo=timezone.utc)


def orders(*rows) -> pa.Table:
    """Work orders as (id, state, reported, distributed, verified, disposed) with times in hours after T0."""
    moment = pa.timestamp("us", tz="Asia/Shanghai")

    def at(hours):
        return None if hours is None else T0 + timedelta(hours=hours)

    columns = list(zip(*rows))
    return pa.table(
        {
            "gdbh": pa.array(columns[0]),
            "zt": pa.array(columns[1]),
            **{
                name: pa.array([at(h) for h in columns[i]], moment)
                for i, name in enumerate(("sbsj", "ffsj", "hcsj", "czsj"), 2)
            },
        }
    )


STATUS_ROLES = {"order": "gdbh", "status": "zt", "distributed": "ffsj", "verified": "hcsj", "disposed": "czsj"}
DATE_ROLES = {"reported": "sbsj", "distributed": "ffsj", "verified": "hcsj", "disposed": "czsj"}


def test_work_order_status_matches_its_stage_times():
    table = orders(
        ("a", "待分发", 0, None, None, None),
        ("b", "待派遣", 0, 1, None, None),
        ("c", "已核查", 0, 1, 2, None),
        ("d", "已处置", 0, 1, 2, 3),
        ("e", "已处置", 0, 1, None, 3),  # never verified: a skipped state
        ("f", "待分发", 0, 1, None, None),  # distributed, yet still waiting to be
        ("g", "未知", 0, None, None, None),  # not a state: in_set answers for it
    )
    failing = ROW_CHECKS["work_order_status"].mask(table, STATUS_ROLES, {}, None)
    assert failing.tolist() == [False, False, False, False, True, True, False]


def test_work_order_status_never_goes_back_against_the_staged_state():
    history = orders(("a", "已处置", 0, 1, 2, 3), ("b", "待派遣", 0, 1, None, None))
    batch = orders(("a", "待派遣", 0, 1, None, None), ("b", "已处置", 0, 1, 2, 3), ("c", "待分发", 0, None, None, None))
    failing = ROW_CHECKS["work_order_status"].mask(batch, STATUS_ROLES, {}, history)
    assert failing.tolist() == [True, False, False]


def test_work_order_dates_run_in_order():
    table = orders(
        ("a", "已处置", 0, 1, 2, 3),
        ("b", "待派遣", 5, 1, None, None),  # distributed before it was reported
        ("c", "已处置", 0, None, 2, 1),  # disposed before verified (a gap does not hide it)
        ("d", "已处置", 0, 1, 1, 1),  # all at once is in order
    )
    assert ROW_CHECKS["work_order_dates"].mask(table, DATE_ROLES, {}, None).tolist() == [False, True, True, False]


def test_time_order_flags_a_landing_before_take_off():
    moment = pa.timestamp("us", tz="Asia/Shanghai")
    table = pa.table(
        {
            "up": pa.array([T0, T0, None], moment),
            "down": pa.array([T0 + timedelta(minutes=30), T0 - timedelta(minutes=1), T0], moment),
        }
    )
    assert ROW_CHECKS["time_order"].mask(table, {"earlier": "up", "later": "down"}, {}, None).tolist() == [
        False,
        True,
        False,
    ]


def test_the_injected_order_defects_fail_exactly_their_check():
    ctx = context("drone_work_orders", "small")
    rows = [row for chunk in drone.work_orders(ctx) for row in chunk]
    moment = pa.timestamp("us", tz="Asia/Shanghai")
    table = pa.table(
        {
            "gdbh": [r["gdbh"] for r in rows],
            "zt": [r["zt"] for r in rows],
            **{
                c: pa.array([datetime.fromisoformat(r[c]) if r[c] else None for r in rows], moment)
                for c in ("sbsj", "ffsj", "hcsj", "czsj")
            },
        }
    )
    status = ROW_CHECKS["work_order_status"].mask(table, STATUS_ROLES, {}, None)
    dates = ROW_CHECKS["work_order_dates"].mask(table, DATE_ROLES, {}, None)
    keys = np.array([r["gdbh"] for r in rows])
    assert set(keys[status]) == set(ctx.tally.defects["status_illegal_jump"]) != set()
    assert set(keys[dates]) == set(ctx.tally.defects["dispatch_before_report"]) != set()
    assert dronechecks.WORK_ORDER_STATES == drone.STATUSES
