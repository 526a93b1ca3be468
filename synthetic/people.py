"""The population registers: 常住人口 (everyone), 户籍人口 (natives) and 流动人口 (migrants).

One deterministic stream of households (size 1–6, mean ≈ 2.8; head / spouse / children /
parents) feeds all three, so the same person carries the same ID in each; every register then
injects its own defects, as separate systems do. About half the households are Shunde natives
(IDs 440606 / 440681 / 440623 by birth year), the rest migrants from typical origin counties.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from catalog.reference import MIGRANT_ORIGIN_COUNTY_CODES, SHUNDE_TOWNS
from synthetic import codes, conflicts, texts
from synthetic.base import CHUNK_ROWS, Chunk, ResourceContext, stable_seed
from synthetic.defects import plan_defects
from synthetic.generic import inject, roles, unreadable
from synthetic.replay import replayed
from synthetic.values import not_a_placeholder

SMALL_PEOPLE, FULL_PEOPLE = 20_000, 3_230_000
NATIVE_SHARE = 0.5
HOUSEHOLD_SIZES = (1, 2, 3, 4, 5, 6)
HOUSEHOLD_WEIGHTS = (0.22, 0.24, 0.22, 0.18, 0.09, 0.05)  # mean ≈ 2.8
# Residents per town (≈ shares of the 2020 census), in SHUNDE_TOWNS order.
TOWN_WEIGHTS = (0.06, 0.07, 0.15, 0.17, 0.06, 0.12, 0.11, 0.10, 0.09, 0.07)
PROVINCES = {
    "43": "湖南省",
    "45": "广西壮族自治区",
    "51": "四川省",
    "36": "江西省",
    "42": "湖北省",
    "41": "河南省",
    "44": "广东省",
    "52": "贵州省",
    "50": "重庆市",
    "35": "福建省",
    "34": "安徽省",
    "53": "云南省",
}
MIGRANT_COUNTIES = tuple(MIGRANT_ORIGIN_COUNTY_CODES)
HEAD, SPOUSE, SON, DAUGHTER, GRANDCHILD, PARENT = "02", "10", "20", "30", "40", "50"
#: Households of a later step are numbered from here (1 M per step, 40 steps before reuse), so
#: they never meet step-0 numbers; orphans point at numbers above ORPHAN_HOUSEHOLD_BASE, never issued.
STEP_HOUSEHOLD_BASE = 50_000_000
ORPHAN_HOUSEHOLD_BASE = 90_000_000
POPULATION_DEFECTS = (
    "duplicate_exact",
    "near_duplicate_fullwidth",
    "id_bad_check",
    "id_lowercase_x",
    "id_legacy_15",
    "id_impossible_date",
    "phone_missing",
    "phone_invalid",
    "date_future",
    "date_sentinel",
    "date_mixed_format",
    "mojibake",
    "orphan_household",
    "unreadable_row",
)


def _native_area(birth: date, rng: random.Random) -> str:
    """The county code a Shunde native's ID was issued under: the one in force at birth (mostly)."""
    if rng.random() < 0.1:
        return "440606"  # re-registered under the current code
    return "440623" if birth.year < 1992 else "440681" if birth.year < 2003 else "440606"


def _birth(rng: random.Random, today: date, age_low: int, age_high: int) -> date:
    age_days = rng.randrange(max(1, age_low * 365), max(age_low * 365 + 1, age_high * 365))
    return not_a_placeholder(today - timedelta(days=age_days))


