"""Rows for any bound resource, derived from its information items alone (see `values`), with
the DOMAIN §5 defects that its items make possible (an ID item can carry ID defects, a date item
date defects, a lon/lat pair coordinate defects …). Hand-made generators reuse `inject`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from connectors import systems
from synthetic import codes, texts
from synthetic.base import CHUNK_ROWS, Chunk, ResourceContext
from synthetic.defects import RATES, plan_defects
from synthetic.gisfiles import Projector
from synthetic.values import TOWNS as _TOWNS
from synthetic.values import maker_for

SMALL_ROWS, FULL_ROWS = 300, 50_000
GENERIC_UNREADABLE_RATE = 0.003
SENTINELS = ("1900-01-01", "1970-01-01")


def roles(resource) -> dict[str, str]:
    """Which item plays which part for defect injection: id, uscc, phone, lon, lat, date, camera,
    name, text (a non-key free-text item) — the first item of each kind."""
    found: dict[str, str] = {}
    cursor = (resource.binding.config.get("cursor_column") if resource.binding else None) or "updated_at"

    def take(role: str, name: str) -> None:
        found.setdefault(role, name)

    for item in resource.items:
        validator, pii = item.rules.validator, item.pii
        if validator == "resident_id" or pii == "id_number":
            take("id", item.name)
        elif validator == "uscc":
            take("uscc", item.name)
        elif validator == "mobile" or pii == "phone":
            take("phone", item.name)
        elif validator in ("lon", "lat"):
            take(validator, item.name)
        elif validator == "camera_id":
            take("camera", item.name)
        elif item.type == "D" and item.name != cursor and not item.key:
            take("date", item.name)
        if pii == "name" and item.type == "C":
            take("name", item.name)
        if item.type == "C" and not item.key and not validator and not item.rules.values and not item.rules.regex:
            take("text", item.name)
    return found


def applicable_defects(resource, role_map: dict[str, str]) -> list[str]:
    """The defects this resource's items can carry (order = injection order)."""
    defects = ["duplicate_exact"]
    if "text" in role_map or "name" in role_map:
        defects.append("near_duplicate_fullwidth")
    if "id" in role_map:
        defects += ["id_bad_check", "id_lowercase_x", "id_legacy_15", "id_impossible_date"]
    if "uscc" in role_map:
        defects += ["uscc_bad_check", "uscc_old_regno"]
    if "phone" in role_map:
        defects += ["phone_missing", "phone_invalid"]
    if "lon" in role_map and "lat" in role_map:
        defects += ["coord_swapped", "coord_null_island", "coord_outside_box"]
    if "date" in role_map:
        # A date in the future is a defect only where the catalogue says the date cannot be one
        # (an expiry or next-inspection date is meant to lie ahead).
        past_only = next(i for i in resource.items if i.name == role_map["date"]).rules.validator == "not_future_date"
        defects += (["date_future"] if past_only else []) + ["date_sentinel", "date_mixed_format"]
    if "camera" in role_map:
        defects.append("camera_id_malformed")
    if "name" in role_map:
        defects.append("mojibake")
    return defects


def mixed_format(iso_date: str, rng: random.Random) -> str:
    """2023-01-05 → 2023/1/5, 20230105 or 2023年1月5日."""
    year, month, day = (int(part) for part in iso_date[:10].split("-"))
    return rng.choice((f"{year}/{month}/{day}", f"{year}{month:02d}{day:02d}", f"{year}年{month}月{day}日"))


