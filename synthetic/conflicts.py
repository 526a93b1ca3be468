"""一数一源 value conflicts: a register holding a base item beside its authoritative source (数源) with
another value for some subjects — a phone changed at one agency only, a move not reported, a legal
representative changed at 市场监管 but not in the statistics register.

A generator asks `plan` which rows get a conflict (only rows without a defect of their own, so each
conflict has one known cause), then `inject` writes the other value and records it in the tally:
resource (the tally's), item, base item, key, this value and the value the 数源 holds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from synthetic import codes, texts
from synthetic.defects import stochastic_count

#: Share of a non-authoritative holder's comparable rows that disagree with the 数源, per base item.
RATES: dict[str, float] = {
    "人口.姓名": 0.003,
    "人口.联系电话": 0.005,
    "人口.居住地址": 0.005,
    "法人.名称": 0.01,
    "法人.法定代表人": 0.02,
}


def shared_items(resource) -> dict[str, str]:
    """item name → base item, for the items this resource holds without being their 数源."""
    return {item.name: item.shared for item in resource.items if item.shared and not item.authoritative}


def plan(eligible: list[int], items: Mapping[str, str], rng: random.Random, *, at_least_one: bool) -> dict[int, str]:
    """Row index → the item that disagrees, drawn from the `eligible` rows (disjoint across items).
    `at_least_one`: every item gets one even at a tiny scale (the recall test needs something to find)."""
    order = list(eligible)
    rng.shuffle(order)
    chosen: dict[int, str] = {}
    cursor = 0
    for name, base in sorted(items.items()):
        count = max(stochastic_count(RATES.get(base, 0.005), len(eligible), rng), 1 if at_least_one else 0)
        for index in order[cursor : cursor + count]:
            chosen[index] = name
        cursor = min(len(order), cursor + count)
    return chosen


def _other_person_name(value: str, rng: random.Random) -> str:
    return value[0] + texts.person_name(rng, rare_rate=0)[1:] if value else texts.person_name(rng, rare_rate=0)


def _other_company_name(value: str, rng: random.Random) -> str:
    # The 字号 kept, the form of the company changed and not re-registered elsewhere.
    for old, new in (("有限公司", "股份有限公司"), ("股份有限公司", "有限公司"), ("店", "商行"), ("厂", "有限公司")):
        if value.endswith(old):
            return value[: -len(old)] + new
    return value + "分公司"


OTHER_VALUE: dict[str, Callable[[str, random.Random, dict], str]] = {
    "人口.姓名": lambda value, rng, row: _other_person_name(value, rng),
    "人口.联系电话": lambda value, rng, row: codes.mobile(rng),
    "人口.居住地址": lambda value, rng, row: texts.street_address(row.get("_town") or "440606005", rng),
    "法人.名称": lambda value, rng, row: _other_company_name(value, rng),
    "法人.法定代表人": lambda value, rng, row: texts.person_name(rng, rare_rate=0),
}


def inject(row: dict, item: str, base: str, truth: dict, rng: random.Random, tally) -> None:
    """Give `row[item]` a value other than the 数源's (`truth[item]`) and record the conflict."""
    authoritative = truth.get(item)
    value = OTHER_VALUE[base](authoritative or "", rng, truth)
    while value == authoritative:
        value = OTHER_VALUE[base](authoritative or "", rng, truth)
    row[item] = value
    tally.record_conflict(row, item=item, base_item=base, value=value, authoritative_value=authoritative)
