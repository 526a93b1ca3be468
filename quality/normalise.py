"""Repairs by stated rule, each counted.

Every normaliser has a row form `row(value) -> (new_value, repaired)` and a vectorised form
`vectorised(values) -> (new_values, repaired_count)` (a pandas Series stays a Series, a pyarrow
array a pyarrow array, other sequences come back as lists). Value repairs leave already-good values alone, so applying
one twice changes nothing the second time. The coordinate repairs are different: they convert
whatever they are given, so apply them once, to points known or suspected to be GCJ-02 / BD-09
(see `quality.geo.suspect_gcj02_shift`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from catalog.reference import RESIDENT_ID_CHECK_CHARS, RESIDENT_ID_WEIGHTS, resident_id_check_char
from hub.timezone import LOCAL_OFFSET
from quality import dates, geo
from quality.arrays import as_float_array, as_string_array, fixed_width_bytes, regex_mask
from quality.errors import QualityError
from quality.text import garbled_texts, utf8_read_as_gbk

#: Full-width forms U+FF01–U+FF5E map to ASCII 0x21–0x7E, the ideographic space U+3000 to " ".
_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
#: Trimmed from both ends (after folding), an explicit set so Arrow and Python agree.
TRIM_CHARS = " \t\r\n\x0b\x0c\u00a0"
_NEEDS_HALFWIDTH = (
    r"[\x{FF01}-\x{FF5E}\x{3000}]|^[ \t\r\n\x0b\x0c\x{00A0}]"
    r"|[ \t\r\n\x0b\x0c\x{00A0}]$"
)
_ID_LOWER_X = r"^[0-9]{17}x$"
_ID_LEGACY_15 = r"^[0-9]{15}$"
_ID_CHECK_BYTES = np.frombuffer(RESIDENT_ID_CHECK_CHARS.encode(), dtype=np.uint8)


def _strings_from_block(block: np.ndarray) -> pa.StringArray:
    """A string array from an (n, width) block of ASCII bytes, one string per row."""
    count, width = block.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        count, pa.py_buffer(offsets.tobytes()), pa.py_buffer(np.ascontiguousarray(block).tobytes())
    )


def _put(values: Any, rows: np.ndarray, new_rows: pa.Array) -> tuple[Any, int]:
    """`values` with `new_rows` at the `rows` positions, in the caller's container: a pandas Series
    stays a Series (index kept), a pyarrow array stays a pyarrow string array, anything else
    becomes a list (non-string values in object input survive untouched). Nothing to repair:
    the input itself comes back."""
    count = int(rows.sum())
    if count == 0:
        return values, 0
    if isinstance(values, pd.Series):
        repaired = values.copy()
        repaired.iloc[np.flatnonzero(rows)] = new_rows.to_pylist()
        return repaired, count
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return pc.replace_with_mask(as_string_array(values), pa.array(rows), new_rows), count
    repaired_list = list(values)
    for index, new_value in zip(np.flatnonzero(rows), new_rows.to_pylist()):
        repaired_list[index] = new_value
    return repaired_list, count


# ---- full-width → half-width, trimmed --------------------------------------------------------


def halfwidth(value: Any) -> tuple[Any, bool]:
    """Fold full-width digits, letters, punctuation and the ideographic space to ASCII, then trim
    spaces at both ends. Han characters and everything else are left as they are (unlike NFKC,
    which would also rewrite compatibility ideographs in names)."""
    if not isinstance(value, str):
        return value, False
    repaired = value.translate(_HALFWIDTH).strip(TRIM_CHARS)
    return repaired, repaired != value


def halfwidth_vectorised(values: Any) -> tuple[Any, int]:
    """Vectorised `halfwidth`: finds the rows that need it with RE2, repairs only those rows."""
    strings = as_string_array(values)
    rows = regex_mask(strings, _NEEDS_HALFWIDTH)
    dirty = strings.filter(pa.array(rows)).to_pylist()
    return _put(values, rows, pa.array([halfwidth(v)[0] for v in dirty], type=pa.string()))


# ---- resident IDs -----------------------------------------------------------------------------


def resident_id_upper_x(value: Any) -> tuple[Any, bool]:
    """17 ASCII digits then a lowercase x: upper-case the x."""
    if (
        isinstance(value, str)
        and len(value) == 18
        and value.endswith("x")
        and value[:17].isascii()
        and value[:17].isdigit()
    ):
        return value[:17] + "X", True
    return value, False


def resident_id_upper_x_vectorised(values: Any) -> tuple[Any, int]:
    """Vectorised `resident_id_upper_x`."""
    strings = as_string_array(values)
    rows = regex_mask(strings, _ID_LOWER_X)
    return _put(values, rows, pc.utf8_upper(strings.filter(pa.array(rows))))


def resident_id_15_to_18(value: Any) -> tuple[Any, bool]:
    """A legacy 15-digit number (GB 11643-1989): insert "19" before the 2-digit birth year and
    append the check character. The result is then judged by the strict validator like any other."""
    if isinstance(value, str) and len(value) == 15 and value.isascii() and value.isdigit():
        first17 = value[:6] + "19" + value[6:]
        return first17 + resident_id_check_char(first17), True
    return value, False


def resident_id_15_to_18_vectorised(values: Any) -> tuple[Any, int]:
    """Vectorised `resident_id_15_to_18`, over a fixed-width byte view of the legacy rows."""
    strings = as_string_array(values)
    rows = regex_mask(strings, _ID_LEGACY_15)
    legacy = fixed_width_bytes(strings.filter(pa.array(rows)), np.ones(int(rows.sum()), dtype=bool), 15)
    century = np.tile(np.frombuffer(b"19", dtype=np.uint8), (len(legacy), 1))
    first17 = np.concatenate([legacy[:, :6], century, legacy[:, 6:]], axis=1)
    checks = _ID_CHECK_BYTES[((first17.astype(np.int64) - 48) @ np.array(RESIDENT_ID_WEIGHTS)) % 11]
    upgraded = np.concatenate([first17, checks[:, None]], axis=1)
    return _put(values, rows, _strings_from_block(upgraded))


# ---- dates ------------------------------------------------------------------------------------


def date_iso(value: Any) -> tuple[Any, bool]:
    """A string in a mixed date format (2023/1/5, 20230105, 2023年1月5日, 2023.01.05, 2023-1-5)
    becomes ISO 2023-01-05. Strict ISO dates and datetimes are left alone; so is anything that
    does not parse to a real day (the date rules then reject it). A time tail is dropped."""
    if not isinstance(value, str) or dates.is_real_date(value):
        return value, False
    parsed = dates.parse_mixed_date(value)
    return (parsed.isoformat(), True) if parsed else (value, False)


def date_iso_vectorised(values: Any) -> tuple[Any, int]:
    """Vectorised `date_iso`: ISO strings are assembled as 10-byte rows from the parsed parts."""
    strings = as_string_array(values)
    parsed, year, month, day = dates.mixed_date_parts(strings)
    rows = parsed & ~dates.real_date_mask(strings)
    columns = [
        year // 1000 % 10,
        year // 100 % 10,
        year // 10 % 10,
        year % 10,
        year,
        month // 10,
        month % 10,
        month,
        day // 10,
        day % 10,
    ]
    block = (np.stack(columns, axis=1)[rows] + 48).astype(np.uint8)
    block[:, [4, 7]] = ord("-")  # columns 4 and 7 were placeholders for the dashes
    return _put(values, rows, _strings_from_block(block))


# ---- timestamps -------------------------------------------------------------------------------

#: An ISO date-time at UTC (Z, +00:00, +0000, +00, -00:00); same pattern in Python `re` and RE2.
UTC_TIMESTAMP_PATTERN = (
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<hm>(?:[01][0-9]|2[0-3]):[0-5][0-9])"
    r"(?P<sec>:[0-5][0-9])?(?P<frac>\.[0-9]{1,9})?(?:[Zz]|[+-]00(?::?00)?)$"
)
_UTC_TIMESTAMP_RE = re.compile(UTC_TIMESTAMP_PATTERN)
_LAST_SECOND = int((datetime(9999, 12, 31, 23, 59, 59) - LOCAL_OFFSET - datetime(1970, 1, 1)).total_seconds())


def timestamp_to_local(value: Any) -> tuple[Any, bool]:
    """An ISO date-time at UTC ("2026-01-05T00:00:00Z", "…+00:00") becomes the same instant in
    Shunde time, "2026-01-05T08:00:00+08:00" (seconds always written, a fraction kept as given).
    Other offsets, naive times and values that are not a real date-time are left alone."""
    found = _UTC_TIMESTAMP_RE.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return value, False
    try:
        moment = datetime.fromisoformat(f"{found['date']}T{found['hm']}{found['sec'] or ':00'}") + LOCAL_OFFSET
    except (ValueError, OverflowError):  # not a real day, or past year 9999 once shifted
        return value, False
    # isoformat, not strftime: %Y does not pad years before 1000 on glibc (Arrow's does)
    return f"{moment.isoformat(timespec='seconds')}{found['frac'] or ''}+08:00", True


def timestamp_to_local_vectorised(values: Any) -> tuple[Any, int]:
    """Vectorised `timestamp_to_local`: the UTC rows are parsed, shifted and formatted in Arrow."""
    strings = as_string_array(values)
    rows = regex_mask(strings, UTC_TIMESTAMP_PATTERN)
    if not rows.any():
        return values, 0
    found = pc.extract_regex(strings.filter(pa.array(rows)), UTC_TIMESTAMP_PATTERN)
    day = found.field("date")
    real = dates.real_date_mask(day)
    seconds = pc.if_else(pc.equal(found.field("sec"), ""), ":00", found.field("sec"))
    naive = pc.binary_join_element_wise(day, "T", found.field("hm"), seconds, "")
    naive = pc.if_else(pa.array(real), naive, "1970-01-01T00:00:00")  # the cast takes only real days
    instants = naive.cast(pa.timestamp("s"))
    real &= instants.cast(pa.int64()).to_numpy(zero_copy_only=False) <= _LAST_SECOND
    local = pc.add(instants, pa.scalar(LOCAL_OFFSET, pa.duration("s")))
    text = pc.binary_join_element_wise(
        pc.strftime(local, format="%Y-%m-%dT%H:%M:%S"), found.field("frac"), "+08:00", ""
    )
    rows[rows] = real
    return _put(values, rows, text.filter(pa.array(real)))


# ---- coordinates ------------------------------------------------------------------------------


def _convert_pair(convert: Callable[[Any, Any], Any], point: Any) -> tuple[Any, bool]:
    lon, lat = point
    lons, lats = as_float_array(lon), as_float_array(lat)
    if np.isnan(lons[0]) or np.isnan(lats[0]):
        return point, False
    new_lon, new_lat = convert(float(lons[0]), float(lats[0]))
    return (new_lon, new_lat), (new_lon, new_lat) != (lons[0], lats[0])


def _convert_pairs(convert: Callable[[Any, Any], Any], points: Any) -> tuple[Any, int]:
    lons, lats = (as_float_array(v) for v in points)
    new_lons, new_lats = convert(lons, lats)
    changed = (new_lons != lons) | (new_lats != lats)
    return (new_lons, new_lats), int(np.sum(changed & ~np.isnan(new_lons) & ~np.isnan(new_lats)))


def gcj02_point_to_wgs84(point: Any) -> tuple[Any, bool]:
    """(lon, lat) in GCJ-02 → WGS84. Repaired unless missing (or outside China, where GCJ-02 = WGS84)."""
    return _convert_pair(geo.gcj02_to_wgs84, point)


def gcj02_points_to_wgs84(points: Any) -> tuple[Any, int]:
    """Vectorised: (lons, lats) in GCJ-02 → (lons, lats) numpy arrays in WGS84, and how many moved."""
    return _convert_pairs(geo.gcj02_to_wgs84, points)


def bd09_point_to_wgs84(point: Any) -> tuple[Any, bool]:
    """(lon, lat) in BD-09 (Baidu) → WGS84."""
    return _convert_pair(geo.bd09_to_wgs84, point)


def bd09_points_to_wgs84(points: Any) -> tuple[Any, int]:
    """Vectorised `bd09_point_to_wgs84`."""
    return _convert_pairs(geo.bd09_to_wgs84, points)


# ---- UTF-8 read as GBK ----------------------------------------------------------------------------


def mojibake_gbk(value: Any) -> tuple[Any, bool]:
    """Text that is UTF-8 read as GBK (see `quality.text.utf8_read_as_gbk`) back to what it was.
    Garbling that lost bytes (U+FFFD) or a "?" for a character GBK lacks cannot be undone: left alone."""
    if not isinstance(value, str):
        return value, False
    original = utf8_read_as_gbk(value)
    return (original, True) if original is not None else (value, False)


def mojibake_gbk_vectorised(values: Any) -> tuple[Any, int]:
    """Vectorised `mojibake_gbk`: the round trip once per distinct non-ASCII value."""
    garbled, originals = garbled_texts(values)
    return _put(values, garbled, originals)


# ---- registry and tally -----------------------------------------------------------------------


@dataclass(frozen=True)
class Normaliser:
    """A named repair: `row(value) -> (value, repaired)`, `vectorised(values) -> (values, count)`."""

    name: str
    row: Callable[[Any], tuple[Any, bool]]
    vectorised: Callable[[Any], tuple[Any, int]]
    description: str


NORMALISERS: dict[str, Normaliser] = {
    n.name: n
    for n in (
        Normaliser(
            "halfwidth",
            halfwidth,
            halfwidth_vectorised,
            "full-width digits, letters, punctuation and spaces to ASCII; trim both ends",
        ),
        Normaliser(
            "resident_id_upper_x",
            resident_id_upper_x,
            resident_id_upper_x_vectorised,
            "lowercase x check character of an 18-character ID to X",
        ),
        Normaliser(
            "resident_id_15_to_18",
            resident_id_15_to_18,
            resident_id_15_to_18_vectorised,
            "legacy 15-digit ID to 18: insert 19 before the year, append the check character",
        ),
        Normaliser(
            "date_iso",
            date_iso,
            date_iso_vectorised,
            "mixed date formats (2023/1/5, 20230105, 2023年1月5日, …) to ISO 2023-01-05",
        ),
        Normaliser(
            "timestamp_to_local",
            timestamp_to_local,
            timestamp_to_local_vectorised,
            "ISO date-times at UTC (…Z, …+00:00) to the same instant in Shunde time (…+08:00)",
        ),
        Normaliser(
            "mojibake_gbk",
            mojibake_gbk,
            mojibake_gbk_vectorised,
            "free text that is UTF-8 read as GBK (鍗庢櫤 → 华智) back to its UTF-8 reading",
        ),
        Normaliser(
            "gcj02_to_wgs84",
            gcj02_point_to_wgs84,
            gcj02_points_to_wgs84,
            "(lon, lat) mislabelled GCJ-02 web-map coordinates to WGS84",
        ),
        Normaliser("bd09_to_wgs84", bd09_point_to_wgs84, bd09_points_to_wgs84, "(lon, lat) in Baidu BD-09 to WGS84"),
    )
}
#: The usual chain for a resident ID column.
RESIDENT_ID_REPAIRS = ("halfwidth", "resident_id_upper_x", "resident_id_15_to_18")


def get_normaliser(name: str) -> Normaliser:
    """The normaliser called `name`; a QualityError lists the known names when there is none."""
    try:
        return NORMALISERS[name]
    except KeyError:
        raise QualityError(f"unknown normaliser {name!r}: use one of {', '.join(sorted(NORMALISERS))}") from None


@dataclass
class RepairCounts:
    """How many values each normaliser repaired: the evidence behind "repaired by a stated rule"."""

    counts: Counter = field(default_factory=Counter)

    def add(self, name: str, count: int = 1) -> None:
        get_normaliser(name)
        self.counts[name] += count

    def apply(self, name: str, values: Any) -> Any:
        """Run the vectorised normaliser `name` over `values`, tally, return the new values."""
        repaired_values, count = get_normaliser(name).vectorised(values)
        self.add(name, count)
        return repaired_values

    def apply_row(self, name: str, value: Any) -> Any:
        """Run the row normaliser `name` on one value, tally, return the new value."""
        new_value, repaired = get_normaliser(name).row(value)
        self.add(name, int(repaired))
        return new_value

    def apply_chain(self, names: Iterable[str], values: Any) -> Any:
        """Run several normalisers in order (e.g. RESIDENT_ID_REPAIRS) over `values`."""
        for name in names:
            values = self.apply(name, values)
        return values

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        """Non-zero counts by normaliser name, sorted by name (for evidence rows and reports)."""
        return {name: count for name, count in sorted(self.counts.items()) if count}

    def __add__(self, other: RepairCounts) -> RepairCounts:
        return RepairCounts(self.counts + other.counts)