def inject(row: dict, defect: str, role_map: dict[str, str], rng: random.Random, today: date) -> None:
    """Apply one value defect to `row` in place (copy and unreadable defects are the caller's)."""
    get = role_map.get
    if defect.startswith("id_"):
        row[get("id")] = broken_id(row[get("id")], defect, rng, today)
    elif defect == "uscc_bad_check":
        row[get("uscc")] = codes.uscc_wrong_check(row[get("uscc")])
    elif defect == "uscc_old_regno":
        row[get("uscc")] = codes.old_registration_number("440681" if rng.random() < 0.4 else "440606", rng)
    elif defect == "phone_missing":
        row[get("phone")] = rng.choice((None, "", None))
    elif defect == "phone_invalid":
        row[get("phone")] = codes.invalid_phone(rng)
    elif defect == "coord_swapped":
        row[get("lon")], row[get("lat")] = row[get("lat")], row[get("lon")]
    elif defect == "coord_null_island":
        row[get("lon")], row[get("lat")] = (0.0, 0.0) if rng.random() < 0.6 else (None, None)
    elif defect == "coord_outside_box":
        row[get("lon")], row[get("lat")] = round(rng.uniform(113.5, 114.2), 6), round(rng.uniform(22.2, 23.4), 6)
    elif defect == "date_future":
        row[get("date")] = (today + timedelta(days=rng.randrange(30, 3000))).isoformat()
    elif defect == "date_sentinel":
        row[get("date")] = rng.choice(SENTINELS)
    elif defect == "date_mixed_format":
        row[get("date")] = mixed_format(row[get("date")], rng)
    elif defect == "camera_id_malformed":
        row[get("camera")] = codes.malformed_camera_id(row[get("camera")], rng)
    elif defect == "mojibake":
        row[get("name")] = texts.mojibake(row[get("name")])


def broken_id(good: str, defect: str, rng: random.Random, today: date) -> str:
    """An ID damaged the way `defect` says (the input is a valid 18-character ID)."""
    area, birth = good[:6], date(int(good[6:10]), int(good[10:12]), int(good[12:14]))
    if defect == "id_bad_check":
        return good[:17] + codes.wrong_id_check(good[:17])
    if defect == "id_lowercase_x":
        if good.endswith("X"):
            return good[:17] + "x"
        start = rng.randrange(1000)
        for seq in range(start, start + 1000):  # the first sequence number (mod 1000) whose check is X
            first17 = f"{area}{birth:%Y%m%d}{seq % 1000:03d}"
            if codes.id_check(first17) == "X":
                return first17 + "x"
        raise AssertionError("one sequence number in eleven gives the check character X")
    if defect == "id_legacy_15":
        if birth.year >= 2000:  # 15-digit numbers were issued before 2000 (day 28 keeps 29 Feb valid)
            birth = date(1950 + birth.year % 50, birth.month, min(birth.day, 28))
        return codes.legacy_15(codes.resident_id(area, birth, int(good[14:17])))
    # id_impossible_date: a calendar date that does not exist, with a correct check character
    first17 = f"{area}{birth.year}{rng.choice(('0230', '0231', '0431', '0631', '0931', '1131', '1332'))}{good[14:17]}"
    return first17 + codes.id_check(first17)


def near_copy(row: dict, role_map: dict[str, str], rng: random.Random) -> dict:
    """A second entry of the same record, typed differently (full-width forms, a stray space)."""
    column = role_map.get("text") or role_map["name"]
    copy = dict(row)
    if isinstance(copy.get(column), str) and copy[column]:
        copy[column] = texts.near_duplicate(copy[column], rng)
    else:
        copy[column] = texts.fullwidth("Ａ")
    return copy


def unreadable(row: dict, ctx: ResourceContext, role_map: dict[str, str]) -> bool:
    """Make `row` unreadable for its connector kind; False when this resource has no way to."""
    kind = ctx.resource.binding.kind
    if kind == "sql":
        column = role_map.get("text") or role_map.get("name")
        if not column or not systems.source_url(ctx.resource.binding.system).startswith("sqlite"):
            return False  # only SQLite keeps undecodable bytes in a TEXT column
        # GBK bytes plus a byte no text encoding accepts: stored as a BLOB in a TEXT column.
        row[column] = b"\xff\xfe" + str(row.get(column) or "").encode("gbk", errors="replace")
    elif kind == "file":
        row["geometry"] = {"type": "Polygon", "coordinates": [[["NaN", None]]]}
        row["geom_blob"] = b"\x00\x01broken"
    elif kind == "http":
        return False  # a missing key is handled by the video generator, which knows its identities
    elif kind == "mqtt":
        row["_payload"] = "{" + ",".join(f'"{k}":"{row.get(k)}"' for k in ctx.key_columns()) + ',"value":'
    return True


