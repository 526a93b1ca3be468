"""Identifiers with their national check characters (DOMAIN §2), plus the broken forms that real
sources hold. Valid codes come from `catalog.reference`'s makers, so sources and validators agree.
"""

from __future__ import annotations

import operator
import random
from datetime import date

from catalog.reference import (
    RESIDENT_ID_CHECK_CHARS as ID_CHECKS,
)
from catalog.reference import (
    RESIDENT_ID_WEIGHTS as ID_WEIGHTS,
)
from catalog.reference import (
    USCC_ALPHABET as USCC_CHARS,
)
from catalog.reference import (
    make_resident_id,
    make_uscc,
    resident_id_check_char,
    uscc_check_char,
)

# GB/T 28181 industry codes (2 digits) and device types (3 digits), DOMAIN §2.
CAMERA_INDUSTRIES = ("00", "01", "04", "05", "08", "09", "11")
CAMERA_TYPES = ("131", "132", "132", "132", "118", "111")
CAMERA_NETWORKS = ("0", "1", "5", "6", "6", "7", "8")
_ID_WEIGHTS_OFFSET = 48 * sum(ID_WEIGHTS)


def id_check(first17: str) -> str:
    """GB 11643-1999 check character of the first 17 digits."""
    if not (isinstance(first17, str) and len(first17) == 17 and first17.isascii() and first17.isdigit()):
        return resident_id_check_char(first17)  # which says what is wrong
    return _id_check(first17)


def resident_id(address_code: str, birth: date, sequence: int) -> str:
    """An 18-character resident ID; `sequence` 0–999 (odd = male)."""
    valid = isinstance(address_code, str) and len(address_code) == 6 and address_code.isascii()
    if not (valid and address_code.isdigit() and 0 <= sequence <= 999):
        return make_resident_id(address_code, birth, sequence)  # which says what is wrong
    first17 = f"{address_code}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return first17 + _id_check(first17)


def _id_check(first17: str) -> str:
    # `resident_id_check_char` without its checks and per-digit int(), for 17 ASCII digits:
    # Σ (code − 48) · w = Σ code · w − 48 Σ w. A population of millions makes an ID per person.
    return ID_CHECKS[(sum(map(operator.mul, first17.encode(), ID_WEIGHTS)) - _ID_WEIGHTS_OFFSET) % 11]


def wrong_id_check(first17: str) -> str:
    """A check character that is NOT the right one (deterministic: the next in the table)."""
    right = ID_CHECKS.index(id_check(first17))
    # An offset of 1–10 positions in an 11-character table never lands on the right one.
    return ID_CHECKS[(right + 1 + int(first17[-1])) % 11]


def legacy_15(id18: str) -> str:
    """The GB 11643-1989 15-digit form of an 18-digit ID born in 19xx: no century, no check."""
    return id18[:6] + id18[8:17]


def uscc_check(first17: str) -> str:
    """GB 32100-2015 check character."""
    return uscc_check_char(first17)


def uscc(prefix: str, area: str, rng: random.Random) -> str:
    """A valid USCC: 2-char prefix (91 企业, 92 个体, 93 农专 …), 6-digit area, random subject code."""
    return make_uscc(prefix, area, "".join(rng.choice(USCC_CHARS) for _ in range(9)))


def uscc_wrong_check(code: str) -> str:
    right = USCC_CHARS.index(uscc_check(code[:17]))
    return code[:17] + USCC_CHARS[(right + 7) % 31]


def old_registration_number(area: str, rng: random.Random) -> str:
    """A pre-2015 15-digit 工商注册号 (area code + 9 digits), the form legacy rows still hold."""
    return f"{area}{rng.randrange(10**9):09d}"


def mobile(rng: random.Random) -> str:
    """A plausible mainland mobile number (13x–19x)."""
    prefix = rng.choice(("13", "15", "18", "17", "19", "16", "14"))
    return f"{prefix}{rng.randrange(10):d}{rng.randrange(10**8):08d}"


def invalid_phone(rng: random.Random) -> str:
    """A phone value that fails ^(?:\\+?86)?1[3-9]\\d{9}$ the way typed-in numbers do."""
    kind = rng.randrange(4)
    if kind == 0:
        return f"1{rng.randrange(3)}{rng.randrange(10**9):09d}"  # 10x/11x/12x: no such network
    if kind == 1:
        return f"1{rng.randrange(3, 10)}{rng.randrange(10**8):08d}"  # 10 digits: one missing
    if kind == 2:
        return f"1{rng.randrange(3, 10)}{rng.randrange(10**10):010d}"  # 12 digits
    return f"0757-{rng.randrange(10**7):07d}"  # a landline one digit short


def camera_id(industry: str, device_type: str, network: str, serial: int) -> str:
    """A 20-digit GB/T 28181 device ID under centre 44060600."""
    return f"44060600{industry}{device_type}{network}{serial:06d}"


def malformed_camera_id(good: str, rng: random.Random) -> str:
    """A 19- or 21-digit ID as misconfigured devices report them."""
    return good[:-1] if rng.random() < 0.5 else good + str(rng.randrange(10))


def parcel_code(town9: str, block: int, feature: str, sequence: int) -> str:
    """A 19-character 宗地代码: 6-digit division + 3-digit 地籍区 + 3-digit 地籍子区 + 2 + 5 sequence."""
    return f"{town9[:6]}{town9[6:9]}{block:03d}{feature}{sequence:05d}"


def real_estate_unit(parcel: str, building: int, unit: int) -> str:
    """A 28-character 不动产单元号: the parcel code + F + 4-digit building + 4-digit unit."""
    return f"{parcel}F{building:04d}{unit:04d}"
