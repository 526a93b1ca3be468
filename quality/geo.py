"""Coordinate checks for Shunde and the public GCJ-02 / BD-09 ↔ WGS84 conversions.

Every function takes scalars or arrays (numpy, pyarrow, pandas, lists; None/NaN allowed): scalars
give a Python bool / float tuple, arrays give numpy arrays. WGS84 and CGCS2000 (EPSG:4326/4490)
are treated as the same at this scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quality.arrays import as_float_array
from quality.arrays import is_scalar as _is_scalar

#: Validation box (WGS84 degrees), DOMAIN §3.
SHUNDE_BOX = {"lon_min": 112.95, "lon_max": 113.42, "lat_min": 22.63, "lat_max": 23.06}
#: A point is flagged as GCJ-02 when its offset from a true reference is within this of the
#: GCJ-02 offset at that reference (the offset itself is ≈ 630 m here, so a correct point, offset
#: ≈ 0, is never within it).
GCJ02_SHIFT_TOLERANCE_M = 120.0

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the public GCJ-02 algorithm uses
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


def _floats(value: Any) -> np.ndarray:
    return as_float_array(value)


def _out(scalar: bool, result: np.ndarray) -> Any:
    if scalar:
        return result.item() if result.dtype != bool else bool(result[0])
    return result


def lon_in_box(lon: Any) -> Any:
    """Longitude within Shunde's box (112.95–113.42 °E); None/NaN/non-numbers are not."""
    lons = _floats(lon)
    inside = (lons >= SHUNDE_BOX["lon_min"]) & (lons <= SHUNDE_BOX["lon_max"])
    return _out(_is_scalar(lon), inside)


def lat_in_box(lat: Any) -> Any:
    """Latitude within Shunde's box (22.63–23.06 °N)."""
    lats = _floats(lat)
    inside = (lats >= SHUNDE_BOX["lat_min"]) & (lats <= SHUNDE_BOX["lat_max"])
    return _out(_is_scalar(lat), inside)


def in_shunde_box(lon: Any, lat: Any) -> Any:
    """The point lies in Shunde's validation box."""
    inside = np.asarray(lon_in_box(_floats(lon))) & np.asarray(lat_in_box(_floats(lat)))
    return _out(_is_scalar(lon), inside)


def looks_swapped(lon: Any, lat: Any) -> Any:
    """Outside the box as given, inside once longitude and latitude are exchanged."""
    lons, lats = _floats(lon), _floats(lat)
    swapped = ~in_shunde_box(lons, lats) & in_shunde_box(lats, lons)
    return _out(_is_scalar(lon), swapped)


def is_null_island(lon: Any, lat: Any) -> Any:
    """Exactly (0, 0): a default written where a position was unknown."""
    lons, lats = _floats(lon), _floats(lat)
    return _out(_is_scalar(lon), (lons == 0.0) & (lats == 0.0))


# ---- GCJ-02 / BD-09 ---------------------------------------------------------------------------


