"""quality.plan: the checks a catalogue entry implies, and their vectorised evaluation."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from catalog.reference import make_resident_id
from catalog.spec import Item, Resource, ResourceCheck, ValueRules
from quality.errors import QualityError
from quality.plan import duplicate_key_mask, evaluate, plan_checks, plan_repairs

GOOD_ID = make_resident_id("440606", date(1985, 3, 1), 123)


def resource(items, checks=()) -> Resource:
    return Resource(
        id="t_plan",
        code="101001/00009",
        name="测试",
        provider="gaj",
        classification="基础/人口",
        abstract="测试",
        format="数据库",
        domain="population",
        update_cycle="每日",
        sharing_type="无条件共享",
        open_type="不开放",
        release_date=date(2024, 1, 1),
        items=items,
        checks=list(checks),
    )


ITEMS = [
    Item(
        name="gmsfhm",
        label="公民身份号码",
        type="C",
        length=18,
        nullable=False,
        key=True,
        pii="id_number",
        rules=ValueRules(validator="resident_id"),
    ),
    Item(name="xb", label="性别", type="C", length=1, rules=ValueRules(values=["1", "2"])),
    Item(name="hh", label="户号", type="C", length=12, rules=ValueRules(regex=r"^\d{9,12}$")),
    Item(name="sg", label="身高", type="F", rules=ValueRules(min=30, max=250)),
    Item(name="lxdh", label="联系电话", type="C", length=20, pii="phone", rules=ValueRules(validator="mobile")),
    Item(name="csrq", label="出生日期", type="D", rules=ValueRules(validator="not_future_date")),
]


def test_every_item_property_becomes_a_named_check_with_a_severity():
    checks = {c.name: c for c in plan_checks(resource(ITEMS))}
    assert {name: c.severity for name, c in checks.items()} == {
        "gmsfhm.not_null": "critical",
        "gmsfhm.max_length": "critical",
        "gmsfhm.resident_id": "critical",
        "xb.max_length": "critical",
        "xb.in_set": "critical",
        "hh.max_length": "critical",
        "hh.regex": "critical",
        "sg.between": "critical",
        "lxdh.present": "warning",
        "lxdh.max_length": "critical",
        "lxdh.mobile": "warning",
        "csrq.not_future_date": "warning",
        "csrq.not_sentinel_date": "warning",
        "key.unique": "warning",
    }
    assert [(r.column, r.normalisers) for r in plan_repairs(resource(ITEMS))] == [
        ("gmsfhm", ("halfwidth", "resident_id_upper_x", "resident_id_15_to_18")),
        ("lxdh", ("halfwidth",)),
    ]


def test_masks_flag_exactly_the_failing_rows_and_let_nulls_pass_value_checks():
    table = pa.table(
        {
            "gmsfhm": [GOOD_ID, GOOD_ID[:17] + "0" if GOOD_ID[-1] != "0" else GOOD_ID[:17] + "1", None, "X" * 19],
            "xb": ["1", "3", None, "2"],
            "hh": ["440606123", "12ab", None, "4406061234567"],
            "sg": [170.0, 20.0, None, 251.0],
            "lxdh": ["13812345678", "", None, "12345"],
            "csrq": pa.array([date(1985, 3, 1), date(2999, 1, 1), None, date(1970, 1, 1)], pa.date32()),
        }
    )
    verdicts = evaluate(plan_checks(resource(ITEMS)), table)
    flagged = {name: [i for i, bad in enumerate(mask) if bad] for name, mask in verdicts.masks.items()}
    assert flagged == {
        "gmsfhm.not_null": [2],
        "gmsfhm.max_length": [3],
        "gmsfhm.resident_id": [1, 3],
        "xb.max_length": [],
        "xb.in_set": [1],
        "hh.max_length": [3],
        "hh.regex": [1, 3],
        "sg.between": [1, 3],
        "lxdh.present": [1, 2],
        "lxdh.max_length": [],
        "lxdh.mobile": [1, 3],
        "csrq.not_future_date": [1],
        "csrq.not_sentinel_date": [3],
        "key.unique": [],
    }
    assert list(verdicts.failed("critical")) == [False, True, True, True]
    assert verdicts.rule_names([1], "critical") == [["gmsfhm.resident_id", "xb.in_set", "hh.regex", "sg.between"]]


def test_duplicate_keys_flag_every_copy():
    table = pa.table({"a": ["x", "y", "x", "z", "y"], "b": [1, 1, 1, 1, 2]})
    assert duplicate_key_mask(table, ["a"]).tolist() == [True, True, True, False, True]
    assert duplicate_key_mask(table, ["a", "b"]).tolist() == [True, False, True, False, False]


def test_a_declared_check_must_exist_and_fill_its_roles():
    with pytest.raises(QualityError, match="unknown check 'no_such_check'"):
        plan_checks(resource(ITEMS, [ResourceCheck(rule="no_such_check", columns={})]))