def _members(rng: random.Random, today: date) -> list[tuple[str, date, int]]:
    """(relation, birth date, sex 1/2) for one household, head first."""
    size = rng.choices(HOUSEHOLD_SIZES, HOUSEHOLD_WEIGHTS)[0]
    head_birth = _birth(rng, today, 24, 72)
    head_sex = 1 if rng.random() < 0.62 else 2
    members = [(HEAD, head_birth, head_sex)]
    if size >= 2:
        members.append((SPOUSE, head_birth + timedelta(days=rng.randrange(-2500, 2500)), 3 - head_sex))
    head_age = (today - head_birth).days // 365
    for _ in range(size - len(members)):
        if head_age > 62 and rng.random() < 0.4:
            members.append((GRANDCHILD, _birth(rng, today, 0, 18), rng.choice((1, 2))))
        elif head_age < 50 and rng.random() < 0.25:
            members.append((PARENT, head_birth - timedelta(days=rng.randrange(22 * 365, 35 * 365)), rng.choice((1, 2))))
        else:
            child_birth = head_birth + timedelta(days=rng.randrange(20 * 365, 40 * 365))
            child_birth = min(child_birth, today - timedelta(days=rng.randrange(30, 400)))
            sex = rng.choice((1, 2))
            members.append((SON if sex == 1 else DAUGHTER, child_birth, sex))
    return members


def _origin_address(county: str, rng: random.Random) -> tuple[str, str]:
    """(12-digit division, 户籍地址) of a migrant's home village."""
    town3, village3 = rng.randrange(100, 125), rng.randrange(200, 260)
    name = MIGRANT_ORIGIN_COUNTY_CODES[county]
    village = rng.choice(texts.COMMUNITY_WORDS)
    address = f"{PROVINCES[county[:2]]}{name}{village}镇{village}村{rng.randrange(1, 15)}组{rng.randrange(1, 80)}号"
    return f"{county}{town3:03d}{village3:03d}", address


def households(seed: int, step: int, today: date, target: int) -> Iterator[list[dict]]:
    """The population as households of person dicts (one stream shared by all registers)."""
    return replayed("households", (seed, step, today, target), lambda: _households(seed, step, today, target))


def _households(seed: int, step: int, today: date, target: int) -> Iterator[list[dict]]:
    rng = random.Random(stable_seed(seed, "population", step))
    towns = tuple(SHUNDE_TOWNS)
    made, number = 0, (0 if step == 0 else STEP_HOUSEHOLD_BASE + (step % 40) * 1_000_000)
    issued: set[str] = set()  # one ID per person: a drawn sequence number already issued moves on
    while made < target:
        number += 1
        town9 = rng.choices(towns, TOWN_WEIGHTS)[0]
        village3 = rng.randrange(1, 40) if rng.random() < 0.6 else rng.randrange(200, 230)
        native = rng.random() < NATIVE_SHARE
        county = rng.choice(MIGRANT_COUNTIES)
        if native:
            division, home = f"{town9}{village3:03d}", texts.street_address(town9, rng, room=False)
        else:
            division, home = _origin_address(county, rng)
        residence = texts.street_address(town9, rng)
        arrival = None if native and rng.random() < 0.8 else today - timedelta(days=rng.randrange(30, 20 * 365))
        family = []
        for relation, birth, sex in _members(rng, today):
            area = _native_area(birth, rng) if native else county
            sequence = rng.randrange(500) * 2 + (1 if sex == 1 else 0)
            while (person_id := codes.resident_id(area, birth, sequence)) in issued:
                sequence = (sequence + 2) % 1000  # the same parity: the same sex
            issued.add(person_id)
            family.append(
                {
                    "gmsfhm": person_id,
                    "xm": texts.person_name(rng),
                    "xb": str(sex),
                    "mz": "01" if rng.random() < 0.985 else rng.choice(("03", "04", "06", "15", "09")),
                    "csrq": birth.isoformat(),
                    "hh": f"4406{number:08d}",
                    "yhzgx": relation,
                    "hjdz_xzqh": division,
                    "hjdz": home,
                    "jzdz": residence,
                    "hyzk": _marriage(relation, birth, today, rng),
                    "hklb": "2" if village3 >= 200 else "1",
                    "rklx": "户籍" if native else "流动",
                    "lxdh": codes.mobile(rng),
                    "qrrq": (max(arrival, birth)).isoformat() if arrival else None,
                    "zxbz": "1" if rng.random() < 0.01 else "0",
                    "_town": town9,
                }
            )
        made += len(family)
        yield family


