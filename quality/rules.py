"""Value rules for identifiers and codes, and `RULES`: the registry that catalogue rule names map to.

Every rule has a row-wise form (one value -> bool, never raises) and a vectorised `*_mask` form
(pyarrow array / pandas Series / list -> numpy bool array) that agrees with it value for value.
Rules judge a present value: None/null, non-strings, bytes all give False; whether a column may
be null is the suite's business (it combines `mask | is_null`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Callable, Iterable

import numpy as np

from catalog.checks import SEVERITIES
from catalog.reference import (
    PROVINCE_CODES,
    RESIDENT_ID_CHECK_CHARS,
    RESIDENT_ID_WEIGHTS,
    SHUNDE_CURRENT_COUNTY_CODES,
    SHUNDE_TOWNS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    resident_id_check_char,
    uscc_check_char,
)
from quality import dates, geo, text
from quality.arrays import as_float_array, as_string_array, digits_value, fixed_width_bytes, regex_mask
from quality.errors import QualityError

# ---- resident identity number (GB 11643-1999) -----------------------------------------------

RESIDENT_ID_PATTERN = r"^[0-9]{17}[0-9X]$"
EARLIEST_BIRTH = date(1900, 1, 1)
_RESIDENT_ID_RE = re.compile(RESIDENT_ID_PATTERN)
_PROVINCES = np.array(sorted(PROVINCE_CODES), dtype=np.int64)
_ID_CHECK_BYTES = np.frombuffer(RESIDENT_ID_CHECK_CHARS.encode(), dtype=np.uint8)


def is_valid_resident_id(value: Any, today: date | None = None) -> bool:
    """Strict GB 11643: 17 ASCII digits + digit or uppercase X, a GB/T 2260 province, a real birth
    date from 1900-01-01 to `today` (default Shunde's today), and the right check character."""
    if not isinstance(value, str) or _RESIDENT_ID_RE.fullmatch(value) is None:
        return False
    if int(value[:2]) not in PROVINCE_CODES:
        return False
    birth = dates.real_date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    if birth is None or not EARLIEST_BIRTH <= birth <= (today or dates.local_today()):
        return False
    return resident_id_check_char(value[:17]) == value[17]


def resident_id_mask(values: Any, today: date | None = None) -> np.ndarray:
    """Vectorised `is_valid_resident_id`, computed over an n × 18 byte view of the values."""
    strings = as_string_array(values)
    ok = regex_mask(strings, RESIDENT_ID_PATTERN)
    block = fixed_width_bytes(strings, ok, 18)
    digits = block[:, :17].astype(np.int64) - 48
    ok &= np.isin(digits_value(block[:, 0:2]), _PROVINCES)
    year, month, day = digits_value(block[:, 6:10]), digits_value(block[:, 10:12]), digits_value(block[:, 12:14])
    ok &= dates.calendar_ok(year, month, day)
    birth = year * 10000 + month * 100 + day
    ok &= (birth >= dates.ymd_int(EARLIEST_BIRTH)) & (birth <= dates.ymd_int(today or dates.local_today()))
    checks = _ID_CHECK_BYTES[(digits @ np.array(RESIDENT_ID_WEIGHTS, dtype=np.int64)) % 11]
    return ok & (checks == block[:, 17])


# ---- unified social credit code (GB 32100-2015) ----------------------------------------------

USCC_PATTERN = r"^[0-9A-HJ-NP-RTUW-Y]{18}$"
_USCC_RE = re.compile(USCC_PATTERN)
_USCC_VALUES = np.full(256, -1, dtype=np.int64)
_USCC_VALUES[np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)] = np.arange(31)


def is_valid_uscc(value: Any) -> bool:
    """Strict GB 32100: 18 characters of 0-9 and A-Y without I, O, Z, S, V, and the right check."""
    if not isinstance(value, str) or _USCC_RE.fullmatch(value) is None:
        return False
    return uscc_check_char(value[:17]) == value[17]


def uscc_mask(values: Any) -> np.ndarray:
    """Vectorised `is_valid_uscc`."""
    strings = as_string_array(values)
    ok = regex_mask(strings, USCC_PATTERN)
    codes = _USCC_VALUES[fixed_width_bytes(strings, ok, 18)]
    total = codes[:, :17] @ np.array(USCC_WEIGHTS, dtype=np.int64)
    return ok & ((31 - total % 31) % 31 == codes[:, 17])


# ---- codes checked by pattern alone -----------------------------------------------------------

