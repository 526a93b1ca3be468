"""Row-set checks for the drone platform's tables (registered in quality.plan.ROW_CHECKS).

- `geometry_valid`: a footprint is a valid OGC polygon (a self-intersecting "bow tie" has no area
  anyone can trust, and would poison the union of footprints the imagery mart computes);
- `time_order`: one time is not before another (a flight lands after it takes off);
- `work_order_status`: an event work order's state agrees with the stages it records, and never goes
  back against what was staged before (待分发 → 待派遣 → 已核查 → 已处置, each a stage time);
- `work_order_dates`: its stage times run in order (distributed ≥ reported, verified ≥ distributed …).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from quality.arrays import as_string_array
from quality.plan import RowCheck, register_row_check

#: The states of a work order, in order; a state's rank is how many stage times it must carry.
WORK_ORDER_STATES = ("待分发", "待派遣", "已核查", "已处置")
STAGE_ROLES = ("distributed", "verified", "disposed")


def _present(table: pa.Table, column: str) -> np.ndarray:
    return pc.is_valid(table.column(column)).to_numpy(zero_copy_only=False)


def valid_geometry_mask(wkts: Any) -> np.ndarray:
    """True where a WKT parses to a valid geometry (null: True — not_null answers for it)."""
    texts = as_string_array(wkts).to_numpy(zero_copy_only=False)
    present = np.array([text is not None for text in texts], dtype=bool)
    geometries = shapely.from_wkt(np.where(present, texts, None), on_invalid="ignore")
    parsed = ~shapely.is_missing(geometries)
    valid = np.zeros(len(texts), dtype=bool)
    valid[parsed] = shapely.is_valid(geometries[parsed]) & ~shapely.is_empty(geometries[parsed])
    return ~present | valid


def _geometry_valid(
    table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None
) -> np.ndarray:
    return ~valid_geometry_mask(table.column(columns["geometry"]))


register_row_check(
    RowCheck(
        "geometry_valid",
        ("geometry",),
        _geometry_valid,
        "critical",
        "the geometry parses and is valid (no self-intersection, closed rings, not empty)",
    )
)


def _epoch(table: pa.Table, column: str) -> np.ndarray:
    """A time column as float seconds (NaN where null), whatever its unit or time zone."""
    values = table.column(column).combine_chunks()
    if pa.types.is_timestamp(values.type):
        values = pc.cast(pc.cast(values, pa.timestamp("us", tz="UTC")), pa.int64())
    elif pa.types.is_date(values.type):
        values = pc.cast(pc.cast(values, pa.timestamp("us")), pa.int64())
    return pc.fill_null(pc.cast(values, pa.float64()), np.nan).to_numpy(zero_copy_only=False)


def out_of_order(times: list[np.ndarray]) -> np.ndarray:
    """True where a present time comes before the latest present time listed before it."""
    latest = np.full(len(times[0]), -np.inf)
    bad = np.zeros(len(times[0]), dtype=bool)
    for moment in times:
        present = ~np.isnan(moment)
        bad |= present & (moment < latest)
        latest = np.where(present, np.maximum(latest, moment), latest)
    return bad


def _time_order(
    table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None
) -> np.ndarray:
    return out_of_order([_epoch(table, columns["earlier"]), _epoch(table, columns["later"])])


register_row_check(
    RowCheck("time_order", ("earlier", "later"), _time_order, "critical", "the later time is not before the earlier")
)


def _work_order_dates(
    table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None
) -> np.ndarray:
    return out_of_order([_epoch(table, columns[role]) for role in ("reported", *STAGE_ROLES)])


register_row_check(
    RowCheck(
        "work_order_dates",
        ("reported", "distributed", "verified", "disposed"),
        _work_order_dates,
        "critical",
        "stage times in order: distributed ≥ reported, verified ≥ distributed, disposed ≥ verified",
    )
)


def _ranks(table: pa.Table, column: str) -> np.ndarray:
    """Each row's state as its rank (0 待分发 … 3 已处置); -1 for a state not in the list."""
    ranks = pc.index_in(as_string_array(table.column(column)), value_set=pa.array(WORK_ORDER_STATES))
    return pc.fill_null(ranks, -1).to_numpy(zero_copy_only=False)


def _work_order_status(
    table: pa.Table, columns: Mapping[str, str], params: Mapping[str, Any], history: pa.Table | None
) -> np.ndarray:
    """A known state whose stage times are not exactly its stages (a skipped state: 已处置 never
    verified), or a state below the one staged before for the same order (a step back)."""
    ranks = _ranks(table, columns["status"])
    stages = np.stack([_present(table, columns[role]) for role in STAGE_ROLES], axis=1)
    expected = np.arange(len(STAGE_ROLES))[None, :] < ranks[:, None]
    inconsistent = (ranks >= 0) & (stages != expected).any(axis=1)
    return inconsistent | _stepped_back(table, columns, ranks, history)


def _stepped_back(
    table: pa.Table, columns: Mapping[str, str], ranks: np.ndarray, history: pa.Table | None
) -> np.ndarray:
    back = np.zeros(table.num_rows, dtype=bool)
    if history is None or not history.num_rows:
        return back
    reached: dict[Any, int] = {}
    for order, rank in zip(history.column(columns["order"]).to_pylist(), _ranks(history, columns["status"])):
        reached[order] = max(reached.get(order, -1), int(rank))
    orders = table.column(columns["order"]).to_pylist()
    for row, (order, rank) in enumerate(zip(orders, ranks)):
        back[row] = rank >= 0 and rank < reached.get(order, -1)
    return back


register_row_check(
    RowCheck(
        "work_order_status",
        ("order", "status", "distributed", "verified", "disposed"),
        _work_order_status,
        "critical",
        "the state (待分发 → 待派遣 → 已核查 → 已处置) matches the stage times it carries and never goes back",
        group="order",
    )
)
