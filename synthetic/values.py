"""Plausible values for one information item, derived from its type, rules, PII kind and name.

`maker_for(item, ...)` returns a function (rng, row_number) -> value. The order of preference:
a named validator, an allowed-values list, a regex, the PII kind, the pinyin-initial name
(…mc 名称, …dz 地址, …rq 日期), and finally the item type with its min/max and length.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta

from catalog.reference import SHUNDE_TOWN_CENTRES, SHUNDE_TOWNS
from quality.dates import SENTINEL_DATES
from synthetic import codes, texts
from synthetic.base import SHUNDE_TZ, iso_ts_seconds

try:  # the regex parser is private but stable across 3.11+; it lets a rule's regex drive values
    import re._constants as _sre
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

Maker = Callable[[random.Random, int], object]
TOWNS = tuple(SHUNDE_TOWNS)
_DIGITS, _UPPER, _LOWER = "0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"


def town(rng: random.Random) -> str:
    return rng.choice(TOWNS)


#: A phone or handheld GPS fix: metres of error per axis, usually a few, in street canyons tens.
GPS_ERROR_M, GPS_CANYON_ERROR_M, GPS_CANYON_SHARE = 4.0, 25.0, 0.03
_M_PER_DEG_LAT = 110_574.0


def gps_fix(rng: random.Random, lon: float, lat: float) -> tuple[float, float]:
    """Where a GPS fix puts a point that truly lies at (lon, lat): Gaussian error, heavier for a few."""
    error = GPS_CANYON_ERROR_M if rng.random() < GPS_CANYON_SHARE else GPS_ERROR_M
    east, north = rng.gauss(0, error), rng.gauss(0, error)
    return (round(lon + east / (111_320.0 * math.cos(math.radians(lat))), 7), round(lat + north / _M_PER_DEG_LAT, 7))


def point_near_town(rng: random.Random, town9: str, spread_deg: float = 0.025) -> tuple[float, float]:
    """(lon, lat) a few km around the town centre (Gaussian), kept inside Shunde's box."""
    lon, lat = SHUNDE_TOWN_CENTRES[town9]
    lon = min(113.41, max(112.96, lon + rng.gauss(0, spread_deg)))
    lat = min(23.05, max(22.64, lat + rng.gauss(0, spread_deg * 0.8)))
    return round(lon, 6), round(lat, 6)


def date_between(rng: random.Random, start: date, end: date) -> date:
    return not_a_placeholder(start + timedelta(days=rng.randrange(max(1, (end - start).days + 1))))


def not_a_placeholder(day: date) -> date:
    """A clean generated date never falls on a placeholder (1900-01-01, 1970-01-01): the ground
    truth must tell a real date from one standing for "unknown", which the data alone cannot."""
    return day + timedelta(days=1) if day in SENTINEL_DATES else day


def moment_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = max(1, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randrange(seconds))


# ---- regex-driven values -------------------------------------------------------------------------


def from_regex(pattern: str, rng: random.Random) -> str:
    """A string matching `pattern` (literals, classes, repeats, groups, alternation); checked."""
    emit, matches = _compiled(pattern)
    for _ in range(20):
        text = emit(rng)
        if matches(text):
            return text
    raise ValueError(f"cannot generate a value for regex {pattern!r}: simplify it or add `values`")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str):
    # Parsed and turned into an emitter once per pattern, not once per value (parsing and building
    # each class's choices were most of a generated row's time); it draws exactly as `_emit` does.
    return _emitter(_sre_parse.parse(pattern)), re.compile(pattern).fullmatch


def _emitter(parsed) -> Callable[[random.Random], str]:
    """`_emit(parsed, rng)` as a function of rng, with the fixed parts worked out once."""
    parts = [_op_emitter(op, arg) for op, arg in parsed]
    parts = [part for part in parts if part is not None]
    return lambda rng: "".join([part(rng) for part in parts])


def _op_emitter(op, arg) -> Callable[[random.Random], str] | None:
    if op is _sre.LITERAL:
        char = chr(arg)
        return lambda rng: char
    if op is _sre.IN:
        if all(item_op in (_sre.LITERAL, _sre.RANGE) for item_op, _ in arg):
            choices = _class_choices(arg)  # no draw while building: the same list every time
            return lambda rng: rng.choice(choices)
        return lambda rng: _from_class(arg, rng)
    if op is _sre.ANY:
        return lambda rng: rng.choice(_DIGITS + _UPPER)
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
        low, high, sub = arg
        high = low + 3 if high is _sre.MAXREPEAT else high
        emit_sub = _emitter(sub)
        return lambda rng: "".join([emit_sub(rng) for _ in range(rng.randint(low, high))])
    if op is _sre.SUBPATTERN:
        return _emitter(arg[-1])
    if op is _sre.BRANCH:
        branches = [_emitter(branch) for branch in arg[1]]
        return lambda rng: rng.choice(branches)(rng)
    if op is _sre.CATEGORY:
        return lambda rng: _from_category(arg, rng)
    return None


