"""Meter-series rules on hand-built series, and IoT value ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from quality import meters
from quality.errors import QualityError

ELECTRICITY_MAX = 99999.99


def series(**meters_values: list) -> pd.DataFrame:
    """A frame sorted by meter then reading; values may be (value, event) pairs."""
    rows = []
    for meter_id, values in meters_values.items():
        for i, item in enumerate(values):
            value, event = item if isinstance(item, tuple) else (item, None)
            rows.append(
                {
                    "meter_id": meter_id,
                    "reading_time": pd.Timestamp("2024-01-01", tz="Asia/Shanghai") + pd.DateOffset(months=i),
                    "cumulative_value": value,
                    "meter_event": event,
                }
            )
    return pd.DataFrame(rows)


def both_shapes(frame: pd.DataFrame):
    return [frame, pa.Table.from_pandas(frame, preserve_index=False)]


def test_rollback_ignores_rollover_replacement_and_reset():
    frame = series(
        rolls=[99700.0, 99850.5, 99990.0, 130.25, 420.0],  # register wraps at 99999.99
        replaced=[5200.0, 5400.0, (3.0, "replacement"), 210.0],  # new meter starts near zero
        reset=[800.0, 950.0, (0.0, "RESET"), 150.0],  # event names are case-insensitive
        rolled_back=[1000.0, 1200.0, 1100.0, 1300.0, 1250.0],  # two drops, no event
        half_way=[50000.0, 60000.0, 200.0],  # too far from the top to be a wrap
    )
    expected = [False] * 5 + [False] * 4 + [False] * 4 + [False, False, True, False, True] + [False, False, True]
    for shape in both_shapes(frame):
        assert meters.rollback_mask(shape, register_max=ELECTRICITY_MAX).tolist() == expected
    # without a stated register width the wrap is a rollback
    assert meters.rollback_mask(frame)[3]


def test_consumption_deltas_across_rollover_and_events():
    frame = series(rolls=[99990.0, 5.0, 15.0], replaced=[100.0, (2.0, "replacement"), 12.0], back=[10.0, 8.0])
    deltas = meters.consumption_deltas(frame, register_max=ELECTRICITY_MAX)
    assert np.isnan(deltas[0]) and deltas[1] == pytest.approx(15.0) and deltas[2] == pytest.approx(10.0)
    assert np.isnan(deltas[3]) and np.isnan(deltas[4]) and deltas[5] == pytest.approx(10.0)
    assert np.isnan(deltas[6]) and np.isnan(deltas[7])


def test_spike_is_more_than_ten_times_the_median():
    monthly = np.cumsum([0, 300, 310, 290, 305, 3100, 295, 300, 2900, 310]).astype(float).tolist()
    idle = [100.0, 100.0, 100.0, 100.0, 5000.0]  # zero median: no baseline, not judged
    short = [0.0, 10.0, 20.0, 1000.0]  # three deltas, the last 98 × the median
    frame = series(house=monthly, idle=idle, short=short)
    short_spike = len(monthly) + len(idle) + 3
    for shape in both_shapes(frame):
        # 3100 > 10 × 300 is a spike; 2900 is not
        assert np.flatnonzero(meters.spike_mask(shape)).tolist() == [5, short_spike]
    assert np.flatnonzero(meters.spike_mask(frame, factor=5)).tolist() == [5, 8, short_spike]
    assert np.flatnonzero(meters.spike_mask(frame, min_deltas=4)).tolist() == [5]


def test_spike_across_rollover_uses_the_wrapped_consumption():
    frame = series(m=[99000.0, 99300.0, 99600.0, 99900.0, 200.0, 500.0])
    assert not meters.spike_mask(frame, register_max=ELECTRICITY_MAX).any()


def test_stuck_runs():
    frame = series(
        stuck=[100.0, 150.0, 150.0, 150.0, 150.0, 200.0],  # a flat run of 4 readings
        short=[100.0, 100.0, 150.0],  # a run of 2: below the default 3
        swapped=[500.0, (500.0, "replacement"), 500.0],  # the event breaks the run
    )
    expected = [False, False, True, True, True, False] + [False] * 3 + [False] * 3
    for shape in both_shapes(frame):
        assert meters.stuck_mask(shape).tolist() == expected
    assert meters.stuck_mask(frame, min_run=5).sum() == 0
    # with runs of 2 counting: the short meter's repeat, and the reading after the replacement
    assert meters.stuck_mask(frame, min_run=2).tolist() == expected[:6] + [False, True, False] + [False, False, True]


def test_stuck_respects_expected_consumption():
    frame = series(vacant=[100.0, 100.0, 100.0, 100.0])
    assert meters.stuck_mask(frame).tolist() == [False, True, True, True]
    frame["active"] = [True, False, False, True]
    assert not meters.stuck_mask(frame, expected_col="active").any()
    frame["active"] = [True, True, True, True]
    assert meters.stuck_mask(frame, expected_col="active").tolist() == [False, True, True, True]


def test_smart_meter_day_of_flat_points():
    flat_day = [1234.5] * 96
    frame = pd.DataFrame({"meter_id": "m", "cumulative_value": [1000.0, *flat_day, 1240.0]})
    assert meters.stuck_mask(frame, min_run=meters.STUCK_MIN_RUN["smart"]).sum() == 95
    frame = pd.DataFrame({"meter_id": "m", "cumulative_value": [1000.0, *flat_day[:95], 1240.0]})
    assert meters.stuck_mask(frame, min_run=meters.STUCK_MIN_RUN["smart"]).sum() == 0


def test_custom_column_names_and_no_event_column():
    frame = pd.DataFrame({"meter": ["a", "a", "a"], "reading": [10.0, 5.0, 6.0]})
    assert meters.rollback_mask(frame, meter_col="meter", value_col="reading").tolist() == [False, True, False]


def test_bad_input_is_refused_with_a_fix():
    unsorted = pd.DataFrame({"meter_id": ["a", "b", "a"], "cumulative_value": [1.0, 2.0, 3.0]})
    with pytest.raises(QualityError, match="sort by meter"):
        meters.rollback_mask(unsorted)
    with pytest.raises(QualityError, match="no column 'reading'"):
        meters.rollback_mask(unsorted.iloc[:1], value_col="reading")
    with pytest.raises(QualityError, match="pyarrow Table or pandas DataFrame"):
        meters.rollback_mask([{"meter_id": "a"}])
    with pytest.raises(QualityError, match="min_run"):
        meters.stuck_mask(unsorted.iloc[:1], min_run=1)


def test_missing_values_and_null_meters_are_not_flagged():
    frame = pd.DataFrame({"meter_id": ["a", "a", "a", None, None], "cumulative_value": [10.0, None, 5.0, 3.0, 1.0]})
    assert not meters.rollback_mask(frame).any()
    assert meters.rollback_mask(pd.DataFrame({"meter_id": [], "cumulative_value": []})).shape == (0,)


# ---- IoT --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sensor_type,value,expected",
    [
        ("water_level", 0.4, True),
        ("water_level", 6.32, True),
        ("water_level", -0.5, False),
        ("water_level", 12.0, False),
        ("waterlogging", 35, True),
        ("waterlogging", 250, False),
        ("pm25", 35.0, True),
        ("PM2.5", 35.0, True),
        ("pm25", -1, False),
        ("pm25", 1500, False),
        ("noise", 65.5, True),
        ("noise", 10, False),
        ("noise", 160, False),
        ("manhole_tilt", 17.5, True),
        ("manhole_tilt", 95, False),
        ("battery", 100, True),
        ("battery", 101, False),
        ("smoke_alarm", 1, True),
        ("smoke_alarm", 0.0, True),
        ("smoke_alarm", 0.5, False),
        ("smoke_alarm", 2, False),
        ("smoke_alarm", True, False),
        ("pm25", None, False),
        ("pm25", "35", False),
        ("pm25", float("nan"), False),
        ("radiation", 1.0, False),
        (None, 1.0, False),
    ],
)
def test_iot_value_in_range(sensor_type, value, expected):
    assert meters.iot_value_in_range(sensor_type, value) is expected
    mask = meters.iot_range_mask(pd.Series([sensor_type], dtype=object), pd.Series([value], dtype=object))
    assert mask.tolist() == [expected]


def test_iot_mask_equals_row_wise():
    rng = np.random.default_rng(4)
    types = rng.choice([*meters.IOT_RANGES, "pm2.5", " Noise ", "unknown"], 10_000).tolist()
    values = rng.choice([-5.0, 0.0, 0.5, 1.0, 6.32, 15.0, 60.0, 99.0, 150.0, 999.0, np.nan], 10_000)
    expected = [meters.iot_value_in_range(t, v) for t, v in zip(types, values.tolist())]
    assert meters.iot_range_mask(pa.array(types), values).tolist() == expected


def test_iot_range_lookup():
    assert meters.iot_range("water_level") == (0.0, 10.0)
    with pytest.raises(QualityError, match="radiation.*water_level"):
        meters.iot_range("radiation")
