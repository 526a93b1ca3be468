"""Rules over utility meter series (water, electricity, gas) and IoT sensor values.

Meter rules take a pyarrow Table or pandas DataFrame *sorted by meter and reading time* and return a
numpy bool mask aligned with its rows. Column names default to the DOMAIN §4 record shape.
A reading whose `meter_event` is "replacement" or "reset" starts the meter afresh: its drop is not
a rollback and no consumption is computed across it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quality.arrays import as_float_array, as_string_array, to_number
from quality.errors import QualityError

RESET_EVENTS = ("replacement", "reset")
SPIKE_FACTOR = 10.0
#: Readings in a flat run before it counts as stuck: 3 monthly reads, one day of 15-min points.
STUCK_MIN_RUN = {"monthly": 3, "smart": 96}
#: A drop is a register rollover when its wrapped consumption is at most this share of the range.
ROLLOVER_WINDOW = 0.1

#: Physical ranges (inclusive) per IoT sensor type: defaults (≈, DOMAIN §4), not sourced limits.
IOT_RANGES: dict[str, tuple[float, float]] = {
    "water_level": (0.0, 10.0),  # m above gauge zero; mostly 0–1, record 6.32
    "waterlogging": (0.0, 200.0),  # cm of standing water on a road; mostly 0–100
    "pm25": (0.0, 1000.0),  # µg/m³, the usual sensor span; typical 5–150
    "noise": (20.0, 140.0),  # dB(A); typical 40–85
    "manhole_tilt": (0.0, 90.0),  # ° from level; alarm above 15
    "battery": (0.0, 100.0),  # %
    "smoke_alarm": (0.0, 1.0),  # 0 / 1 only (see IOT_DISCRETE)
    "manhole_alarm": (0.0, 1.0),  # 0 / 1 only
}
#: Types whose values must be whole numbers (alarm flags). JSON booleans must be mapped to 0/1
#: by the connector: a bool is not a number here.
IOT_DISCRETE = frozenset({"smoke_alarm", "manhole_alarm"})
IOT_ALIASES = {
    "pm2.5": "pm25",
    "pm2_5": "pm25",
    "smoke": "smoke_alarm",
    "manhole": "manhole_tilt",
    "waterlevel": "water_level",
    "water-level": "water_level",
}


# ---- meter series -----------------------------------------------------------------------------


def _column(readings: Any, name: str, *, required: bool = True) -> Any:
    if isinstance(readings, pa.Table):
        if name in readings.column_names:
            return readings.column(name).combine_chunks()
    elif isinstance(readings, pd.DataFrame):
        if name in readings.columns:
            return readings[name]
    else:
        raise QualityError(f"meter rules take a pyarrow Table or pandas DataFrame, got {type(readings).__name__}")
    if required:
        raise QualityError(f"meter readings have no column {name!r}: pass its name (meter_col=, value_col=)")
    return None


def _same_meter(readings: Any, meter_col: str) -> np.ndarray:
    """True where a row continues the previous row's meter; checks meters form contiguous blocks."""
    ids = _column(readings, meter_col)
    ids = ids if isinstance(ids, pa.Array) else pa.array(ids, from_pandas=True)
    same = np.zeros(len(ids), dtype=bool)
    if len(ids) > 1:
        same[1:] = pc.equal(ids[1:], ids[:-1]).fill_null(False).to_numpy(zero_copy_only=False)
    # A null meter id stands alone (null never equals null), so each counts as its own block.
    expected_blocks = pc.count_distinct(ids, mode="only_valid").as_py() + ids.null_count
    if int((~same).sum()) != expected_blocks:
        raise QualityError(
            f"meter readings are not grouped by {meter_col!r}: sort by meter and "
            f"reading time before applying meter rules"
        )
    return same


def _events(readings: Any, event_col: str) -> np.ndarray:
    events = _column(readings, event_col, required=False)
    if events is None:
        return np.zeros(len(readings), dtype=bool)
    lowered = pc.utf8_lower(as_string_array(events))
    return pc.is_in(lowered, value_set=pa.array(RESET_EVENTS)).fill_null(False).to_numpy(zero_copy_only=False)


def _bool_column(readings: Any, name: str) -> np.ndarray:
    column = _column(readings, name)
    column = column if isinstance(column, pa.Array) else pa.array(column, from_pandas=True)
    return pc.cast(column, pa.bool_()).fill_null(False).to_numpy(zero_copy_only=False)


def _steps(readings: Any, meter_col: str, value_col: str, event_col: str):
    values = as_float_array(_column(readings, value_col))
    previous = np.concatenate([[np.nan], values[:-1]]) if len(values) else values
    same = _same_meter(readings, meter_col) & ~_events(readings, event_col)
    return values, previous, same


def _register_modulus(register_max: float) -> float:
    """The value at which a register wraps to zero: 99999.99 + one unit of its last decimal."""
    exponent = Decimal(str(register_max)).as_tuple().exponent
    return float(Decimal(str(register_max)) + Decimal(1).scaleb(min(int(exponent), 0)))


def _rollover(values: np.ndarray, previous: np.ndarray, register_max: float | None, window: float) -> np.ndarray:
    if register_max is None:
        return np.zeros(len(values), dtype=bool)
    wrapped = values + (_register_modulus(register_max) - previous)
    return (values < previous) & (wrapped >= 0) & (wrapped <= window * register_max)