MOBILE_PATTERN = r"^(?:\+?86)?1[3-9][0-9]{9}$"
#: GB/T 28181 industry codes accepted (DOMAIN §2).
CAMERA_INDUSTRY_CODES: dict[str, str] = {
    "00": "治安路面",
    "01": "社区",
    "04": "交通路面",
    "05": "卡口",
    "08": "城市管理",
    "09": "卫生环保",
    "11": "教育",
}
#: GB/T 28181 device type codes accepted (DOMAIN §2).
CAMERA_TYPE_CODES: dict[str, str] = {
    "111": "DVR",
    "118": "NVR",
    "131": "摄像机",
    "132": "网络摄像机 IPC",
    "134": "报警输入设备",
}
#: 宗地特征码, first letter: land ownership (GB/T 37346-2019).
PARCEL_OWNERSHIP_CODES: dict[str, str] = {"G": "国家土地所有权", "J": "集体土地所有权", "Z": "土地所有权未确定或有争议"}
#: 宗地特征码, second letter: the kind of right / parcel. The pairing rules of the standard
#: (A and C only under J, H and G only under G) are not enforced: cadastral data coded under the
#: 2012 trial rules and local practice pair them otherwise (GA, ZA occur), and a wrong pairing is
#: a registration question, not a malformed code.
PARCEL_RIGHT_CODES: dict[str, str] = {
    "A": "集体土地所有权宗地",
    "B": "建设用地使用权宗地（地表）",
    "S": "建设用地使用权宗地（地上）",
    "X": "建设用地使用权宗地（地下）",
    "C": "宅基地使用权宗地",
    "D": "土地承包经营权宗地（耕地）",
    "E": "土地承包经营权宗地（林地）",
    "F": "土地承包经营权宗地（草地）",
    "H": "海域使用权宗海",
    "G": "无居民海岛使用权",
    "W": "使用权未确定或有争议",
    "Y": "其他使用权宗地",
}
#: Village-level suffixes accepted under a town: 001–199 居委会, 200–399 村委会 (≈, DOMAIN §3).
VILLAGE_SUFFIX_PATTERN = r"(?:00[1-9]|0[1-9][0-9]|[1-3][0-9]{2})"


def _alternatives(codes: Iterable[str]) -> str:
    return "(?:" + "|".join(sorted(re.escape(code) for code in codes)) + ")"


def camera_id_pattern(county_codes: Iterable[str] = SHUNDE_CURRENT_COUNTY_CODES) -> str:
    """GB/T 28181 device ID: county (6) + base unit (2) + industry + type + network 0–8 + serial (6)."""
    return (
        f"^{_alternatives(county_codes)}[0-9]{{2}}{_alternatives(CAMERA_INDUSTRY_CODES)}"
        f"{_alternatives(CAMERA_TYPE_CODES)}[0-8][0-9]{{6}}$"
    )


def parcel_code_pattern(county_codes: Iterable[str] = SHUNDE_CURRENT_COUNTY_CODES) -> str:
    """宗地代码: county (6) + 地籍区 (3) + 地籍子区 (3) + 特征码 (2 letters) + 宗地顺序号 (5)."""
    return (
        f"^{_alternatives(county_codes)}[0-9]{{6}}[{''.join(PARCEL_OWNERSHIP_CODES)}]"
        f"[{''.join(PARCEL_RIGHT_CODES)}][0-9]{{5}}$"
    )


TOWN_CODE_PATTERN = f"^{_alternatives(SHUNDE_TOWNS)}{VILLAGE_SUFFIX_PATTERN}?$"


@lru_cache(maxsize=32)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _matches(pattern: str, value: Any) -> bool:
    return isinstance(value, str) and _compiled(pattern).fullmatch(value) is not None


def is_valid_mobile(value: Any) -> bool:
    """A mainland mobile number, optionally prefixed 86 / +86, no spaces or dashes."""
    return _matches(MOBILE_PATTERN, value)


def mobile_mask(values: Any) -> np.ndarray:
    """Vectorised `is_valid_mobile`."""
    return regex_mask(as_string_array(values), MOBILE_PATTERN)


def is_valid_camera_id(value: Any, county_codes: Iterable[str] = SHUNDE_CURRENT_COUNTY_CODES) -> bool:
    """A 20-digit GB/T 28181 device ID of one of `county_codes` (default Shunde, 440606)."""
    return _matches(camera_id_pattern(tuple(county_codes)), value)


def camera_id_mask(values: Any, county_codes: Iterable[str] = SHUNDE_CURRENT_COUNTY_CODES) -> np.ndarray:
    """Vectorised `is_valid_camera_id`."""
    return regex_mask(as_string_array(values), camera_id_pattern(tuple(county_codes)))


