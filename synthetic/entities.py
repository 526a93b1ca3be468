"""Market entities (市场主体) of Shunde: enterprises, individual businesses (≈ 58 %) and farmers'
co-operatives, with valid USCCs (91/92/93 440606 …), industries typical of Shunde (home
appliances, furniture, catering, fish ponds …), log-normal registered capital and a life cycle.
The individual-business register is the same stream filtered to 个体, with its own defects.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from catalog.reference import SHUNDE_TOWNS
from synthetic import codes, texts
from synthetic.base import CHUNK_ROWS, Chunk, ResourceContext, stable_seed
from synthetic.defects import plan_defects
from synthetic.generic import inject, roles, unreadable
from synthetic.replay import replayed

SMALL_ENTITIES, FULL_ENTITIES = 3_000, 400_000
FORMS = (("企业", "91", 0.40), ("个体", "92", 0.58), ("农专", "93", 0.02))
# GB/T 4754-2017 codes common in Shunde: (code, what the business does, a word for its name, weight).
INDUSTRIES = (
    ("C3851", "家用制冷电器具制造", "电器", 6),
    ("C3852", "家用空气调节器制造", "电器", 4),
    ("C3854", "家用厨房电器具制造", "厨具", 6),
    ("C2110", "木质家具制造", "家具", 7),
    ("C2130", "金属家具制造", "家具", 3),
    ("C3311", "金属结构制造", "五金", 3),
    ("C2927", "日用塑料制品制造", "塑料", 3),
    ("F5137", "家用电器批发", "电器", 5),
    ("F5212", "超级市场零售", "百货", 6),
    ("F5291", "便利店零售", "便利", 8),
    ("H6210", "正餐服务", "餐饮", 12),
    ("H6220", "快餐服务", "小食", 9),
    ("G5430", "道路货物运输", "物流", 4),
    ("E4710", "住宅房屋建筑", "建筑", 2),
    ("A0412", "内陆养殖", "水产", 3),
    ("A0141", "蔬菜种植", "农业", 1),
)
STATES = (("存续", 0.85), ("注销", 0.09), ("吊销", 0.05), ("迁出", 0.01))
ENTITY_DEFECTS = (
    "duplicate_exact",
    "near_duplicate_fullwidth",
    "uscc_bad_check",
    "uscc_old_regno",
    "date_future",
    "date_sentinel",
    "date_mixed_format",
    "mojibake",
    "unreadable_row",
)
REGISTRAR = "佛山市顺德区市场监督管理局"
APPROVAL_CLAUSE = "（依法须经批准的项目，经相关部门批准后方可开展经营活动）"


def _capital(form: str, rng: random.Random) -> float:
    """万元, log-normal: individual businesses a few, companies tens to hundreds (max 10⁵)."""
    mu, sigma = (math.log(3), 1.0) if form == "个体" else (math.log(100), 1.6)
    return round(min(100_000.0, max(1.0, rng.lognormvariate(mu, sigma))), 2)


def entity_stream(seed: int, step: int, today: date, target: int) -> Iterator[dict]:
    """Every market entity of one step, in registration order (shared by both registers)."""
    return replayed("market_entities", (seed, step, today, target), lambda: _entities(seed, step, today, target))


def _entities(seed: int, step: int, today: date, target: int) -> Iterator[dict]:
    rng = random.Random(stable_seed(seed, "market_entities", step))
    weights = [weight for *_, weight in INDUSTRIES]
    for _ in range(target):
        form, prefix, _share = rng.choices(FORMS, [share for *_, share in FORMS])[0]
        industry, scope, word, _w = (
            rng.choices(INDUSTRIES, weights)[0] if form != "农专" else rng.choice(INDUSTRIES[-2:])
        )
        town9 = rng.choice(tuple(SHUNDE_TOWNS))
        founded = today - timedelta(days=rng.randrange(1, 35 * 365) if step == 0 else rng.randrange(0, 3))
        state = "存续" if step > 0 else rng.choices([s for s, _ in STATES], [w for _, w in STATES])[0]
        name = (
            f"佛山市顺德区{texts.TOWN_SHORT[town9]}{rng.choice(texts.COMMUNITY_WORDS)}{word}专业合作社"
            if form == "农专"
            else texts.company_name(town9, rng, word, form)
        )
        yield {
            "tyshxydm": codes.uscc(prefix, "440606", rng),
            "qymc": name,
            "ztlx": form,
            "fddbr": texts.person_name(rng),
            "zczb": _capital(form, rng),
            "clrq": founded.isoformat(),
            "hzrq": min(today, founded + timedelta(days=rng.randrange(0, 3000))).isoformat()
            if rng.random() < 0.7
            else None,
            "djjg": REGISTRAR,
            "djzt": state,
            "zs": texts.street_address(town9, rng, room=form != "个体"),
            "jyfw": f"{scope}；{rng.choice(('销售', '加工', '技术服务', '进出口'))}。{APPROVAL_CLAUSE}",
            "hydm": industry,
            "ssjz": town9,
        }


def _register(ctx: ResourceContext, keep: Callable[[dict], bool], share: float) -> Iterator[Chunk]:
    base = ctx.size(SMALL_ENTITIES, FULL_ENTITIES)
    target = base if ctx.step == 0 else ctx.step_count(base)
    ctx.expected = int(target * share * 1.05)
    columns = [item.name for item in ctx.resource.items]
    role_map = roles(ctx.resource) | {"date": "hzrq", "text": "qymc", "name": "fddbr"}
    pending, chunks = [], 0
    for entity in entity_stream(ctx.seed, ctx.step, ctx.base_as_of.date(), target):
        if keep(entity):
            pending.append({name: entity.get(name) for name in columns})
        if len(pending) >= CHUNK_ROWS:
            yield _with_defects(ctx, pending, chunks, role_map)
            pending, chunks = [], chunks + 1
    if pending:
        yield _with_defects(ctx, pending, chunks, role_map)


def _with_defects(ctx: ResourceContext, rows: list[dict], chunk_no: int, role_map: dict) -> Chunk:
    rng = ctx.rng
    plan = plan_defects(
        len(rows), ENTITY_DEFECTS, ctx.random(f"plan{chunk_no}"), minimum={"unreadable_row": 1 if chunk_no == 0 else 0}
    )
    out: Chunk = []
    for index, row in enumerate(rows):
        defect = plan.get(index)
        if defect is None:
            out.append(row)
            continue
        if defect == "duplicate_exact":
            out += [row, dict(row)]
        elif defect == "near_duplicate_fullwidth":
            copy = dict(row)
            # Brackets typed half-width, or a stray space: the same company entered twice.
            name = row["qymc"]
            copy["qymc"] = (
                name.replace("（", "(").replace("）", ")") if "（" in name else texts.near_duplicate(name, rng)
            )
            out += [row, copy]
        elif defect == "unreadable_row":
            out.append(row)
            if not unreadable(row, ctx, role_map):
                continue
        else:
            if defect.startswith("date_") and not row.get("hzrq"):
                row["hzrq"] = row["clrq"]
            inject(row, defect, role_map, rng, ctx.today)
            out.append(row)
        ctx.tally.record(row, defect)
    return out


def market_entities(ctx: ResourceContext) -> Iterator[Chunk]:
    """市场主体: enterprises, individual businesses and co-operatives."""
    return _register(ctx, lambda entity: True, 1.0)


def individual_businesses(ctx: ResourceContext) -> Iterator[Chunk]:
    """个体工商户: the same register, individual businesses only."""
    return _register(ctx, lambda entity: entity["ztlx"] == "个体", 0.58)


def mutator(ctx: ResourceContext):
    """A later step's change: a deregistration, a revocation, a move or new capital."""

    def mutate(rng: random.Random) -> dict:
        choice = rng.random()
        if choice < 0.3:
            return {"djzt": "注销"}
        if choice < 0.4:
            return {"djzt": "吊销"}
        if choice < 0.75:
            town9 = rng.choice(tuple(SHUNDE_TOWNS))
            return {"zs": texts.street_address(town9, rng, room=False), "ssjz": town9}
        return {"zczb": _capital("企业", rng)}

    return mutate
