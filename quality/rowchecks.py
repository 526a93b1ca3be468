"""Row-set checks a catalogue entry declares under `checks:` (registered in quality.plan.ROW_CHECKS).

Each judges rows together — a meter's readings in time order, a household's members, a geometry's
vertices — and returns True where a row of the batch fails. Checks with a `group` role see the
earlier landed rows of the same meters/households as `history`, so a series that continues from
an earlier load is judged as one series.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quality import geo, meters
from quality.arrays import as_string_array
from quality.plan import RowCheck, register_row_check

# --- meters -----------------------------------------------------------------------------------------

METER_ROLES = ("meter", "time", "value", "event")


def _series(
    table: pa.Table, columns: Mapping[str, str], history: pa.Table | None
) -> tuple[pa.Table, tuple[np.ndarray, np.ndarray]]:
    """History + batch as one series sorted by meter and time, one row per distinct reading; returns
    it and the batch rows it stands for: (batch positions, the series row of each).

    A reading sent twice (a connector replaying after a crash) is one reading: judged against
    itself it would look like a repeat, never like the rollback it may be. An earlier reading the
    batch repeats is left out of the history (the batch's copy is the one judged); readings missing
    meter, time or value are left out altogether."""
    names = [columns[role] for role in METER_ROLES]
    batch = table.select(names).append_column("_position", pa.array(np.arange(table.num_rows), pa.int64()))
    parts = [batch]
    if history is not None and history.num_rows:
        earlier = history.select(names).cast(batch.select(names).schema)
        seen = batch.select(names[:2]).append_column("_in_batch", pa.array(np.ones(batch.num_rows, dtype=bool)))
        earlier = earlier.join(seen, names[:2], join_type="left outer")
        earlier = earlier.filter(pc.is_null(earlier.column("_in_batch"))).drop_columns(["_in_batch"])
        parts.insert(
            0, earlier.select(names).append_column("_position", pa.array(np.full(earlier.num_rows, -1), pa.int64()))
        )
    combined = pa.concat_tables(parts, promote_options="permissive")  # staged columns may be nullable
    # A reading without meter, time or value has no place in a series (not_null answers for it); left
    # in, it would hide a drop behind it or, sorted last, look like the latest reading.
    placed = pc.and_(
        pc.and_(pc.is_valid(combined.column(names[0])), pc.is_valid(combined.column(names[1]))),
        pc.is_valid(combined.column(names[2])),
    )
    grouped = combined.filter(placed).group_by(names, use_threads=False).aggregate([("_position", "list")])
    distinct = grouped.select(names).append_column("_positions", grouped.column("_position_list"))
    distinct = distinct.take(pc.sort_indices(distinct, sort_keys=[(names[0], "ascending"), (names[1], "ascending")]))
    stood_for = distinct.column("_positions").combine_chunks()
    flat, parents = pc.list_flatten(stood_for).to_numpy(), pc.list_parent_indices(stood_for).to_numpy()
    in_batch = flat >= 0
    return distinct.drop_columns(["_positions"]), (flat[in_batch], parents[in_batch])


def _meter_check(judge):
    """A RowCheck mask: `judge(sorted_table, names, register_max) -> mask` mapped back to batch order."""

    def mask(
        table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None
    ) -> np.ndarray:
        out = np.zeros(table.num_rows, dtype=bool)
        if not table.num_rows:
            return out
        series, (positions, rows) = _series(table, columns, history)
        names = {role: columns[role] for role in METER_ROLES}
        register_max = (params.get("item_rules") or {}).get(names["value"], {}).get("max")
        flagged = np.asarray(judge(series, names, register_max), dtype=bool)
        out[positions[flagged[rows]]] = True
        return out

    return mask


def _columns(names: Mapping[str, str]) -> dict:
    return {"meter_col": names["meter"], "value_col": names["value"], "event_col": names["event"]}


#: A meter read at least hourly (15-minute points) is judged as a smart meter's series.
SMART_INTERVAL_HOURS = 1.0
_SECONDS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def _blocks(t: pa.Table, names: Mapping[str, str]) -> np.ndarray:
    """A number per meter (the sorted table's rows of one meter share it; a null meter stands alone)."""
    ids = t.column(names["meter"]).combine_chunks()
    same = np.zeros(t.num_rows, dtype=bool)
    if t.num_rows > 1:
        same[1:] = pc.equal(ids[1:], ids[:-1]).fill_null(False).to_numpy(zero_copy_only=False)
    return np.cumsum(~same)


def _hours_since_previous(t: pa.Table, names: Mapping[str, str]) -> np.ndarray:
    """Hours since the meter's previous reading; NaN on its first, or when times are not timestamps."""
    times = t.column(names["time"]).combine_chunks()
    if not pa.types.is_timestamp(times.type):
        return np.full(t.num_rows, np.nan)
    seconds = pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False).astype(float) / _SECONDS[times.type.unit]
    hours = np.full(t.num_rows, np.nan)
    blocks = _blocks(t, names)
    if t.num_rows > 1:
        hours[1:] = np.where(blocks[1:] == blocks[:-1], (seconds[1:] - seconds[:-1]) / 3600.0, np.nan)
    return hours


def _per_meter(values: np.ndarray, blocks: np.ndarray, how: str) -> np.ndarray:
    return pd.Series(values).groupby(blocks).transform(how).to_numpy()


def _spikes(t: pa.Table, names: Mapping[str, str], register_max: float | None) -> np.ndarray:
    """Consumption per hour since the previous reading above SPIKE_FACTOR × the meter's median rate,
    so that a read after skipped months or between monthly reads is not a spike; per reading when
    the times are not timestamps. At least 3 rates and a median above zero make a baseline."""
    hours = _hours_since_previous(t, names)
    if np.isnan(hours).all():
        return meters.spike_mask(t, register_max=register_max, **_columns(names))
    deltas = meters.consumption_deltas(t, register_max=register_max, **_columns(names))
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(hours > 0, deltas / hours, np.nan)
    blocks = _blocks(t, names)
    median, counted = _per_meter(rates, blocks, "median"), _per_meter(rates, blocks, "count")
    return (counted >= 3) & (median > 0) & (rates > meters.SPIKE_FACTOR * median)


def _stuck(t: pa.Table, names: Mapping[str, str], register_max: float | None) -> np.ndarray:
    """Flat runs of STUCK_MIN_RUN readings: 3 monthly reads, or a day (96) of a smart meter's points
    (a quiet night of a few flat 15-minute points is not a stuck meter)."""
    smart = _per_meter(_hours_since_previous(t, names), _blocks(t, names), "median") <= SMART_INTERVAL_HOURS
    monthly = meters.stuck_mask(t, min_run=meters.STUCK_MIN_RUN["monthly"], **_columns(names))
    if not smart.any():
        return monthly
    return np.where(smart, meters.stuck_mask(t, min_run=meters.STUCK_MIN_RUN["smart"], **_columns(names)), monthly)


register_row_check(
    RowCheck(
        "meter_rollback",
        METER_ROLES,
        _meter_check(lambda t, n, top: meters.rollback_mask(t, register_max=top, **_columns(n))),
        "critical",
        "a cumulative reading below the meter's previous one without a replacement/reset event (register wraps excepted)",
        group="meter",
    )
)
register_row_check(
    RowCheck(
        "meter_spike",
        METER_ROLES,
        _meter_check(_spikes),
        "warning",
        f"consumption per hour above {meters.SPIKE_FACTOR:g}× the meter's median rate",
        group="meter",
    )
)
register_row_check(
    RowCheck(
        "meter_stuck",
        METER_ROLES,
        _meter_check(_stuck),
        "warning",
        f"the same cumulative value in a run of {meters.STUCK_MIN_RUN['monthly']}+ monthly readings or "
        f"{meters.STUCK_MIN_RUN['smart']}+ smart-meter points (the run's first is real)",
        group="meter",
    )
)


# --- households ----------------------------------------------------------------------------------------

HEAD_RELATION = "02"  # 与户主关系: 户主 (GB/T 4761: 01 本人, 02 户主)


def _household_head(
    table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None
) -> np.ndarray:
    """Members of a household that has no head among the batch and the staged rows."""
    household, relation = columns["household"], columns["relation"]
    head = str(params.get("head", HEAD_RELATION))
    rows = [table.select([household, relation])]
    if history is not None and history.num_rows:
        rows.append(history.select([household, relation]).cast(rows[0].schema))
    everyone = pa.concat_tables(rows, promote_options="permissive")
    heads = pc.unique(everyone.filter(pc.equal(everyone.column(relation), head)).column(household))
    has_household = pc.is_valid(table.column(household))
    headless = pc.invert(pc.is_in(table.column(household), value_set=heads))
    return pc.fill_null(pc.and_(has_household, headless), False).to_numpy(zero_copy_only=False)


register_row_check(
    RowCheck(
        "household_head",
        ("household", "relation"),
        _household_head,
        "warning",
        "every member's household (户号) has a head (户主) in the register",
        group="household",
    )
)


# --- geometry ------------------------------------------------------------------------------------------

_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
#: A WKT vertex: x y, then z and/or m (POINT Z, LINESTRING ZM, … as connectors.kinds.geometry writes them).
_VERTEX = f"^{_NUMBER}(?:\\s+{_NUMBER}){{1,3}}$"
_VERTEX_RE = re.compile(_VERTEX)
#: What splitting at brackets and commas leaves besides vertices: "POLYGON Z", "EMPTY", "" (anything
#: else, "nan nan" included, is a malformed vertex and fails the row).
_TAG = (
    r"(?i)^(?:SRID=[0-9]+;)?\s*(?:(?:POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON"
    r"|GEOMETRYCOLLECTION)(?:\s*(?:ZM|Z|M))?)?(?:\s*EMPTY)?$"
)


def _projected_box(lon_min: float, lon_max: float, lat_min: float, lat_max: float) -> tuple[float, ...]:
    """The EPSG:4547 rectangle holding the lon/lat box, rounded out to the kilometre. Its edges curve
    in the projection, so they are sampled: DOMAIN §3's rounded figures (northing 2,504,000–2,551,000)
    would cut ≈ 0.3 km off the south and 0.6 km off the north of the box."""
    lons, lats = np.linspace(lon_min, lon_max, 201), np.linspace(lat_min, lat_max, 201)
    west, east = geo.project_4547(np.full(201, lon_min), lats)[0], geo.project_4547(np.full(201, lon_max), lats)[0]
    south, north = geo.project_4547(lons, np.full(201, lat_min))[1], geo.project_4547(lons, np.full(201, lat_max))[1]
    return (
        np.floor(west.min() / 1000) * 1000,
        np.ceil(east.max() / 1000) * 1000,
        np.floor(south.min() / 1000) * 1000,
        np.ceil(north.max() / 1000) * 1000,
    )


#: The Shunde box per declared CRS: (x min, x max, y min, y max), x = lon / easting (DOMAIN §3).
_LON_LAT = (geo.SHUNDE_BOX["lon_min"], geo.SHUNDE_BOX["lon_max"], geo.SHUNDE_BOX["lat_min"], geo.SHUNDE_BOX["lat_max"])
BOXES = {
    "EPSG:4490": _LON_LAT,
    "EPSG:4326": _LON_LAT,
    "OGC:CRS84": _LON_LAT,
    "EPSG:4547": tuple(float(v) for v in _projected_box(*_LON_LAT)),
}


def geometry_in_box(wkt: Any, crs: Any) -> bool:
    """Every vertex of the WKT geometry lies in Shunde's box in `crs`; unknown CRS, no vertex or a
    vertex that is not 2–4 numbers: False. (Row-wise twin of `geometry_in_box_mask`.)"""
    box = BOXES.get(str(crs or "").upper())
    if box is None or not isinstance(wkt, str):
        return False
    pieces = [piece.strip() for piece in re.split(r"[(),]", wkt)]
    vertices = [piece for piece in pieces if not re.fullmatch(_TAG, piece)]
    if not vertices or not all(_VERTEX_RE.fullmatch(vertex) for vertex in vertices):
        return False
    for vertex in vertices:
        x, y = (float(n) for n in vertex.split()[:2])
        if not (box[0] <= x <= box[1] and box[2] <= y <= box[3]):
            return False
    return True


def geometry_in_box_mask(wkts: Any, crss: Any) -> np.ndarray:
    """Vectorised `geometry_in_box` (True = inside): the WKT split into vertices by Arrow, the
    coordinates compared with the row's box in numpy, then folded back per row."""
    wkts, crss = as_string_array(wkts), as_string_array(crss)
    rows = len(wkts)
    boxes = np.full((rows, 4), np.nan)
    known = pc.index_in(pc.utf8_upper(crss), value_set=pa.array(list(BOXES)))
    found = pc.is_valid(known).to_numpy(zero_copy_only=False)
    boxes[found] = np.array(list(BOXES.values()))[pc.drop_null(known).to_numpy()]
    pieces = pc.split_pattern_regex(pc.fill_null(wkts, ""), r"[(),]")
    parents = pc.list_parent_indices(pieces).to_numpy()
    flat = pc.utf8_trim_whitespace(pc.list_flatten(pieces))
    is_vertex = pc.invert(pc.match_substring_regex(flat, _TAG)).to_numpy(zero_copy_only=False)
    parents, flat = parents[is_vertex], flat.filter(pa.array(is_vertex))
    well_formed = pc.match_substring_regex(flat, _VERTEX).to_numpy(zero_copy_only=False)
    numbers = pc.split_pattern_regex(pc.if_else(pa.array(well_formed), flat, pa.scalar("nan nan")), r"\s+")
    xs = pc.cast(pc.list_element(numbers, 0), pa.float64()).to_numpy(zero_copy_only=False)
    ys = pc.cast(pc.list_element(numbers, 1), pa.float64()).to_numpy(zero_copy_only=False)
    box = boxes[parents]
    inside = well_formed & (xs >= box[:, 0]) & (xs <= box[:, 1]) & (ys >= box[:, 2]) & (ys <= box[:, 3])
    vertices = np.bincount(parents, minlength=rows)
    outside = np.bincount(parents, weights=~inside, minlength=rows)
    return found & pc.is_valid(wkts).to_numpy(zero_copy_only=False) & (vertices > 0) & (outside == 0)


def _geometry_in_box(
    table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None
) -> np.ndarray:
    """A present geometry outside the box (a null one is the not_null check's business)."""
    wkts = table.column(columns["geometry"])
    return pc.is_valid(wkts).to_numpy(zero_copy_only=False) & ~geometry_in_box_mask(wkts, table.column(columns["crs"]))


register_row_check(
    RowCheck(
        "geometry_in_box",
        ("geometry", "crs"),
        _geometry_in_box,
        "critical",
        "every vertex inside Shunde's box in the declared CRS (catches swapped axes, (0,0), points elsewhere)",
    )
)


def _gcj02_shift(
    table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None
) -> np.ndarray:
    lon, lat, x, y = (table.column(columns[role]).to_numpy(zero_copy_only=False) for role in ("lon", "lat", "x", "y"))
    return np.asarray(geo.gcj02_against_survey(lon, lat, x, y), dtype=bool)


register_row_check(
    RowCheck(
        "gcj02_shift",
        ("lon", "lat", "x", "y"),
        _gcj02_shift,
        "warning",
        "a point labelled WGS84 sitting where GCJ-02 (web maps) puts its surveyed EPSG:4547 position",
    )
)


from quality import dronechecks  # noqa: E402,F401  (registers the drone platform's row-set checks)