def is_valid_parcel_code(value: Any, county_codes: Iterable[str] = SHUNDE_CURRENT_COUNTY_CODES) -> bool:
    """A 19-character 宗地代码 in one of `county_codes` with an accepted 特征码 (see PARCEL_*)."""
    return _matches(parcel_code_pattern(tuple(county_codes)), value)


def parcel_code_mask(values: Any, county_codes: Iterable[str] = SHUNDE_CURRENT_COUNTY_CODES) -> np.ndarray:
    """Vectorised `is_valid_parcel_code`."""
    return regex_mask(as_string_array(values), parcel_code_pattern(tuple(county_codes)))


def is_valid_town_code(value: Any) -> bool:
    """One of Shunde's ten 9-digit town codes, or a 12-digit village code under one (suffix 001–399)."""
    return _matches(TOWN_CODE_PATTERN, value)


def town_code_mask(values: Any) -> np.ndarray:
    """Vectorised `is_valid_town_code`."""
    return regex_mask(as_string_array(values), TOWN_CODE_PATTERN)


def is_valid_lon(value: Any) -> bool:
    """A longitude (a real number, not a string) inside Shunde's box."""
    return bool(geo.lon_in_box(value))


def lon_mask(values: Any) -> np.ndarray:
    """Vectorised `is_valid_lon`."""
    return np.asarray(geo.lon_in_box(as_float_array(values)), dtype=bool)


def is_valid_lat(value: Any) -> bool:
    """A latitude (a real number, not a string) inside Shunde's box."""
    return bool(geo.lat_in_box(value))


def lat_mask(values: Any) -> np.ndarray:
    """Vectorised `is_valid_lat`."""
    return np.asarray(geo.lat_in_box(as_float_array(values)), dtype=bool)


# ---- the registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A named value rule: `row(value) -> bool`, `mask(values) -> numpy bool array`."""

    name: str
    row: Callable[[Any], bool]
    mask: Callable[[Any], np.ndarray]
    severity: str
    description: str


def _rule(name: str, row: Callable, mask: Callable, severity: str, description: str) -> Rule:
    if severity not in SEVERITIES:
        raise QualityError(f"rule {name!r}: severity must be one of {SEVERITIES}, got {severity!r}")
    return Rule(name, row, mask, severity, description)


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        _rule(
            "resident_id",
            is_valid_resident_id,
            resident_id_mask,
            "critical",
            "GB 11643 resident ID: uppercase X, province, real birth date 1900..today, check character",
        ),
        _rule(
            "uscc",
            is_valid_uscc,
            uscc_mask,
            "critical",
            "GB 32100 unified social credit code: alphabet and check character",
        ),
        _rule("mobile", is_valid_mobile, mobile_mask, "warning", "mainland mobile number, optional 86/+86 prefix"),
        _rule(
            "camera_id",
            is_valid_camera_id,
            camera_id_mask,
            "critical",
            "GB/T 28181 20-digit device ID in Shunde with known industry, type and network codes",
        ),
        _rule(
            "parcel_code",
            is_valid_parcel_code,
            parcel_code_mask,
            "critical",
            "19-character 宗地代码 in Shunde with a known 宗地特征码",
        ),
        _rule(
            "town_code",
            is_valid_town_code,
            town_code_mask,
            "critical",
            "one of Shunde's ten town codes or a village code under one",
        ),
        _rule("lon", is_valid_lon, lon_mask, "critical", "longitude inside Shunde's box, 112.95–113.42"),
        _rule("lat", is_valid_lat, lat_mask, "critical", "latitude inside Shunde's box, 22.63–23.06"),
        _rule(
            "not_future_date",
            dates.is_not_future_date,
            dates.not_future_date_mask,
            "warning",
            "a real ISO date (or date value) not after today in Shunde",
        ),
        _rule(
            "text_intact",
            text.is_intact_text,
            text.intact_text_mask,
            "warning",
            "free text without U+FFFD, '?' for a character the source could not hold, or UTF-8 read as GBK",
        ),
        _rule(
            "not_sentinel_date",
            lambda v: not dates.is_sentinel_date(v),
            lambda v: ~dates.sentinel_date_mask(v),
            "warning",
            "not a placeholder date (1900-01-01, 1970-01-01) standing for unknown",
        ),
    )
}


def get_rule(name: str) -> Rule:
    """The rule called `name`; a QualityError lists the known names when there is none."""
    try:
        return RULES[name]
    except KeyError:
        raise QualityError(
            f"unknown quality rule {name!r}: use one of {', '.join(sorted(RULES))} "
            f"in the catalogue's information item rules"
        ) from None