def generate(ctx: ResourceContext) -> Iterator[Chunk]:
    """Rows for a resource from its items only, with the defects its items allow."""
    resource = ctx.resource
    base = ctx.size(SMALL_ROWS, FULL_ROWS)
    total = base if ctx.step == 0 else ctx.step_count(base)
    ctx.expected = total
    makers = {item.name: key_maker(item, resource) or maker_for(item, ctx.as_of) for item in resource.items}
    role_map = roles(resource)
    defects = applicable_defects(resource, role_map) + ["unreadable_row"]
    rates = {"unreadable_row": GENERIC_UNREADABLE_RATE}
    rng = ctx.rng
    keys = ctx.key_columns()
    seen: set[tuple] = set()
    first = ctx.previous_records
    projector = Projector()
    for start in range(0, total, CHUNK_ROWS):
        size = min(CHUNK_ROWS, total - start)
        plan = plan_defects(size, defects, ctx.random(f"plan{start}"), rates={**RATES, **rates})
        chunk: Chunk = []
        for offset in range(size):
            row = _unique_row(makers, keys, seen, rng, first + start + offset)
            if resource.binding.kind == "file":
                _with_geometry(ctx, row, rng, projector)
            chunk.extend(_finish(row, plan.get(offset), ctx, role_map, rng))
        projector.flush()
        yield chunk


def key_maker(item, resource):
    """Sequential keys for plain key items (numbered across steps, so they never collide)."""
    rules = item.rules
    if not item.key or rules.validator or rules.values or rules.regex or item.pii not in (None, "none"):
        return None
    if sum(1 for other in resource.items if other.key) > 1:
        return None  # part of a composite key: its own values, the row stays unique as a whole
    if item.type == "I":
        return lambda rng, n: n + 1
    if item.type == "C":
        prefix = "".join(part[0] for part in resource.id.split("_")).upper()[:4]
        width = max(6, min((item.length or 16) - len(prefix), 12))
        return lambda rng, n: f"{prefix}{n + 1:0{width}d}"
    return None


def _with_geometry(ctx: ResourceContext, row: dict, rng: random.Random, projector: Projector) -> dict:
    from synthetic.gis import generic_geometry  # gis builds on this module

    town9 = next(
        (
            v
            for v in row.values()
            if isinstance(v, str) and len(v) in (9, 12) and v.startswith("440606") and v[:9] in _TOWNS
        ),
        _TOWNS[0],
    )
    row["geometry"] = generic_geometry(ctx.resource, row, rng, town9[:9], projector)
    return row


def _unique_row(makers, keys, seen, rng, number: int) -> dict:
    for _ in range(50):
        row = {name: make(rng, number) for name, make in makers.items()}
        key = tuple(row[k] for k in keys)
        if key not in seen:
            seen.add(key)
            return row
    raise ValueError(f"cannot draw a unique key for {keys}: widen the key item's values or regex")


def _finish(row: dict, defect: str | None, ctx: ResourceContext, role_map: dict[str, str], rng) -> list[dict]:
    """The row(s) to write for one record, with its defect applied and tallied."""
    if defect is None:
        return [row]
    if defect == "duplicate_exact":
        ctx.tally.record(row, defect)
        return [row, dict(row)]
    if defect == "near_duplicate_fullwidth":
        ctx.tally.record(row, defect)
        return [row, near_copy(row, role_map, rng)]
    if defect == "unreadable_row":
        if unreadable(row, ctx, role_map):
            ctx.tally.record(row, defect)
        return [row]
    inject(row, defect, role_map, rng, ctx.today)
    ctx.tally.record(row, defect)
    return [row]


def default_mutator(ctx: ResourceContext):
    """What a later step changes in an existing record: a code value, a phone or an address."""
    makers = {item.name: maker_for(item, ctx.as_of) for item in ctx.resource.items}
    cursor = ctx.resource.binding.config.get("cursor_column") or "updated_at"
    candidates = [
        item.name
        for item in ctx.resource.items
        if not item.key and item.name != cursor and (item.rules.values or item.pii in ("phone", "address"))
    ]

    def mutate(rng: random.Random) -> dict:
        if not candidates:
            return {}
        column = rng.choice(candidates)
        return {column: makers[column](rng, 0)}

    return mutate