def _out_of_china(lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    # The public algorithm leaves points outside this rough box unchanged.
    return (lons < 72.004) | (lons > 137.8347) | (lats < 0.8293) | (lats > 55.8271)


def _gcj02_delta(lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS84 points (the widely published formula)."""
    x, y = lons - 105.0, lats - 35.0
    waves = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + waves
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + waves
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lats / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = _out_of_china(lons, lats)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _pair(lon: Any, lat: Any, lons: np.ndarray, lats: np.ndarray) -> Any:
    if _is_scalar(lon):
        return float(lons[0]), float(lats[0])
    return lons, lats


def wgs84_to_gcj02(lon: Any, lat: Any) -> Any:
    """WGS84 → GCJ-02 (web-map coordinates). Returns (lon, lat)."""
    lons, lats = _floats(lon), _floats(lat)
    dlon, dlat = _gcj02_delta(lons, lats)
    return _pair(lon, lat, lons + dlon, lats + dlat)


def gcj02_to_wgs84(lon: Any, lat: Any, *, tolerance_deg: float = 1e-9, max_iter: int = 30) -> Any:
    """GCJ-02 → WGS84 by the standard fixed-point inverse: guess, shift forward, correct by the
    miss, repeat until the miss is below `tolerance_deg` (≈ 0.1 mm). Returns (lon, lat)."""
    target_lons, target_lats = _floats(lon), _floats(lat)
    lons, lats = target_lons.copy(), target_lats.copy()
    for _ in range(max_iter):
        dlon, dlat = _gcj02_delta(lons, lats)
        miss_lon, miss_lat = lons + dlon - target_lons, lats + dlat - target_lats
        lons, lats = lons - miss_lon, lats - miss_lat
        worst = np.abs(np.concatenate([miss_lon, miss_lat]))
        if np.max(np.nan_to_num(worst, nan=0.0), initial=0.0) < tolerance_deg:
            break
    return _pair(lon, lat, lons, lats)


def bd09_to_gcj02(lon: Any, lat: Any) -> Any:
    """BD-09 (Baidu) → GCJ-02: undo Baidu's extra offset and rotation. Returns (lon, lat)."""
    x, y = _floats(lon) - 0.0065, _floats(lat) - 0.006
    radius = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _pair(lon, lat, radius * np.cos(theta), radius * np.sin(theta))


def gcj02_to_bd09(lon: Any, lat: Any) -> Any:
    """GCJ-02 → BD-09 (Baidu). Returns (lon, lat)."""
    x, y = _floats(lon), _floats(lat)
    radius = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _pair(lon, lat, radius * np.cos(theta) + 0.0065, radius * np.sin(theta) + 0.006)


def bd09_to_wgs84(lon: Any, lat: Any) -> Any:
    """BD-09 → WGS84 (through GCJ-02). Returns (lon, lat)."""
    gcj_lons, gcj_lats = bd09_to_gcj02(_floats(lon), _floats(lat))
    return _pair(lon, lat, *gcj02_to_wgs84(gcj_lons, gcj_lats))


def offset_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> tuple[np.ndarray, np.ndarray]:
    """(east, north) metres from point 1 to point 2 (local flat approximation, fine below ~10 km)."""
    lons1, lats1, lons2, lats2 = (_floats(v) for v in (lon1, lat1, lon2, lat2))
    east = (lons2 - lons1) * _M_PER_DEG_LON_EQUATOR * np.cos(np.radians((lats1 + lats2) / 2))
    return east, (lats2 - lats1) * _M_PER_DEG_LAT


def distance_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Metres between two points (local flat approximation)."""
    east, north = offset_m(lon1, lat1, lon2, lat2)
    return _out(_is_scalar(lon1), np.hypot(east, north))


def suspect_gcj02_shift(
    points_lon: Any,
    points_lat: Any,
    ref_lon: Any,
    ref_lat: Any,
    *,
    tolerance_m: float = GCJ02_SHIFT_TOLERANCE_M,
) -> Any:
    """Flag points that sit where GCJ-02 would put their reference.

    Rule: let R be a true WGS84 reference for the point (a surveyed position, the matching
    standard-address point, …) and G = wgs84_to_gcj02(R). The point P is flagged when
    |P − G| ≤ `tolerance_m` metres. Here G − R ≈ 550 m east, 300 m south, so a correct point
    (P ≈ R) is ~630 m from G and never flagged as long as the tolerance stays well under that and
    the reference is accurate to better than the tolerance. A coarse reference (a town centre, km
    off) cannot judge single points: compare the batch median with `median_offset_looks_gcj02`.
    Missing points or references are not flagged.
    """
    shifted_lons, shifted_lats = wgs84_to_gcj02(_floats(ref_lon), _floats(ref_lat))
    miss = np.asarray(distance_m(_floats(points_lon), _floats(points_lat), shifted_lons, shifted_lats))
    return _out(_is_scalar(points_lon), miss <= tolerance_m)


def median_offset_looks_gcj02(
    points_lon: Any,
    points_lat: Any,
    ref_lon: Any,
    ref_lat: Any,
    *,
    tolerance_m: float = GCJ02_SHIFT_TOLERANCE_M,
) -> bool:
    """A whole batch looks GCJ-02: the median (east, north) offset of points from their references
    is within `tolerance_m` of the median GCJ-02 offset at those references. Works with coarse
    references (geocoded addresses, town centres) because their errors average out."""
    lons, lats, rlons, rlats = (_floats(v) for v in (points_lon, points_lat, ref_lon, ref_lat))
    seen = ~(np.isnan(lons) | np.isnan(lats) | np.isnan(rlons) | np.isnan(rlats))
    if not seen.any():
        return False
    east, north = offset_m(rlons[seen], rlats[seen], lons[seen], lats[seen])
    gcj_lons, gcj_lats = wgs84_to_gcj02(rlons[seen], rlats[seen])
    gcj_east, gcj_north = offset_m(rlons[seen], rlats[seen], gcj_lons, gcj_lats)
    miss = np.hypot(np.median(east) - np.median(gcj_east), np.median(north) - np.median(gcj_north))
    return bool(miss <= tolerance_m)


# ---- EPSG:4547 (CGCS2000 3° Gauss-Krüger, central meridian 114°E) -------------------------------

_GK_A, _GK_F = 6378137.0, 1 / 298.257222101
_GK_E2 = _GK_F * (2 - _GK_F)
_GK_EP2 = _GK_E2 / (1 - _GK_E2)
_GK_LON0, GK_FALSE_EASTING = np.radians(114.0), 500_000.0


def project_4547(lon: Any, lat: Any) -> tuple[Any, Any]:
    """CGCS2000 lon/lat (degrees) → EPSG:4547 (easting, northing) metres; transverse Mercator series
    (sub-millimetre inside Shunde). Scalars in, scalars out; arrays in, arrays out."""
    phi, lam = np.radians(_floats(lat)), np.radians(_floats(lon))
    n = _GK_A / np.sqrt(1 - _GK_E2 * np.sin(phi) ** 2)
    t, c = np.tan(phi) ** 2, _GK_EP2 * np.cos(phi) ** 2
    a = np.cos(phi) * (lam - _GK_LON0)
    e2, e4, e6 = _GK_E2, _GK_E2**2, _GK_E2**3
    m = _GK_A * (
        (1 - e2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * phi
        - (3 * e2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * np.sin(2 * phi)
        + (15 * e4 / 256 + 45 * e6 / 1024) * np.sin(4 * phi)
        - (35 * e6 / 3072) * np.sin(6 * phi)
    )
    x = n * (a + (1 - t + c) * a**3 / 6 + (5 - 18 * t + t * t + 72 * c - 58 * _GK_EP2) * a**5 / 120)
    y = m + n * np.tan(phi) * (
        a * a / 2
        + (5 - t + 9 * c + 4 * c * c) * a**4 / 24
        + (61 - 58 * t + t * t + 600 * c - 330 * _GK_EP2) * a**6 / 720
    )
    return _pair(lon, lat, x + GK_FALSE_EASTING, y)


def gcj02_against_survey(
    lon: Any, lat: Any, easting: Any, northing: Any, *, tolerance_m: float = 150.0, apart_m: float = 300.0
) -> Any:
    """Points reported as WGS84 that are really GCJ-02: undoing the GCJ-02 shift lands them within
    `tolerance_m` of their surveyed EPSG:4547 position while as reported they lie over `apart_m`
    away (the shift here is ≈ 630 m). The tolerance covers a GPS fix in a street canyon (tens of
    metres off) on top of the shift; a point hundreds of metres off in another direction is wrong,
    but not GCJ-02. Points or surveys missing: not flagged."""
    lons, lats, xs, ys = (_floats(v) for v in (lon, lat, easting, northing))
    undone = gcj02_to_wgs84(lons, lats)
    ux, uy = project_4547(*undone)
    px, py = project_4547(lons, lats)
    near = np.hypot(ux - xs, uy - ys) <= tolerance_m
    apart = np.hypot(px - xs, py - ys) > apart_m
    return _out(_is_scalar(lon), near & apart)
