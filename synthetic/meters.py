"""Utility meters (electricity, water, gas): customer accounts and monthly cumulative readings.

Each meter is a deterministic model of its index (own random stream), so accounts, readings and
later steps agree without keeping state: consumption per month follows the utility's seasonality
(electricity peaks in July–August, gas in winter), registers roll over at their width, a few
meters are replaced (a `replacement` event, not a defect). Defects are chosen per meter:
one rollback, one spike, a stuck tail (4 flat reads), one duplicated read, or an unreadable row.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from catalog.reference import SHUNDE_TOWNS
from synthetic import texts
from synthetic.base import CHUNK_ROWS, HISTORY, SHUNDE_TZ, Chunk, ResourceContext, iso_ts_seconds, stable_seed
from synthetic.defects import RATES, plan_defects
from synthetic.generic import inject, roles, unreadable

MONTHS = 12
STUCK_TAIL = 4
# utility: (small meters, full meters, unit, decimals, typical monthly use (median), meter id prefix, account prefix)
UTILITIES = {
    "electricity": (1000, 500_000, "kWh", 2, 300.0, "", "0300"),
    "water": (600, 300_000, "m3", 2, 15.0, "SW", "5100"),
    "gas": (400, 200_000, "m3", 3, 14.0, "RQ", "7100"),
}
# Meter-level shares, so that reading-level rates land on DOMAIN §5's midpoints (one bad read each).
METER_DEFECTS = ("meter_stuck", "meter_rollback", "meter_spike", "duplicate_exact")
METER_RATES = {
    "meter_stuck": RATES["meter_stuck"],
    "meter_rollback": RATES["meter_rollback"] * MONTHS,
    "meter_spike": RATES["meter_spike"] * MONTHS,
    "duplicate_exact": RATES["duplicate_exact"] * MONTHS,
}
ROLLOVER_SHARE, REPLACEMENT_SHARE = 0.006, 0.004
ACCOUNT_DEFECTS = (
    "duplicate_exact",
    "near_duplicate_fullwidth",
    "date_future",
    "date_sentinel",
    "date_mixed_format",
    "mojibake",
    "unreadable_row",
)


def utility_of(resource_id: str) -> str:
    return resource_id.split("_", 1)[0]


def _season(utility: str, month: int) -> float:
    if utility == "electricity":  # air conditioning: July–August peak
        return 0.85 + 0.75 * math.exp(-((month - 7.5) ** 2) / 3.0)
    if utility == "gas":  # hot water and cooking: winter peak
        return 0.8 + 0.45 * math.exp(-(min(abs(month - 1), abs(month - 13)) ** 2) / 4.0)
    return 0.95 + 0.2 * math.exp(-((month - 7.5) ** 2) / 5.0)


@dataclass
class Meter:
    seed: int
    index: int
    utility: str
    meter_id: str
    account_no: str
    address_code: str
    town9: str
    monthly: float
    start: float
    read_day: int
    read_hour: int
    rollover: bool
    replaced_at: int | None  # month index of a replacement, or None

    @property
    def normal(self) -> bool:
        return not self.rollover and self.replaced_at is None


def meter(seed: int, utility: str, index: int, register_max: float) -> Meter:
    """The deterministic model of meter `index` of a utility."""
    rng = random.Random(stable_seed(seed, utility, "meter", index))
    _s, _f, _unit, _dec, median, meter_prefix, account_prefix = UTILITIES[utility]
    town9 = rng.choice(tuple(SHUNDE_TOWNS))
    monthly = median * rng.lognormvariate(0, 0.35) * (4 if rng.random() < 0.05 else 1)  # some shops use more
    rollover = rng.random() < ROLLOVER_SHARE
    # A register near its end wraps within the year; others show 0.5–25 years of use.
    start = (
        register_max - monthly * rng.uniform(2, 9)
        if rollover
        else min(0.5 * register_max, monthly * 12 * rng.uniform(0.5, 25))
    )
    meter_id = f"{100_000_000_000 + index * 37:012d}" if utility == "electricity" else f"{meter_prefix}{index:010d}"
    return Meter(
        seed,
        index,
        utility,
        meter_id,
        f"{account_prefix}{index:010d}",
        f"{town9}{index % 997:03d}{index:07d}",
        town9,
        monthly,
        start,
        rng.randrange(1, 28),
        rng.randrange(0, 24) if rng.random() < 0.8 else 9,
        rollover,
        rng.randrange(2, MONTHS) if not rollover and rng.random() < REPLACEMENT_SHARE else None,
    )


def read_times(m: Meter, as_of: datetime) -> list[datetime]:
    """The meter's last MONTHS monthly read times before the step-0 load (`as_of` − HISTORY)."""
    times, year, month = [], as_of.year, as_of.month
    while len(times) < MONTHS:
        moment = datetime(year, month, m.read_day, m.read_hour, (m.index * 7) % 60, tzinfo=SHUNDE_TZ)
        if moment < as_of - HISTORY:
            times.append(moment)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return times[::-1]