def rollback_mask(
    readings: Any,
    *,
    meter_col: str = "meter_id",
    value_col: str = "cumulative_value",
    event_col: str = "meter_event",
    register_max: float | None = None,
    rollover_window: float = ROLLOVER_WINDOW,
) -> np.ndarray:
    """Readings whose cumulative value is below the previous reading of the same meter, unless the
    reading carries a replacement/reset event or is a register rollover: with `register_max`
    (the largest value the register shows, e.g. 99999.99, wrapping to 0 one unit later), a drop
    whose wrapped consumption value + (register_max + unit − previous) is at most
    rollover_window × register_max is the register wrapping, not a rollback."""
    values, previous, same = _steps(readings, meter_col, value_col, event_col)
    drop = same & (values < previous)
    return drop & ~_rollover(values, previous, register_max, rollover_window)


def consumption_deltas(
    readings: Any,
    *,
    meter_col: str = "meter_id",
    value_col: str = "cumulative_value",
    event_col: str = "meter_event",
    register_max: float | None = None,
    rollover_window: float = ROLLOVER_WINDOW,
) -> np.ndarray:
    """Consumption since the previous reading of the same meter, rollover-corrected; NaN on a
    meter's first reading, on replacement/reset readings and on rollbacks."""
    values, previous, same = _steps(readings, meter_col, value_col, event_col)
    rolled = _rollover(values, previous, register_max, rollover_window)
    modulus = _register_modulus(register_max) if register_max is not None else 0.0
    deltas = np.where(rolled, values + modulus - previous, values - previous)
    return np.where(same & (deltas >= 0), deltas, np.nan)


def spike_mask(
    readings: Any, *, factor: float = SPIKE_FACTOR, min_deltas: int = 3, meter_col: str = "meter_id", **columns: Any
) -> np.ndarray:
    """Readings whose consumption exceeds `factor` × the meter's median consumption per reading.
    Meters with fewer than `min_deltas` deltas or a zero median (idle most of the time) are not
    judged: there is no baseline to call a value a spike against."""
    deltas = consumption_deltas(readings, meter_col=meter_col, **columns)
    meters = pd.Series(np.cumsum(~_same_meter(readings, meter_col)))
    by_meter = pd.Series(deltas).groupby(meters)
    median, counted = by_meter.transform("median").to_numpy(), by_meter.transform("count").to_numpy()
    judged = (counted >= min_deltas) & (median > 0)
    return judged & (deltas > factor * median)


def stuck_mask(
    readings: Any,
    *,
    min_run: int = STUCK_MIN_RUN["monthly"],
    expected_col: str | None = None,
    meter_col: str = "meter_id",
    value_col: str = "cumulative_value",
    event_col: str = "meter_event",
) -> np.ndarray:
    """Readings repeating the previous cumulative value of the same meter, in a flat run of at
    least `min_run` readings (3 for monthly reads, 96 for 15-minute smart-meter points). The run's
    first reading is a real reading and is not flagged. With `expected_col` (bool column: is
    consumption expected, e.g. the account is active), unexpected readings break runs."""
    if min_run < 2:
        raise QualityError(f"stuck_mask needs min_run ≥ 2 readings, got {min_run}")
    values, previous, same = _steps(readings, meter_col, value_col, event_col)
    flat = same & (values == previous)
    if expected_col is not None:
        flat &= _bool_column(readings, expected_col)
    run_ids = np.cumsum(~flat)
    run_lengths = np.bincount(run_ids)[run_ids]
    return flat & (run_lengths >= min_run)


# ---- IoT values -------------------------------------------------------------------------------


def _canonical_type(sensor_type: Any) -> str | None:
    if not isinstance(sensor_type, str):
        return None
    name = sensor_type.strip(" \t\r\n").lower()
    return IOT_ALIASES.get(name, name)


def iot_range(sensor_type: str) -> tuple[float, float]:
    """The default physical range of a sensor type; QualityError names the known types."""
    name = _canonical_type(sensor_type)
    if name not in IOT_RANGES:
        raise QualityError(
            f"no physical range for IoT sensor type {sensor_type!r}: use one of "
            f"{', '.join(sorted(IOT_RANGES))} or add it to quality.meters.IOT_RANGES"
        )
    return IOT_RANGES[name]


def iot_value_in_range(sensor_type: Any, value: Any) -> bool:
    """A real number within the type's physical range (whole 0/1 for alarms). Unknown sensor types
    and non-numbers give False: they are data problems, counted like any other failure."""
    name = _canonical_type(sensor_type)
    number = to_number(value)
    if name not in IOT_RANGES or np.isnan(number):
        return False
    low, high = IOT_RANGES[name]
    return low <= number <= high and (name not in IOT_DISCRETE or number.is_integer())


def iot_range_mask(sensor_types: Any, values: Any) -> np.ndarray:
    """Vectorised `iot_value_in_range` over parallel arrays of types and values."""
    names = pc.utf8_lower(pc.utf8_trim(as_string_array(sensor_types), " \t\r\n"))
    for alias, name in IOT_ALIASES.items():
        names = pc.if_else(pc.equal(names, alias).fill_null(False), name, names)
    numbers = as_float_array(values)
    ok = np.zeros(len(numbers), dtype=bool)
    for name, (low, high) in IOT_RANGES.items():
        of_type = pc.equal(names, name).fill_null(False).to_numpy(zero_copy_only=False)
        fits = (numbers >= low) & (numbers <= high)
        if name in IOT_DISCRETE:
            fits &= numbers == np.round(numbers)
        ok |= of_type & fits
    return ok
