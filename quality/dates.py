"""Date rules: real ISO dates, future and sentinel dates, and the mixed formats sources write.

Row-wise functions take one value (ISO string, `date`, `datetime`); the `*_mask` twins take a
pyarrow array / pandas Series / list and agree with them value for value. "Today" is Shunde's
local date (UTC+08:00, no daylight saving), not the machine's.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hub import clock
from quality.arrays import as_string_array, digits_value, fixed_width_bytes, regex_mask

#: Placeholder dates that legacy systems store for "unknown" (DOMAIN §5).
SENTINEL_DATES: frozenset[date] = frozenset({date(1900, 1, 1), date(1970, 1, 1)})

#: Strict ISO 8601: a date, optionally with a valid time and offset.
ISO_DATE_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?$"
)
_TIME_TAIL = r"(?:[T ][0-9:.+Z-]+)?"
#: Formats `parse_mixed_date` reads (the same patterns run in Python `re` and in Arrow's RE2).
MIXED_DATE_PATTERNS: tuple[str, ...] = (
    rf"^ *(?P<y>[0-9]{{4}})-(?P<m>[0-9]{{1,2}})-(?P<d>[0-9]{{1,2}}){_TIME_TAIL} *$",
    rf"^ *(?P<y>[0-9]{{4}})/(?P<m>[0-9]{{1,2}})/(?P<d>[0-9]{{1,2}}){_TIME_TAIL} *$",
    rf"^ *(?P<y>[0-9]{{4}})\.(?P<m>[0-9]{{1,2}})\.(?P<d>[0-9]{{1,2}}){_TIME_TAIL} *$",
    r"^ *(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2}) *$",
    r"^ *(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})日? *$",
)
_ISO_RE = re.compile(ISO_DATE_PATTERN)
_MIXED_RES = tuple(re.compile(p) for p in MIXED_DATE_PATTERNS)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def local_today() -> date:
    """Today in Shunde (UTC+08:00)."""
    return clock.local_today()


def calendar_ok(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Vectorised: (year, month, day) is a real Gregorian date (leap years included)."""
    safe_month = np.clip(month, 0, 12)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = _DAYS_IN_MONTH[safe_month] + ((safe_month == 2) & leap)
    return (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)


def real_date(year: int, month: int, day: int) -> date | None:
    """The date, or None when (year, month, day) is not a real calendar day."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _as_text(value: Any) -> str | None:
    """One value as the text the date rules read: dates become ISO, non-dates non-strings None."""
    if isinstance(value, str):
        return value
    if value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()  # the wall-clock date in the value's own zone
    if isinstance(value, date):
        return value.isoformat()
    return None


def as_date_strings(values: Any) -> pa.StringArray:
    """Vectorised `_as_text`: temporal arrays become ISO date strings, other non-strings null."""
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pa.array(values, from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array) and pa.types.is_timestamp(values.type):
        if values.type.tz is not None:
            values = pc.local_timestamp(values)
        values = pc.cast(values, pa.date32())
    if isinstance(values, pa.Array) and pa.types.is_temporal(values.type):
        if pa.types.is_date(values.type):
            return pc.cast(values, pa.string())
        return pa.nulls(len(values), pa.string())
    if isinstance(values, (list, tuple)) or (isinstance(values, (np.ndarray, pd.Series)) and values.dtype == object):
        return pa.array([_as_text(v) for v in values], type=pa.string())
    return as_string_array(values)


# ---- strict ISO -------------------------------------------------------------------------------


def _iso_date(value: Any) -> date | None:
    text = _as_text(value)
    if text is None or _ISO_RE.fullmatch(text) is None:
        return None
    return real_date(int(text[0:4]), int(text[5:7]), int(text[8:10]))


def _typed_date_parts(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(ok, year, month, day) straight from a date or timestamp array (the landed types), or None
    for text: a typed date is a real ISO date by construction, so no string round trip."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array) or not (pa.types.is_date(values.type) or pa.types.is_timestamp(values.type)):
        return None
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        values = pc.local_timestamp(values)  # the wall-clock date in the value's own zone
    ok = values.is_valid().to_numpy(zero_copy_only=False)
    parts = [
        pc.fill_null(part(values), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        for part in (pc.year, pc.month, pc.day)
    ]
    return ok, parts[0] * ok, parts[1] * ok, parts[2] * ok


def _iso_parts(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ok, yyyymmdd) for strict ISO values, vectorised over a fixed-width view of the date part."""
    typed = _typed_date_parts(values)
    if typed is not None:
        ok, year, month, day = typed
        return ok, year * 10000 + month * 100 + day
    strings = as_date_strings(values)
    ok = regex_mask(strings, ISO_DATE_PATTERN)
    date_part = pc.utf8_slice_codeunits(strings, 0, 10)
    block = fixed_width_bytes(date_part, ok, 10)
    year, month, day = digits_value(block[:, 0:4]), digits_value(block[:, 5:7]), digits_value(block[:, 8:10])
    ok &= calendar_ok(year, month, day)
    return ok, year * 10000 + month * 100 + day


