"""Registers of other departments that hold base items of people and enterprises beside their 数源:
民政's 低保对象 (natives from the population stream) and 统计's 规模以上工业企业名录 (manufacturing
enterprises from the market-entity stream). They copy the subject's values as the 数源 has them,
except where synthetic.conflicts makes them disagree, and carry the defects a copy picks up.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from synthetic import conflicts, texts
from synthetic.base import CHUNK_ROWS, Chunk, ResourceContext
from synthetic.defects import plan_defects
from synthetic.entities import FULL_ENTITIES, SMALL_ENTITIES, entity_stream
from synthetic.generic import unreadable
from synthetic.people import FULL_PEOPLE, SMALL_PEOPLE, households

COPY_DEFECTS = ("duplicate_exact", "near_duplicate_fullwidth", "mojibake", "unreadable_row")
SUBSISTENCE_SHARE = 0.03  # of the natives
SIZES = ("大型", "中型", "小型", "微型")


def subsistence_allowance(ctx: ResourceContext) -> Iterator[Chunk]:
    """低保对象: about 3 % of the natives, with the household's town and a monthly allowance."""
    target = (
        ctx.size(SMALL_PEOPLE, FULL_PEOPLE) if ctx.step == 0 else ctx.step_count(ctx.size(SMALL_PEOPLE, FULL_PEOPLE))
    )
    pick = ctx.random("subsistence")
    ctx.expected = int(target * 0.5 * SUBSISTENCE_SHARE * 1.2) + 1

    def people() -> Iterator[dict]:
        for family in households(ctx.seed, ctx.step, ctx.base_as_of.date(), target):
            for person in family:
                if person["rklx"] == "户籍" and pick.random() < SUBSISTENCE_SHARE:
                    yield person

    def row(person: dict, rng: random.Random) -> dict:
        return {
            "gmsfhm": person["gmsfhm"],
            "xm": person["xm"],
            "ssjz": person["_town"],
            "sqjwh": person["hjdz_xzqh"] if person["hjdz_xzqh"].startswith("440606") else None,
            "bzlx": "农村低保" if person["hklb"] == "2" else "城市低保",
            "jtrs": rng.randint(1, 5),
            "bzje": float(rng.randrange(600, 2400, 10)),
            "ksrq": (ctx.today - timedelta(days=rng.randrange(30, 3000))).isoformat(),
            "zt": "在保" if rng.random() < 0.92 else "停保",
            "_town": person["_town"],
        }

    return _copies(ctx, people(), row, text="xm")


def industrial_enterprises(ctx: ResourceContext) -> Iterator[Chunk]:
    """规上工业企业: the manufacturing enterprises (C…) of the market-entity register, still in business."""
    base = ctx.size(SMALL_ENTITIES, FULL_ENTITIES)
    target = base if ctx.step == 0 else ctx.step_count(base)
    ctx.expected = int(target * 0.2) + 1

    def entities() -> Iterator[dict]:
        for entity in entity_stream(ctx.seed, ctx.step, ctx.base_as_of.date(), target):
            if entity["ztlx"] == "企业" and entity["hydm"].startswith("C") and entity["djzt"] == "存续":
                yield entity

    def row(entity: dict, rng: random.Random) -> dict:
        founded = date.fromisoformat(entity["clrq"])
        return {
            "tyshxydm": entity["tyshxydm"],
            "dwmc": entity["qymc"],
            "fddbr": entity["fddbr"],
            "hydm": entity["hydm"],
            "gmlx": rng.choices(SIZES, (0.05, 0.2, 0.5, 0.25))[0],
            "ssjz": entity["ssjz"],
            "nrrq": min(ctx.today, founded + timedelta(days=rng.randrange(365, 3650))).isoformat(),
        }

    # The 数源 names the items qymc / fddbr; this register calls the name dwmc.
    return _copies(ctx, entities(), row, text="dwmc", truth_names={"dwmc": "qymc"})


def _copies(
    ctx: ResourceContext,
    subjects: Iterator[dict],
    make_row: Callable[[dict, random.Random], dict],
    *,
    text: str,
    truth_names: dict[str, str] | None = None,
) -> Iterator[Chunk]:
    """Rows made from the subjects in chunks, each with its copy defects and conflicts."""
    pending: list[dict] = []
    chunk_no = 0
    for subject in subjects:
        pending.append(subject)
        if len(pending) >= CHUNK_ROWS:
            yield _chunk(ctx, pending, chunk_no, make_row, text, truth_names or {})
            pending, chunk_no = [], chunk_no + 1
    if pending or chunk_no == 0:
        yield _chunk(ctx, pending, chunk_no, make_row, text, truth_names or {})


def _chunk(ctx, subjects: list[dict], chunk_no: int, make_row, text: str, truth_names: dict) -> Chunk:
    rng, values_rng = ctx.random(f"rows{chunk_no}"), ctx.random(f"conflict-values{chunk_no}")
    defects = plan_defects(len(subjects), COPY_DEFECTS, ctx.random(f"plan{chunk_no}"))
    shared = conflicts.shared_items(ctx.resource)
    eligible = [index for index in range(len(subjects)) if index not in defects]
    first = ctx.step == 0 and chunk_no == 0
    chosen = conflicts.plan(eligible, shared, ctx.random(f"conflicts{chunk_no}"), at_least_one=first)
    role_map = {"name": text, "text": text}
    chunk: Chunk = []
    for index, subject in enumerate(subjects):
        row = make_row(subject, rng)
        town = row.pop("_town", None)
        if index in chosen:
            item = chosen[index]
            truth = {item: subject.get(truth_names.get(item, item)), "_town": town}
            conflicts.inject(row, item, shared[item], truth, values_rng, ctx.tally)
        chunk += _with_defect(ctx, row, defects.get(index), role_map, rng)
    return chunk


def _with_defect(ctx, row: dict, defect: str | None, role_map: dict, rng: random.Random) -> list[dict]:
    if defect is None:
        return [row]
    rows = [row]
    if defect == "duplicate_exact":
        rows.append(dict(row))
    elif defect == "near_duplicate_fullwidth":
        rows.append({**row, role_map["text"]: texts.near_duplicate(row[role_map["text"]], rng)})
    elif defect == "mojibake":
        row[role_map["name"]] = texts.mojibake(row[role_map["name"]])
    elif defect == "unreadable_row" and not unreadable(row, ctx, role_map):
        return rows
    ctx.tally.record(row, defect)
    return rows
