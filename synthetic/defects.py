"""Defect injection (DOMAIN §5) and its ground truth.

A generator asks `plan_defects` which rows of a chunk get which defect (at most one each, so every
defective record has one known cause), applies it while building the row, then calls
`Tally.record(row, defect)`; the tally keeps the record's identity (its key values joined with "|",
as written — a defective key is listed in its defective form) for the manifest.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

DEFECT_NAMES = (
    "duplicate_exact",
    "near_duplicate_fullwidth",
    "id_bad_check",
    "id_lowercase_x",
    "id_legacy_15",
    "id_impossible_date",
    "uscc_bad_check",
    "uscc_old_regno",
    "phone_missing",
    "phone_invalid",
    "coord_gcj02",
    "coord_swapped",
    "coord_null_island",
    "coord_outside_box",
    "date_future",
    "date_sentinel",
    "date_mixed_format",
    "iot_ts_utc",
    "meter_rollback",
    "meter_spike",
    "meter_stuck",
    "camera_id_malformed",
    "mojibake",
    "orphan_household",
    "unreadable_row",
    # the drone platform (synthetic/drone.py)
    "footprint_outside_district",
    "footprint_self_intersecting",
    "status_illegal_jump",
    "dispatch_before_report",
    "confidence_out_of_range",
    "alert_type_unknown",
)

#: The injected rates: midpoints of DOMAIN §5's ranges (fractions of records).
RATES: dict[str, float] = {
    "duplicate_exact": 0.0075,
    "near_duplicate_fullwidth": 0.015,
    "id_bad_check": 0.004,
    "id_lowercase_x": 0.01,
    "id_legacy_15": 0.005,
    "id_impossible_date": 0.001,
    "uscc_bad_check": 0.002,
    "uscc_old_regno": 0.02,
    "phone_missing": 0.075,
    "phone_invalid": 0.02,
    "coord_gcj02": 0.10,
    "coord_swapped": 0.0075,
    "coord_null_island": 0.005,
    "coord_outside_box": 0.005,
    "date_future": 0.002,
    "date_sentinel": 0.005,
    "date_mixed_format": 0.05,
    "iot_ts_utc": 0.015,
    "meter_rollback": 0.0035,
    "meter_spike": 0.002,
    "meter_stuck": 0.015,
    "camera_id_malformed": 0.0075,
    "mojibake": 0.003,
    "orphan_household": 0.0075,
    "unreadable_row": 0.001,
    "confidence_out_of_range": 0.004,  # AI alerts of the video clouds (synthetic/video_clouds.py)
    "alert_type_unknown": 0.003,
}

#: Acceptable observed rates (DOMAIN §5 ranges, fractions); tests check the seed against these.
RANGES: dict[str, tuple[float, float]] = {
    "duplicate_exact": (0.005, 0.01),
    "near_duplicate_fullwidth": (0.01, 0.02),
    "id_bad_check": (0.003, 0.005),
    "id_lowercase_x": (0.008, 0.012),
    "id_legacy_15": (0.004, 0.006),
    "id_impossible_date": (0.0005, 0.0015),
    "uscc_bad_check": (0.001, 0.003),
    "uscc_old_regno": (0.01, 0.03),
    "phone_missing": (0.05, 0.10),
    "phone_invalid": (0.015, 0.025),
    "coord_gcj02": (0.05, 0.15),
    "coord_swapped": (0.005, 0.01),
    "coord_null_island": (0.004, 0.006),
    "coord_outside_box": (0.004, 0.006),
    "date_future": (0.001, 0.003),
    "date_sentinel": (0.004, 0.006),
    "date_mixed_format": (0.04, 0.06),
    "iot_ts_utc": (0.01, 0.02),
    "meter_rollback": (0.002, 0.005),
    "meter_spike": (0.001, 0.003),
    "meter_stuck": (0.01, 0.02),
    "camera_id_malformed": (0.005, 0.01),
    "mojibake": (0.001, 0.005),
    "orphan_household": (0.005, 0.01),
}


def stochastic_count(rate: float, n: int, rng: random.Random) -> int:
    """rate·n rounded up or down at random by its fraction: exact on average, right at any size."""
    expected = rate * n
    whole = math.floor(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


_none_planned: ContextVar[bool] = ContextVar("synthetic_no_new_defects", default=False)


@contextmanager
def no_new_defects() -> Iterator[None]:
    """Within the block no chunk is planned any defect: a step whose new and changed records are all
    clean (a simulation's scenario injects its faults itself). What earlier steps wrote stays."""
    token = _none_planned.set(True)
    try:
        yield
    finally:
        _none_planned.reset(token)


def plan_defects(
    n: int,
    defects: Sequence[str],
    rng: random.Random,
    rates: Mapping[str, float] | None = None,
    minimum: Mapping[str, int] | None = None,
    *,
    earlier_step: bool = False,
) -> dict[int, str]:
    """Row index (0..n-1) → the one defect that row carries, for `defects` at their rates.

    Rows are disjoint across defects; `minimum` forces at least that many (e.g. one unreadable
    row per system even in a small chunk) as long as rows remain. `earlier_step`: the plan of a step
    already written is being recalled (which meters step 0 built defective), so a clean step
    (`no_new_defects`) does not empty it.
    """
    if _none_planned.get() and not earlier_step:
        return {}
    rates = rates or RATES
    minimum = minimum or {}
    order = list(range(n))
    rng.shuffle(order)
    plan: dict[int, str] = {}
    cursor = 0
    for defect in defects:
        count = max(stochastic_count(rates[defect], n, rng), minimum.get(defect, 0))
        for index in order[cursor : cursor + count]:
            plan[index] = defect
        cursor = min(n, cursor + count)
    return plan


class Tally:
    """The ground truth of one resource: how many records it holds and which carry which defect."""

    def __init__(self, key_columns: Sequence[str]):
        self.key_columns = tuple(key_columns)
        self.records = 0
        self.defects: dict[str, list[str]] = defaultdict(list)
        self.conflicts: list[dict] = []  # 一数一源 value conflicts injected (synthetic.conflicts)

    def identity(self, row: Mapping) -> str:
        return "|".join(_as_text(row.get(column)) for column in self.key_columns)

    def count(self, rows: int = 1) -> None:
        self.records += rows

    def record(self, row: Mapping, defect: str) -> None:
        """Note that `row` (already as written) carries `defect`."""
        if defect not in DEFECT_NAMES:
            raise ValueError(f"unknown defect {defect!r}; use one of {', '.join(DEFECT_NAMES)}")
        self.defects[defect].append(self.identity(row))

    def record_conflict(
        self, row: Mapping, *, item: str, base_item: str, value: str, authoritative_value: str | None
    ) -> None:
        """Note that `row` holds `value` for `base_item` where its 数源 holds `authoritative_value`."""
        self.conflicts.append(
            {
                "item": item,
                "base_item": base_item,
                "key": self.identity(row),
                "value": value,
                "authoritative_value": authoritative_value,
            }
        )

    def record_identity(self, identity: str, defect: str) -> None:
        self.defects[defect].append(identity)

    def merge(
        self, previous: Mapping[str, Iterable[str]], previous_records: int, previous_conflicts: Iterable[dict] = ()
    ) -> None:
        """Fold in what an earlier seed step already wrote (later steps add to it)."""
        self.records += previous_records
        self.conflicts = [*previous_conflicts, *self.conflicts]
        for defect, identities in previous.items():
            self.defects[defect] = [*identities, *self.defects.get(defect, [])]

    def as_manifest(self) -> dict:
        manifest = {
            "records": self.records,
            "key_columns": list(self.key_columns),
            "defects": {name: list(self.defects[name]) for name in DEFECT_NAMES if self.defects.get(name)},
        }
        if self.conflicts:  # only holders of a base item beside its 数源 have any
            manifest["conflicts"] = list(self.conflicts)
        return manifest


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