def _class_choices(items) -> list[str]:
    choices: list[str] = []
    for op, arg in items:
        if op is _sre.LITERAL:
            choices.append(chr(arg))
        elif op is _sre.RANGE:
            choices.extend(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 200) + 1))
    return choices


def _emit(parsed, rng: random.Random) -> str:
    out = []
    for op, arg in parsed:
        if op is _sre.LITERAL:
            out.append(chr(arg))
        elif op is _sre.IN:
            out.append(_from_class(arg, rng))
        elif op is _sre.ANY:
            out.append(rng.choice(_DIGITS + _UPPER))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            low, high, sub = arg
            high = low + 3 if high is _sre.MAXREPEAT else high
            out.extend(_emit(sub, rng) for _ in range(rng.randint(low, high)))
        elif op is _sre.SUBPATTERN:
            out.append(_emit(arg[-1], rng))
        elif op is _sre.BRANCH:
            out.append(_emit(rng.choice(arg[1]), rng))
        elif op is _sre.CATEGORY:
            out.append(_from_category(arg, rng))
    return "".join(out)


def _from_category(category, rng: random.Random) -> str:
    if category is _sre.CATEGORY_DIGIT:
        return rng.choice(_DIGITS)
    if category is _sre.CATEGORY_WORD:
        return rng.choice(_DIGITS + _LOWER)
    return " " if category is _sre.CATEGORY_SPACE else "A"


def _from_class(items, rng: random.Random) -> str:
    choices: list[str] = []
    for op, arg in items:
        if op is _sre.NEGATE:
            return rng.choice(_DIGITS)
        if op is _sre.LITERAL:
            choices.append(chr(arg))
        elif op is _sre.RANGE:
            choices.extend(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 200) + 1))
        elif op is _sre.CATEGORY:
            choices.append(_from_category(arg, rng))
    return rng.choice(choices)


# ---- per item ------------------------------------------------------------------------------------


def maker_for(item, as_of: datetime) -> Maker:
    """How to make a plausible value of `item` at time `as_of`."""
    rules = item.rules
    today = as_of.date()
    if rules.values:  # an explicit code list is the strictest rule: it wins over a validator
        values = list(rules.values)
        return lambda rng, n: rng.choice(values)
    by_validator = _VALIDATOR_MAKERS.get(rules.validator or "")
    if by_validator:
        return by_validator(item, today)
    if rules.regex:
        return lambda rng, n: from_regex(rules.regex, rng)
    by_pii = _PII_MAKERS.get(item.pii or "none")
    if by_pii:
        return by_pii
    return _by_type(item, as_of)


def _resident_id(item, today: date) -> Maker:
    def make(rng: random.Random, n: int) -> str:
        area = rng.choice(("440606", "440606", "440681", "440623", "430582", "450981", "511324", "360731"))
        return codes.resident_id(
            area, date_between(rng, date(1940, 1, 1), today - timedelta(days=365 * 16)), rng.randrange(1000)
        )

    return make


def _town_code(item, today: date) -> Maker:
    if (item.length or 9) >= 12:
        return lambda rng, n: f"{town(rng)}{rng.choice((rng.randrange(1, 40), rng.randrange(200, 240))):03d}"
    return lambda rng, n: town(rng)


def _not_future(item, today: date) -> Maker:
    if item.type == "T":
        start = datetime.combine(today - timedelta(days=3650), datetime.min.time(), SHUNDE_TZ)
        end = datetime.combine(today, datetime.min.time(), SHUNDE_TZ)
        return lambda rng, n: iso_ts_seconds(moment_between(rng, start, end))
    return lambda rng, n: date_between(rng, today - timedelta(days=3650), today).isoformat()


_VALIDATOR_MAKERS: dict[str, Callable[[object, date], Maker]] = {
    "resident_id": _resident_id,
    "uscc": lambda item, today: lambda rng, n: codes.uscc(rng.choice(("91", "91", "92")), "440606", rng),
    "mobile": lambda item, today: lambda rng, n: codes.mobile(rng),
    "camera_id": lambda item, today: (
        lambda rng, n: codes.camera_id(
            rng.choice(codes.CAMERA_INDUSTRIES),
            rng.choice(codes.CAMERA_TYPES),
            rng.choice(codes.CAMERA_NETWORKS),
            rng.randrange(10**6),
        )
    ),
    "parcel_code": lambda item, today: (
        lambda rng, n: codes.parcel_code(
            town(rng), rng.randrange(1, 30), rng.choice(("GB", "GB", "JC", "JA")), rng.randrange(1, 10**5)
        )
    ),
    "town_code": _town_code,
    "lon": lambda item, today: lambda rng, n: point_near_town(rng, town(rng))[0],
    "lat": lambda item, today: lambda rng, n: point_near_town(rng, town(rng))[1],
    "not_future_date": _not_future,
}

_PII_MAKERS: dict[str, Maker] = {
    "id_number": _resident_id(None, date(2026, 1, 1)),
    "name": lambda rng, n: texts.person_name(rng),
    "phone": lambda rng, n: codes.mobile(rng),
    "address": lambda rng, n: texts.street_address(town(rng), rng),
    "credit_code_person": lambda rng, n: codes.uscc("92", "440606", rng),
}


