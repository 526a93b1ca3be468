"""Reference data the catalogue, the quality rules and the synthetic stand-in systems share, kept once:
administrative division codes (GB/T 2260 and the NBS statistical division codes, 2024; tests check
every code here against the national list) and the check characters of resident ID numbers
(GB 11643-1999) and unified social credit codes (GB 32100-2015).

Shunde natives carry 440606 or a retired code (440681 顺德市 1992–2003, 440623 顺德县 before 1992),
so those stay valid in ID numbers although the current division list no longer has them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from catalog.errors import CatalogError

#: GB/T 2260 province-level codes that can start a resident ID (incl. 71 Taiwan, 81 HK, 82 Macao).
PROVINCE_CODES: frozenset[int] = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66), 71, 81, 82]
)

SHUNDE_DISTRICT_CODE = "440606"
#: County codes that Shunde natives' IDs begin with: current first, then the retired ones.
SHUNDE_CURRENT_COUNTY_CODES: tuple[str, ...] = ("440606",)
SHUNDE_RETIRED_COUNTY_CODES: dict[str, str] = {"440681": "顺德市", "440623": "顺德县"}
SHUNDE_ID_ADDRESS_CODES: tuple[str, ...] = (
    *SHUNDE_CURRENT_COUNTY_CODES,
    *SHUNDE_RETIRED_COUNTY_CODES,
)

#: Shunde's ten towns / streets (9-digit NBS codes).
SHUNDE_TOWNS: dict[str, str] = {
    "440606003": "伦教街道",
    "440606004": "勒流街道",
    "440606005": "大良街道",
    "440606006": "容桂街道",
    "440606101": "陈村镇",
    "440606102": "北滘镇",
    "440606103": "乐从镇",
    "440606104": "龙江镇",
    "440606105": "杏坛镇",
    "440606106": "均安镇",
}

#: Approximate town centres (lon, lat), WGS84 (≈, DOMAIN §3): references for coordinate checks.
SHUNDE_TOWN_CENTRES: dict[str, tuple[float, float]] = {
    "440606005": (113.25, 22.84),
    "440606006": (113.27, 22.77),
    "440606003": (113.216, 22.871),
    "440606004": (113.127, 22.859),
    "440606101": (113.24, 22.96),
    "440606102": (113.21, 22.92),
    "440606103": (113.09, 22.96),
    "440606104": (113.08, 22.87),
    "440606105": (113.15, 22.78),
    "440606106": (113.14, 22.67),
}

#: Counties many of Shunde's migrant residents come from (current codes), with names.
MIGRANT_ORIGIN_COUNTY_CODES: dict[str, str] = {
    # 湖南
    "430582": "邵东市",
    "430426": "祁东县",
    "430481": "耒阳市",
    "430422": "衡南县",
    "430524": "隆回县",
    # 广西
    "450981": "北流市",
    "450923": "博白县",
    "450922": "陆川县",
    "450921": "容县",
    "450881": "桂平市",
    "450821": "平南县",
    "450521": "合浦县",
    # 四川
    "511324": "仪陇县",
    "511322": "营山县",
    "511725": "渠县",
    "511722": "宣汉县",
    "512021": "安岳县",
    # 江西
    "360731": "于都县",
    "360732": "兴国县",
    "360781": "瑞金市",
    "360735": "石城县",
    # 湖北
    "421126": "蕲春县",
    "421125": "浠水县",
    "421181": "麻城市",
    "421087": "松滋市",
    # 河南
    "411525": "固始县",
    "411524": "商城县",
    "411381": "邓州市",
    "411528": "息县",
    # 广东 (粤西、粤东、粤北)
    "440881": "廉江市",
    "440882": "雷州市",
    "440982": "化州市",
    "440983": "信宜市",
    "440981": "高州市",
    "440904": "电白区",
    "445281": "普宁市",
    "441481": "兴宁市",
    "441424": "五华县",
    # 贵州、重庆、福建、安徽、云南
    "520502": "七星关区",
    "520527": "赫章县",
    "500101": "万州区",
    "500154": "开州区",
    "500235": "云阳县",
    "500236": "奉节县",
    "350583": "南安市",
    "341222": "太和县",
    "530381": "宣威市",
}


class CodeError(CatalogError, ValueError):
    """A check-character helper was called with input of the wrong shape (a caller's mistake)."""


# ---- resident identity number (GB 11643-1999) -----------------------------------------------

RESIDENT_ID_WEIGHTS: tuple[int, ...] = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 … 2
RESIDENT_ID_CHECK_CHARS = "10X98765432"


def _ascii_digits(text: Any, length: int) -> bool:
    return isinstance(text, str) and len(text) == length and text.isascii() and text.isdigit()


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character ("0"–"9" or "X") for 17 ASCII digits."""
    if not _ascii_digits(first17, 17):
        raise CodeError(f"resident_id_check_char needs 17 ASCII digits, got {first17!r}")
    total = sum(int(digit) * weight for digit, weight in zip(first17, RESIDENT_ID_WEIGHTS))
    return RESIDENT_ID_CHECK_CHARS[total % 11]


def make_resident_id(address6: str, birth: date, seq: int) -> str:
    """A valid 18-character ID: address code, birth date, sequence (odd male / even female), check."""
    if not _ascii_digits(address6, 6) or not 0 <= seq <= 999:
        raise CodeError(f"make_resident_id needs a 6-digit address code and seq 0–999, got {address6!r}, {seq!r}")
    first17 = f"{address6}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq:03d}"
    return first17 + resident_id_check_char(first17)


# ---- unified social credit code (GB 32100-2015) ----------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for 17 characters of the USCC alphabet."""
    if not (isinstance(first17, str) and len(first17) == 17 and all(c in USCC_ALPHABET for c in first17)):
        raise CodeError(f"uscc_check_char needs 17 characters of {USCC_ALPHABET}, got {first17!r}")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(prefix2: str, area6: str, subject9: str) -> str:
    """A valid USCC: authority + type (e.g. "91"), 6-digit area code, 9-character subject code."""
    if len(prefix2) != 2 or not _ascii_digits(area6, 6) or len(subject9) != 9:
        raise CodeError(
            f"make_uscc needs a 2-char prefix, 6-digit area, 9-char subject, got {prefix2!r}, {area6!r}, {subject9!r}"
        )
    first17 = prefix2 + area6 + subject9
    return first17 + uscc_check_char(first17)
