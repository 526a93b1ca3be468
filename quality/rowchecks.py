"""Row-set checks a catalogue entry declares under `checks:` (registered in quality.plan.ROW_CHECKS).

Each judges rows together — a meter's readings in time order, a household's members, a geometry's
vertices — and returns True where a row of the batch fails. Checks with a `group` role see the
already staged rows of the same meters/households as `history`, so a series that continues from
an earlier load is judged as one series.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quality import geo, meters
from quality.plan import RowCheck, register_row_check

# --- meters -----------------------------------------------------------------------------------------

METER_ROLES = ("meter", "time", "value", "event")


def _series(table: pa.Table, columns: Mapping[str, str], history: pa.Table | None) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """History + batch as one table sorted by meter and time; returns it, each sorted row's batch
    position (-1 for history rows) and the sort order. A staged reading the batch repeats is left
    out of the history (the batch's copy is the one judged)."""
    names = [columns[role] for role in METER_ROLES]
    batch = table.select(names).append_column("_position", pa.array(np.arange(table.num_rows), pa.int64()))
    parts = [batch]
    if history is not None and history.num_rows:
        earlier = history.select(names).cast(batch.select(names).schema)
        seen = batch.select(names[:2]).append_column("_in_batch", pa.array(np.ones(batch.num_rows, dtype=bool)))
        earlier = earlier.join(seen, names[:2], join_type="left outer")
        earlier = earlier.filter(pc.is_null(earlier.column("_in_batch"))).drop_columns(["_in_batch"])
        parts.insert(0, earlier.select(names).append_column("_position", pa.array(np.full(earlier.num_rows, -1), pa.int64())))
    combined = pa.concat_tables(parts, promote_options="permissive")  # staged columns may be nullable
    order = pc.sort_indices(combined, sort_keys=[(names[0], "ascending"), (names[1], "ascending"), ("_position", "ascending")])
    combined = combined.take(order)
    return combined, combined.column("_position").to_numpy(), order


def _meter_check(judge):
    """A RowCheck mask: `judge(sorted_table, names, register_max) -> mask` mapped back to batch order."""
    def mask(table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None) -> np.ndarray:
        out = np.zeros(table.num_rows, dtype=bool)
        if not table.num_rows:
            return out
        combined, positions, _ = _series(table, columns, history)
        names = {role: columns[role] for role in METER_ROLES}
        register_max = (params.get("item_rules") or {}).get(names["value"], {}).get("max")
        flagged = judge(combined, names, register_max)
        in_batch = positions >= 0
        out[positions[in_batch & flagged]] = True
        return out
    return mask


def _columns(names: Mapping[str, str]) -> dict:
    return {"meter_col": names["meter"], "value_col": names["value"], "event_col": names["event"]}


register_row_check(RowCheck(
    "meter_rollback", METER_ROLES,
    _meter_check(lambda t, n, top: meters.rollback_mask(t, register_max=top, **_columns(n))), "critical",
    "a cumulative reading below the meter's previous one without a replacement/reset event (register wraps excepted)",
    group="meter"))
register_row_check(RowCheck(
    "meter_spike", METER_ROLES,
    _meter_check(lambda t, n, top: meters.spike_mask(t, register_max=top, **_columns(n))), "warning",
    f"consumption above {meters.SPIKE_FACTOR:g}× the meter's median consumption per reading", group="meter"))
register_row_check(RowCheck(
    "meter_stuck", METER_ROLES,
    _meter_check(lambda t, n, top: meters.stuck_mask(t, **_columns(n))), "warning",
    f"the same cumulative value in a run of {meters.STUCK_MIN_RUN['monthly']}+ readings (the run's first is real)",
    group="meter"))


# --- households ----------------------------------------------------------------------------------------

HEAD_RELATION = "02"  # 与户主关系: 户主 (GB/T 4761: 01 本人, 02 户主)


def _household_head(table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any],
                    history: pa.Table | None) -> np.ndarray:
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


register_row_check(RowCheck(
    "household_head", ("household", "relation"), _household_head, "warning",
    "every member's household (户号) has a head (户主) in the register", group="household"))


# --- geometry ------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
#: The Shunde box per declared CRS: (x min, x max, y min, y max), x = lon / easting (DOMAIN §3).
BOXES = {
    "EPSG:4490": (geo.SHUNDE_BOX["lon_min"], geo.SHUNDE_BOX["lon_max"], geo.SHUNDE_BOX["lat_min"], geo.SHUNDE_BOX["lat_max"]),
    "EPSG:4547": (392_000.0, 441_000.0, 2_504_000.0, 2_551_000.0),
}
BOXES["EPSG:4326"] = BOXES["OGC:CRS84"] = BOXES["EPSG:4490"]


def geometry_in_box(wkt: Any, crs: Any) -> bool:
    """Every vertex of the WKT geometry lies in Shunde's box in `crs`; unknown CRS or no vertex: False."""
    box = BOXES.get(str(crs or "").upper())
    if box is None or not isinstance(wkt, str):
        return False
    numbers = np.array([float(n) for n in _NUMBER.findall(wkt)])
    if not len(numbers) or len(numbers) % 2:
        return False
    xs, ys = numbers[0::2], numbers[1::2]
    return bool(((xs >= box[0]) & (xs <= box[1]) & (ys >= box[2]) & (ys <= box[3])).all())


def _geometry_in_box(table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any],
                     history: pa.Table | None) -> np.ndarray:
    wkts, crss = table.column(columns["geometry"]).to_pylist(), table.column(columns["crs"]).to_pylist()
    return np.array([wkt is not None and not geometry_in_box(wkt, crs) for wkt, crs in zip(wkts, crss)], dtype=bool)


register_row_check(RowCheck(
    "geometry_in_box", ("geometry", "crs"), _geometry_in_box, "critical",
    "every vertex inside Shunde's box in the declared CRS (catches swapped axes, (0,0), points elsewhere)"))


def _gcj02_shift(table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any],
                 history: pa.Table | None) -> np.ndarray:
    lon, lat, x, y = (table.column(columns[role]).to_numpy(zero_copy_only=False) for role in ("lon", "lat", "x", "y"))
    return np.asarray(geo.gcj02_against_survey(lon, lat, x, y), dtype=bool)


register_row_check(RowCheck(
    "gcj02_shift", ("lon", "lat", "x", "y"), _gcj02_shift, "warning",
    "a point labelled WGS84 sitting where GCJ-02 (web maps) puts its surveyed EPSG:4547 position"))