def _drawing_only(item, as_of: datetime) -> Maker | None:
    """For a value thrown away after it is made: a maker that draws from rng exactly as
    `maker_for(item, as_of)` does and returns None, or None if that maker is not `_by_type`'s time."""
    rules = item.rules
    if item.type != "T" or rules.values or _VALIDATOR_MAKERS.get(rules.validator or "") or rules.regex:
        return None
    if _PII_MAKERS.get(item.pii or "none"):
        return None
    seconds = max(1, int((as_of - (as_of - timedelta(days=365))).total_seconds()))  # as moment_between

    def draw(rng: random.Random, n: int) -> None:
        rng.randrange(seconds)

    return draw


def _by_type(item, as_of: datetime) -> Maker:
    name, kind, rules = item.name, item.type, item.rules
    low = rules.min if rules.min is not None else 0.0
    high = rules.max if rules.max is not None else (100.0 if kind == "I" else 1000.0)
    if kind == "D":
        return lambda rng, n: date_between(rng, as_of.date() - timedelta(days=3650), as_of.date()).isoformat()
    if kind == "T":
        start = as_of - timedelta(days=365)
        return lambda rng, n: iso_ts_seconds(moment_between(rng, start, as_of))
    if kind == "I":
        return lambda rng, n: rng.randint(math.ceil(low), math.floor(high))
    if kind in ("N", "F", "B"):
        return lambda rng, n: round(rng.uniform(low, high), 2)
    if kind == "L":
        return lambda rng, n: rng.random() < 0.5
    return _text_by_name(name, item.label or name, item.length)


def _text_by_name(name: str, label: str, length: int | None) -> Maker:
    if name.endswith("mc") or "名称" in label:
        return _named_thing(label, length)
    if name.endswith("dz") or "地址" in label:
        return lambda rng, n: _fit(texts.street_address(town(rng), rng, room=False), length)
    if name.endswith(("xzqh", "ssjz", "jdxz")) or "区划" in label or "镇街" in label:
        return lambda rng, n: town(rng)
    if name.endswith(("bh", "dm", "bm", "id", "hm")) or "编号" in label or "代码" in label:
        width = min(length or 12, 18)
        return lambda rng, n: f"{n:0{width}d}"[-width:]
    return lambda rng, n: _fit(f"{label}{rng.randrange(1, 10**4):04d}", length)


# What a name-like item names, by a word of its label → the suffix such names end with.
_NAMED_KINDS = (
    ("学校", "学校"),
    ("幼儿园", "幼儿园"),
    ("医院", "医院"),
    ("医疗", "医院"),
    ("药", "大药房"),
    ("养老", "养老院"),
    ("场所", "广场"),
    ("景区", "生态公园"),
    ("站", "站"),
    ("线路", "线"),
)


def _named_thing(label: str, length: int | None) -> Maker:
    """A name for a 名称 item: an organisation of the label's kind, a company, or a numbered thing."""
    if "道路" in label or "街路巷" in label:
        return lambda rng, n: _fit(rng.choice(texts.ROADS), length)
    suffix = next((end for word, end in _NAMED_KINDS if word in label), None)
    if suffix:

        def make(rng: random.Random, n: int) -> str:
            return _fit(f"佛山市顺德区{texts.TOWN_SHORT[town(rng)]}{rng.choice(texts.COMMUNITY_WORDS)}{suffix}", length)

        return make
    if any(word in label for word in ("企业", "单位", "公司", "机构", "组织", "主体", "商户", "店")):
        words = ("科技", "贸易", "电器", "家具")
        return lambda rng, n: _fit(texts.company_name(town(rng), rng, rng.choice(words), "企业"), length)
    stem = label.removesuffix("名称") or label
    return lambda rng, n: _fit(f"{stem}{rng.randrange(1, 100):02d}号", length)


def _fit(text: str, length: int | None) -> str:
    return text[:length] if length else text


def filler(resource, as_of: datetime, seed: int, overwritten: Collection[str] = ()) -> Callable[[dict], dict]:
    """Fill the items a hand-made generator did not set (the catalogue may add items later).
    `overwritten`: items the sink sets anyway (the SQL cursor); they get None where that draws the same."""
    rng = random.Random(seed)
    makers: dict[str, Maker] = {}
    epsg = (resource.binding.config.get("crs") if resource.binding else None) or 4490
    for item in resource.items:
        if item.name == "crs":
            makers[item.name] = lambda rng, n: f"EPSG:{epsg}"
        else:
            skipped = _drawing_only(item, as_of) if item.name in overwritten else None
            makers[item.name] = skipped or maker_for(item, as_of)
    names = [item.name for item in resource.items if item.name not in ("geometry", "geom", "geom_wkt")]

    def fill(row: dict) -> dict:
        for name in names:
            if name not in row:
                row[name] = makers[name](rng, 0)
        return row

    return fill