def series(m: Meter, times: list[datetime], register_max: float, decimals: int) -> list[tuple[float, str | None]]:
    """(cumulative value, meter_event) per read time: seasonal use, rollover and replacement."""
    rng = random.Random(stable_seed(m.seed, m.utility, m.index, "series"))
    modulus = round(register_max + 10**-decimals, decimals)
    value, out = m.start, []
    for position, moment in enumerate(times):
        used = m.monthly * _season(m.utility, moment.month) * rng.lognormvariate(0, 0.12)
        if position == m.replaced_at:
            value, event = used * rng.uniform(0.1, 0.6), "replacement"
        else:
            value, event = (value + (used if position else 0.0)) % modulus, None
        out.append((round(value, decimals), event))
    return out


def _register_max(ctx: ResourceContext) -> float:
    for item in ctx.resource.items:
        if item.name == "cumulative_value" and item.rules.max:
            return float(item.rules.max)
    return 99999.99


def readings(ctx: ResourceContext) -> Iterator[Chunk]:
    """Monthly readings of every meter (step 0), or the reads taken during a later step."""
    utility = utility_of(ctx.resource.id)
    small, full, unit, decimals, *_ = UTILITIES[utility]
    count = ctx.size(small, full)
    register_max = _register_max(ctx)
    if ctx.step > 0:
        yield from _step_readings(ctx, utility, count, register_max, unit, decimals)
        return
    ctx.expected = count * MONTHS
    per_chunk = max(1, CHUNK_ROWS // MONTHS)
    role_map = roles(ctx.resource)
    for first in range(0, count, per_chunk):
        size = min(per_chunk, count - first)
        plan = plan_defects(size, METER_DEFECTS, ctx.random(f"meterplan{first}", step=0), rates=METER_RATES)
        unreadable_at = ctx.random(f"unreadable{first}", step=0).randrange(size) if first == 0 else -1
        chunk: Chunk = []
        for offset in range(size):
            m = meter(ctx.seed, utility, first + offset, register_max)
            defect = plan.get(offset) if m.normal else None
            rows = _meter_rows(ctx, m, register_max, unit, decimals, defect)
            if offset == unreadable_at and unreadable(rows[-1], ctx, role_map):
                ctx.tally.record(rows[-1], "unreadable_row")
            chunk.extend(rows)
        yield chunk


def _meter_rows(ctx, m: Meter, register_max: float, unit: str, decimals: int, defect: str | None) -> list[dict]:
    times = read_times(m, ctx.base_as_of)
    values = series(m, times, register_max, decimals)
    rng = ctx.random(f"meter{m.index}", step=0)
    rows = [
        {
            "meter_id": m.meter_id,
            "account_no": m.account_no,
            "address_code": m.address_code,
            "reading_time": iso_ts_seconds(moment),
            "cumulative_value": value,
            "unit": unit,
            "read_type": rng.choices(("auto", "manual", "estimated"), (0.85, 0.12, 0.03))[0],
            "meter_event": event,
        }
        for moment, (value, event) in zip(times, values)
    ]
    tally = ctx.tally
    if defect == "meter_stuck":
        for row in rows[-STUCK_TAIL:]:
            row["cumulative_value"] = rows[-STUCK_TAIL - 1]["cumulative_value"]
            tally.record(row, defect)
    elif defect == "meter_rollback":
        at = rng.randrange(2, MONTHS)
        rows[at]["cumulative_value"] = round(
            rows[at - 1]["cumulative_value"] - m.monthly * rng.uniform(0.2, 2.0), decimals
        )
        tally.record(rows[at], defect)
    elif defect == "meter_spike":
        at, jump = rng.randrange(3, MONTHS), m.monthly * rng.uniform(15, 30)
        for row in rows[at:]:
            row["cumulative_value"] = round(row["cumulative_value"] + jump, decimals)
        tally.record(rows[at], defect)
    elif defect == "duplicate_exact":
        at = rng.randrange(MONTHS)
        rows.insert(at + 1, dict(rows[at]))
        tally.record(rows[at], defect)
    return rows


def _step_readings(ctx, utility: str, count: int, register_max: float, unit: str, decimals: int) -> Iterator[Chunk]:
    """Reads taken during a later step: smart meters re-read between their monthly reads."""
    wanted = ctx.step_count(count * MONTHS)
    ctx.expected = wanted
    rng, (start, end) = ctx.rng, ctx.window
    defective = set()
    for first in range(0, count, max(1, CHUNK_ROWS // MONTHS)):
        plan = plan_defects(
            min(CHUNK_ROWS // MONTHS, count - first),
            METER_DEFECTS,
            ctx.random(f"meterplan{first}", step=0),
            rates=METER_RATES,
            earlier_step=True,
        )
        defective.update(first + offset for offset in plan)
    chosen = sorted({rng.randrange(count) for _ in range(wanted * 2)} - defective)[:wanted]
    rows = []
    for index in chosen:
        m = meter(ctx.seed, utility, index, register_max)
        if not m.normal:
            continue
        last_time = read_times(m, ctx.base_as_of)[-1]
        last_value = series(m, read_times(m, ctx.base_as_of), register_max, decimals)[-1][0]
        moment = start + (end - start) * rng.uniform(0.01, 0.99)
        days = max(0.0, (moment - last_time).total_seconds() / 86400)
        value = round(last_value + m.monthly * days / 30 * rng.uniform(0.9, 1.1), decimals)
        rows.append(
            {
                "meter_id": m.meter_id,
                "account_no": m.account_no,
                "address_code": m.address_code,
                "reading_time": iso_ts_seconds(moment),
                "cumulative_value": value,
                "unit": unit,
                "read_type": "auto",
                "meter_event": None,
            }
        )
    ctx.expected = len(rows)
    yield sorted(rows, key=lambda row: row["reading_time"])


def accounts(ctx: ResourceContext) -> Iterator[Chunk]:
    """Customer accounts, one per meter (later steps open new ones)."""
    utility = utility_of(ctx.resource.id)
    small, full, *_ = UTILITIES[utility]
    count = ctx.size(small, full)
    first_index = 0 if ctx.step == 0 else count + ctx.step * 100_000
    total = count if ctx.step == 0 else ctx.step_count(count)
    ctx.expected = total
    register_max = 99999.99
    role_map = roles(ctx.resource)
    items = {item.name: item for item in ctx.resource.items}
    address_item = next((i.name for i in ctx.resource.items if i.pii == "address"), None)
    name_item = next((i.name for i in ctx.resource.items if i.pii == "name"), None)
    kind_item = next((i.name for i in ctx.resource.items if i.rules.values and i.name != "yhzt"), None)
    rng = ctx.rng
    for first in range(0, total, CHUNK_ROWS):
        size = min(CHUNK_ROWS, total - first)
        plan = plan_defects(
            size, ACCOUNT_DEFECTS, ctx.random(f"plan{first}"), minimum={"unreadable_row": 1 if first == 0 else 0}
        )
        chunk: Chunk = []
        for offset in range(size):
            m = meter(ctx.seed, utility, first_index + first + offset, register_max)
            kinds = items[kind_item].rules.values if kind_item else [""]
            kind = kinds[0] if rng.random() < 0.82 else rng.choice(kinds)
            opened = ctx.today - timedelta(days=rng.randrange(400, 30 * 365) if ctx.step == 0 else 0)
            row = {
                "account_no": m.account_no,
                "address_code": m.address_code,
                "meter_id": m.meter_id,
                "ssjz": m.town9,
                "khrq": opened.isoformat(),
                "yhzt": rng.choices(("正常", "暂停", "销户"), (0.94, 0.02, 0.04))[0],
            }
            if name_item:
                row[name_item] = (
                    texts.person_name(rng) if kind == kinds[0] else texts.company_name(m.town9, rng, "实业", "企业")
                )
            if address_item:
                row[address_item] = texts.street_address(m.town9, rng)
            if kind_item:
                row[kind_item] = kind
            chunk.extend(_account_defect(ctx, row, plan.get(offset), role_map, rng))
        yield chunk


def _account_defect(ctx, row: dict, defect: str | None, role_map: dict, rng: random.Random) -> list[dict]:
    if defect is None:
        return [row]
    out = [row]
    if defect == "duplicate_exact":
        out.append(dict(row))
    elif defect == "near_duplicate_fullwidth":
        copy = dict(row)
        column = role_map.get("text") or role_map.get("name")
        copy[column] = texts.near_duplicate(str(copy[column]), rng)
        out.append(copy)
    elif defect == "unreadable_row":
        if not unreadable(row, ctx, role_map):
            return out
    else:
        inject(row, defect, role_map, rng, ctx.today)
    ctx.tally.record(row, defect)
    return out


def readings_mutator(ctx: ResourceContext):
    """A later step's correction of an old read: an estimate replaced by a manual read."""
    return lambda rng: {"read_type": "manual"}


def accounts_mutator(ctx: ResourceContext):
    """A later step's account change: suspended, closed or reopened."""
    return lambda rng: {"yhzt": rng.choice(("暂停", "销户", "正常"))}
