"""Coordinate checks and the GCJ-02 / BD-09 ↔ WGS84 conversions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from catalog.reference import SHUNDE_TOWN_CENTRES
from quality import geo

DALIANG = (113.25, 22.84)


def grid(count: int = 40) -> tuple[np.ndarray, np.ndarray]:
    lons, lats = np.meshgrid(np.linspace(112.95, 113.42, count), np.linspace(22.63, 23.06, count))
    return lons.ravel(), lats.ravel()


def test_box_edges_and_missing_values():
    assert geo.in_shunde_box(*DALIANG) is True
    assert geo.in_shunde_box(112.95, 22.63) and geo.in_shunde_box(113.42, 23.06)
    assert not geo.in_shunde_box(112.9499, 22.8) and not geo.in_shunde_box(113.2, 23.0601)
    assert geo.in_shunde_box(None, 22.8) is False and geo.in_shunde_box(float("nan"), 22.8) is False
    assert geo.in_shunde_box("113.25", "22.84") is False
    mask = geo.in_shunde_box(pa.array([113.25, None, 0.0]), pd.Series([22.84, 22.84, 0.0]))
    assert mask.tolist() == [True, False, False]


def test_swapped_and_null_island():
    assert geo.looks_swapped(22.84, 113.25) is True
    assert geo.looks_swapped(*DALIANG) is False
    assert geo.looks_swapped(0.0, 0.0) is False
    assert geo.is_null_island(0, 0) is True and geo.is_null_island(0.0, 22.8) is False
    assert geo.is_null_island([0.0, None, 113.2], [0.0, 0.0, 22.8]).tolist() == [True, False, False]
    assert geo.looks_swapped([22.84, 113.25, None], [113.25, 22.84, 1.0]).tolist() == [True, False, False]


def test_gcj02_offset_matches_domain_figures():
    gcj_lon, gcj_lat = geo.wgs84_to_gcj02(*DALIANG)
    east, north = geo.offset_m(*DALIANG, gcj_lon, gcj_lat)
    assert 450 < east[0] < 650 and -400 < north[0] < -200  # ≈ 550 m east, 300 m south


def test_gcj02_round_trip_under_a_metre_over_the_box():
    lons, lats = grid()
    back_lons, back_lats = geo.gcj02_to_wgs84(*geo.wgs84_to_gcj02(lons, lats))
    assert np.max(geo.distance_m(lons, lats, back_lons, back_lats)) < 1.0
    # and the other way round: a GCJ-02 point converted to WGS84 maps back onto itself
    again_lons, again_lats = geo.wgs84_to_gcj02(*geo.gcj02_to_wgs84(lons, lats))
    assert np.max(geo.distance_m(lons, lats, again_lons, again_lats)) < 1.0


def test_scalar_and_array_forms_agree():
    lons, lats = grid(5)
    arrays = geo.gcj02_to_wgs84(lons, lats)
    for i in range(len(lons)):
        single = geo.gcj02_to_wgs84(float(lons[i]), float(lats[i]))
        assert isinstance(single[0], float)
        assert single == pytest.approx((arrays[0][i], arrays[1][i]), abs=1e-9)


def test_outside_china_and_missing_are_left_alone():
    assert geo.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert geo.gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)
    lons, lats = geo.gcj02_to_wgs84([None, 113.25], [22.84, 22.84])
    assert np.isnan(lons[0]) and not np.isnan(lons[1])


def test_bd09_round_trip():
    lons, lats = grid(10)
    bd_lons, bd_lats = geo.gcj02_to_bd09(lons, lats)
    assert np.min(geo.distance_m(lons, lats, bd_lons, bd_lats)) > 500  # BD-09 is visibly elsewhere
    back_lons, back_lats = geo.bd09_to_gcj02(bd_lons, bd_lats)
    assert np.max(geo.distance_m(lons, lats, back_lons, back_lats)) < 1.0
    wgs_lons, wgs_lats = geo.bd09_to_wgs84(*geo.gcj02_to_bd09(*geo.wgs84_to_gcj02(lons, lats)))
    assert np.max(geo.distance_m(lons, lats, wgs_lons, wgs_lats)) < 1.0


def test_suspect_gcj02_shift_flags_shifted_points_only():
    refs = np.array(list(SHUNDE_TOWN_CENTRES.values()))
    ref_lons, ref_lats = refs[:, 0], refs[:, 1]
    shifted = geo.wgs84_to_gcj02(ref_lons, ref_lats)
    assert geo.suspect_gcj02_shift(*shifted, ref_lons, ref_lats).all()
    assert not geo.suspect_gcj02_shift(ref_lons, ref_lats, ref_lons, ref_lats).any()
    # within the tolerance of the GCJ-02 position still counts, well outside it does not
    east_80m = shifted[0] + 80 / (111_320 * np.cos(np.radians(ref_lats)))
    assert geo.suspect_gcj02_shift(east_80m, shifted[1], ref_lons, ref_lats).all()
    east_300m = shifted[0] + 300 / (111_320 * np.cos(np.radians(ref_lats)))
    assert not geo.suspect_gcj02_shift(east_300m, shifted[1], ref_lons, ref_lats).any()
    # shifted the other way (west / north) is not GCJ-02
    mirrored = (2 * ref_lons - shifted[0], 2 * ref_lats - shifted[1])
    assert not geo.suspect_gcj02_shift(*mirrored, ref_lons, ref_lats).any()
    assert geo.suspect_gcj02_shift(None, 22.8, *DALIANG) is False
    assert geo.suspect_gcj02_shift(*geo.wgs84_to_gcj02(*DALIANG), *DALIANG) is True


def test_batch_rule_works_with_coarse_references():
    rng = np.random.default_rng(2)
    ref = np.array(list(SHUNDE_TOWN_CENTRES.values()))[rng.integers(0, 10, 500)]
    # true positions scattered ~1 km around the town centre the address geocodes to
    true_lons = ref[:, 0] + rng.normal(0, 0.01, 500)
    true_lats = ref[:, 1] + rng.normal(0, 0.01, 500)
    gcj_lons, gcj_lats = geo.wgs84_to_gcj02(true_lons, true_lats)
    assert geo.median_offset_looks_gcj02(gcj_lons, gcj_lats, ref[:, 0], ref[:, 1])
    assert not geo.median_offset_looks_gcj02(true_lons, true_lats, ref[:, 0], ref[:, 1])
    assert not geo.median_offset_looks_gcj02([None], [None], [113.2], [22.8])


def test_gcj02_against_the_surveyed_position():
    lons, lats = grid(12)
    xs, ys = geo.project_4547(lons, lats)
    gcj_lons, gcj_lats = geo.wgs84_to_gcj02(lons, lats)
    assert geo.gcj02_against_survey(gcj_lons, gcj_lats, xs, ys).all()
    assert not geo.gcj02_against_survey(lons, lats, xs, ys).any()
    # a GPS fix off by street-canyon metres on top of the shift still counts; 200 m off is another error
    north = 100 / 110_574
    assert geo.gcj02_against_survey(gcj_lons, gcj_lats + north, xs, ys).all()
    assert not geo.gcj02_against_survey(gcj_lons, gcj_lats + 2 * north, xs, ys).any()
    assert geo.gcj02_against_survey(gcj_lons[0], gcj_lats[0], xs[0], ys[0]) is True
    assert geo.gcj02_against_survey(None, gcj_lats[0], xs[0], ys[0]) is False
    assert geo.gcj02_against_survey(gcj_lons[0], gcj_lats[0], float("nan"), ys[0]) is False


def test_project_4547_scalar_and_array_forms_agree_and_cover_the_box():
    lons, lats = grid(9)
    xs, ys = geo.project_4547(lons, lats)
    # DOMAIN §3's rounded northings (2,504,000–2,551,000) are a little short of the box's corners
    assert (392_000 <= xs).all() and (xs <= 441_000).all() and (2_503_000 <= ys).all() and (ys <= 2_552_000).all()
    assert ys.min() < 2_504_000 and ys.max() > 2_551_000
    assert geo.project_4547(float(lons[5]), float(lats[5])) == (xs[5], ys[5])
    assert geo.project_4547(114.0, 0.0) == (500_000.0, 0.0)
