"""Every quality rule reads in Chinese (catalog/rule_wording.py): the item's Chinese name and the phrase of
the check kind. A kind quality can emit without wording here fails these tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from catalog import rule_wording as wording
from catalog.checks import ROW_CHECK_ROLES
from catalog.service import labels
from catalog.spec import load_catalogue
from quality.errors import QualityError
from quality.plan import ITEM_CHECK_KINDS, KEY_CHECK, ROW_CHECKS, Check, plan_checks
from quality.rules import RULES
from warehouse.gate import SCHEMA_CHECK

SEED = Path(__file__).parents[2] / "catalog" / "seed"
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def test_every_check_kind_quality_can_emit_has_a_phrase():
    item_kinds = set(ITEM_CHECK_KINDS) | set(RULES)  # "<item>.<kind>" and "<item>.<rule>"
    assert item_kinds - wording.CHECK_PHRASES.keys() == set()
    whole = {KEY_CHECK, SCHEMA_CHECK} | set(ROW_CHECKS) | set(ROW_CHECK_ROLES)
    assert whole - wording.WHOLE_CHECK_LABELS.keys() == set()
    for phrase in (*wording.CHECK_PHRASES.values(), *wording.WHOLE_CHECK_LABELS.values()):
        assert not LATIN_WORD.search(phrase), phrase


def test_a_check_of_a_kind_quality_does_not_declare_is_refused():
    with pytest.raises(QualityError, match="ITEM_CHECK_KINDS"):
        Check("gmsfhm.checksum", "checksum", "critical", ("gmsfhm",))


def test_every_check_of_the_seed_catalogue_reads_in_chinese():
    seen = 0
    for resource in load_catalogue(SEED).resources:
        items = {item.name: item.label for item in resource.items}
        for check in plan_checks(resource):
            label = wording.rule_label(check.name, items)
            assert wording.UNKNOWN_RULE not in label and wording.UNKNOWN_ITEM not in label, (resource.id, check.name)
            if check.name.startswith(f"{check.columns[0]}."):  # an item's check names the item
                assert label.startswith(items[check.columns[0]] + " "), (check.name, label)
                label = label.removeprefix(items[check.columns[0]])  # the catalogue's name may hold a unit (NTU)
            assert not LATIN_WORD.search(label), (resource.id, check.name, label)
            seen += 1
    assert seen > 100


def test_the_wording_of_rules_and_reasons():
    items = {"gmsfhm": "公民身份号码", "tyshxydm": "统一社会信用代码"}
    assert wording.rule_label("gmsfhm.not_null", items) == "公民身份号码 不能为空"
    assert wording.rule_label("tyshxydm.uscc", items) == "统一社会信用代码 校验位错误或含非法字符"
    assert wording.rule_label("meter_rollback", items) == "表计读数倒退"
    assert wording.rule_label("xm.max_length", items) == "（目录中无此信息项） 超过规定长度"
    assert wording.rule_label("gmsfhm_valid", items) == wording.UNKNOWN_RULE  # an old name: the code stays beside it
    assert labels.failing_rule("failing rule gmsfhm.resident_id") == "gmsfhm.resident_id"
    assert labels.failing_rule("stale") is None
    assert labels.reason_label("failing rule gmsfhm.not_null", items) == "质量规则未通过：公民身份号码 不能为空"
    assert labels.reason_label("stale") == "数据过期"