def _marriage(relation: str, birth: date, today: date, rng: random.Random) -> str:
    age = (today - birth).days // 365
    if relation in (HEAD, SPOUSE, PARENT) and age >= 22:
        return rng.choices(("20", "21", "22", "30", "40"), (0.8, 0.05, 0.03, 0.05 if age > 60 else 0.01, 0.06))[0]
    return "10" if age < 30 or rng.random() < 0.7 else "20"


def _register(ctx: ResourceContext, keep: Callable[[dict], bool], share: float, extra=None) -> Iterator[Chunk]:
    """Rows of one register: the shared households filtered by `keep`, with this register's defects."""
    base = ctx.size(SMALL_PEOPLE, FULL_PEOPLE)
    target = base if ctx.step == 0 else ctx.step_count(base)
    ctx.expected = int(target * share * 1.05)
    role_map = roles(ctx.resource) | {"date": "qrrq", "text": "jzdz", "name": "xm"}
    columns = [item.name for item in ctx.resource.items]
    rng = ctx.rng
    pending: list[dict] = []
    chunks = 0
    for family in households(ctx.seed, ctx.step, ctx.base_as_of.date(), target):
        pending.extend(person for person in family if keep(person))
        if len(pending) < CHUNK_ROWS:
            continue
        yield _defective(ctx, pending, chunks, role_map, columns, rng, extra)
        pending, chunks = [], chunks + 1
    if pending:
        yield _defective(ctx, pending, chunks, role_map, columns, rng, extra)


def _defective(ctx, people: list[dict], chunk_no: int, role_map, columns, rng, extra) -> Chunk:
    plan = _spare_heads(
        plan_defects(
            len(people),
            POPULATION_DEFECTS,
            ctx.random(f"plan{chunk_no}"),
            minimum={"unreadable_row": 1 if chunk_no == 0 else 0},
        ),
        people,
    )
    chosen, shared = _conflicts(ctx, people, plan, chunk_no)
    values_rng = ctx.random(f"conflict-values{chunk_no}")
    chunk: Chunk = []
    for index, person in enumerate(people):
        row = {name: person.get(name) for name in columns}
        if extra:
            row.update(extra(person, rng, ctx))
        if index in chosen:
            conflicts.inject(row, chosen[index], shared[chosen[index]], person, values_rng, ctx.tally)
        serial = (ctx.step * 1_000_000 + chunk_no * CHUNK_ROWS + index) % 10_000_000
        chunk.extend(_with_defect(ctx, row, plan.get(index), role_map, rng, serial))
    return chunk


def _conflicts(ctx, people: list[dict], plan: dict[int, str], chunk_no: int) -> tuple[dict[int, str], dict]:
    """Rows whose base items disagree with the 数源 (户籍人口 holds the natives, so only natives are
    comparable), chosen among rows without a defect of their own."""
    shared = conflicts.shared_items(ctx.resource)
    if not shared:
        return {}, shared
    eligible = [i for i, person in enumerate(people) if i not in plan and person["rklx"] == "户籍"]
    first = ctx.step == 0 and chunk_no == 0
    return conflicts.plan(eligible, shared, ctx.random(f"conflicts{chunk_no}"), at_least_one=first), shared


def _spare_heads(plan: dict[int, str], people: list[dict]) -> dict[int, str]:
    """Defects that would harm records the manifest does not list move to a fitting row: an
    unreadable head would leave its members headless (orphans), and a lowercase x on an ID whose
    check character is not X would need another sequence number — another person's ID."""
    fits = {"unreadable_row": lambda p: p.get("yhzgx") != HEAD, "id_lowercase_x": lambda p: p["gmsfhm"].endswith("X")}
    # The first free fitting row, as a scan from 0 finds it, but resumed where the last scan for the
    # same defect stopped (rows before it were taken or do not fit) unless a row was freed before it.
    resume = dict.fromkeys(fits, 0)
    for index, defect in sorted(plan.items()):
        if defect in fits and not fits[defect](people[index]):
            fit = fits[defect]
            spare = next((i for i in range(resume[defect], len(people)) if i not in plan and fit(people[i])), None)
            resume[defect] = len(people) if spare is None else spare
            del plan[index]
            resume = {name: min(at, index) for name, at in resume.items()}
            if spare is not None:
                plan[spare] = defect
    return plan