def is_real_date(value: Any) -> bool:
    """An ISO 8601 date (optionally with time) naming a real calendar day, or a date object."""
    return _iso_date(value) is not None


def real_date_mask(values: Any) -> np.ndarray:
    """Vectorised `is_real_date`."""
    return _iso_parts(values)[0]


def is_not_future_date(value: Any, today: date | None = None) -> bool:
    """A real ISO date (or date object) that is not after `today` (default: Shunde's today)."""
    parsed = _iso_date(value)
    return parsed is not None and parsed <= (today or local_today())


def not_future_date_mask(values: Any, today: date | None = None) -> np.ndarray:
    """Vectorised `is_not_future_date`."""
    ok, ymd = _iso_parts(values)
    return ok & (ymd <= ymd_int(today or local_today()))


def ymd_int(day: date) -> int:
    """A date as the integer yyyymmdd (comparable with vectorised parts)."""
    return day.year * 10000 + day.month * 100 + day.day


# ---- mixed formats ----------------------------------------------------------------------------


def parse_mixed_date(value: Any) -> date | None:
    """A date from 2023-01-05, 2023/1/5, 2023.01.05, 20230105, 2023年1月5日 (time tails ignored),
    or a date/datetime object; None when the value is none of those or not a real day."""
    text = _as_text(value)
    if text is None:
        return None
    for pattern in _MIXED_RES:
        found = pattern.fullmatch(text)
        if found:
            return real_date(int(found["y"]), int(found["m"]), int(found["d"]))
    return None


def mixed_date_parts(values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised `parse_mixed_date`: (ok, year, month, day) numpy arrays (0 where not ok)."""
    typed = _typed_date_parts(values)
    if typed is not None:
        return typed
    strings = as_date_strings(values)
    count = len(strings)
    ok = np.zeros(count, dtype=bool)
    parts = {name: np.zeros(count, dtype=np.int64) for name in ("y", "m", "d")}
    for pattern in MIXED_DATE_PATTERNS:
        hit = regex_mask(strings, pattern) & ~ok
        if not hit.any():
            continue
        found = pc.extract_regex(strings.filter(pa.array(hit)), pattern)
        for name, out in parts.items():
            out[hit] = pc.cast(found.field(name), pa.int64()).to_numpy(zero_copy_only=False)
        ok |= hit
    ok &= calendar_ok(parts["y"], parts["m"], parts["d"])
    return ok, parts["y"], parts["m"], parts["d"]


def is_future_date(value: Any, today: date | None = None) -> bool:
    """The value parses (any mixed format) to a day after `today` (default: Shunde's today)."""
    parsed = parse_mixed_date(value)
    return parsed is not None and parsed > (today or local_today())


def future_date_mask(values: Any, today: date | None = None) -> np.ndarray:
    """Vectorised `is_future_date`."""
    ok, year, month, day = mixed_date_parts(values)
    return ok & (year * 10000 + month * 100 + day > ymd_int(today or local_today()))


def is_sentinel_date(value: Any) -> bool:
    """The value parses (any mixed format) to a placeholder date: 1900-01-01 or 1970-01-01."""
    return parse_mixed_date(value) in SENTINEL_DATES


def sentinel_date_mask(values: Any) -> np.ndarray:
    """Vectorised `is_sentinel_date`."""
    ok, year, month, day = mixed_date_parts(values)
    sentinels = np.array([ymd_int(d) for d in SENTINEL_DATES], dtype=np.int64)
    return ok & np.isin(year * 10000 + month * 100 + day, sentinels)