def _with_defect(ctx, row: dict, defect: str | None, role_map, rng, serial: int) -> list[dict]:
    if defect is None:
        return [row]
    tally = ctx.tally
    if defect in ("duplicate_exact", "near_duplicate_fullwidth"):
        copy = dict(row)
        if defect == "near_duplicate_fullwidth":
            column = rng.choice(("xm", "jzdz", "hjdz"))
            copy[column] = texts.near_duplicate(copy[column] or "", rng)
        tally.record(row, defect)
        return [row, copy]
    if defect == "orphan_household":
        # An extra member of a household the register does not hold (no head, no one else);
        # added beside the row, so that no real household loses its head.
        first17 = f"{row['gmsfhm'][:14]}{(int(row['gmsfhm'][14:17]) + 2 + 2 * rng.randrange(40)) % 1000:03d}"
        orphan = {
            **row,
            "gmsfhm": first17 + codes.id_check(first17),
            "xm": texts.person_name(rng),
            "hh": f"4406{ORPHAN_HOUSEHOLD_BASE + serial:08d}",
            "yhzgx": rng.choice((SON, DAUGHTER, SPOUSE)),
        }
        tally.record(orphan, defect)
        return [row, orphan]
    if defect == "unreadable_row":
        if not unreadable(row, ctx, role_map):
            return [row]
    else:
        if defect.startswith("date_") and not row.get("qrrq"):
            row["qrrq"] = (date.fromisoformat(row["csrq"]) + timedelta(days=rng.randrange(1, 3650))).isoformat()
            row["qrrq"] = min(row["qrrq"], ctx.today.isoformat())
        inject(row, defect, role_map, rng, ctx.today)
    tally.record(row, defect)
    return [row]


def residents(ctx: ResourceContext) -> Iterator[Chunk]:
    """常住人口: every resident, natives and migrants."""
    return _register(ctx, lambda person: True, 1.0)


def registered(ctx: ResourceContext) -> Iterator[Chunk]:
    """户籍人口: the natives only."""
    return _register(ctx, lambda person: person["rklx"] == "户籍", NATIVE_SHARE)


def migrants(ctx: ResourceContext) -> Iterator[Chunk]:
    """流动人口居住登记: the migrants, with registration date, reason and intended stay."""
    return _register(ctx, lambda person: person["rklx"] == "流动", 1 - NATIVE_SHARE, extra=_migrant_fields)


def _migrant_fields(person: dict, rng: random.Random, ctx: ResourceContext) -> dict:
    arrival = date.fromisoformat(person["qrrq"]) if person.get("qrrq") else ctx.today - timedelta(days=400)
    registered_on = min(ctx.today, arrival + timedelta(days=rng.randrange(0, 60)))
    return {
        "djrq": registered_on.isoformat(),
        "jzsy": rng.choices(("务工", "经商", "就学", "投靠亲友", "其他"), (0.7, 0.12, 0.05, 0.1, 0.03))[0],
        "njzqx": rng.choices(("半年以下", "半年至一年", "一年以上"), (0.15, 0.25, 0.6))[0],
        "djdw": f"{SHUNDE_TOWNS[person['_town']]}流动人口和出租屋管理服务中心",
    }


def mutator(ctx: ResourceContext):
    """A later step's change to a person: moved house, new phone, married, or deregistered."""

    def mutate(rng: random.Random) -> dict:
        choice = rng.random()
        if choice < 0.45:
            return {"jzdz": texts.street_address(rng.choice(tuple(SHUNDE_TOWNS)), rng)}
        if choice < 0.8:
            return {"lxdh": codes.mobile(rng)}
        if choice < 0.95:
            return {"hyzk": "20"}
        return {"zxbz": "1"}

    return mutate
