"""warehouse.conflicts.compare on hand-written rows: what counts as compared, what as a conflict,
and what the normalisation forgives (full-width characters, spaces, GBK mojibake, a lowercase x)."""

from __future__ import annotations

from warehouse.conflicts import comparable, compare

TRUTH = [
    ("44060619800101001X", "陈大文"),
    ("440606198502020022", "李小红"),
    ("440606199003030033", "黄（明）"),
    ("440606199104040044", "张三"),
    ("440606199205050055", "何伟"),
    ("440606199306060066", "甲"),  # two values in the 数源: ambiguous, never compared
    ("440606199306060066", "乙"),
]


def test_only_real_differences_are_conflicts():
    held = [
        ("44060619800101001x", "陈 大文"),  # lowercase x, a stray space: the same
        ("440606198502020022", "李晓红"),  # another name
        ("440606199003030033", "黄(明)"),  # half-width brackets: the same
        ("440606199104040044", "张?"),  # damaged beyond repair: not compared
        ("440606199205050055", None),  # missing: not compared
        ("440606199306060066", "甲"),  # ambiguous in the 数源
        ("440606199999999999", "无此人"),  # not in the 数源
    ]
    result = compare(TRUTH, held, subject="人口")
    assert (result.compared, result.conflicting) == (3, ["440606198502020022"])
    assert result.rate == round(1 / 3, 6)


def test_a_key_held_twice_conflicts_when_either_value_differs():
    held = [("440606199205050055", "何伟"), ("440606199205050055", "何炜")]
    assert compare(TRUTH, held, subject="人口").conflicting == ["440606199205050055"]


def test_mojibake_a_decoder_can_undo_is_the_same_value():
    garbled = "华智".encode("utf-8").decode("gbk")  # 鍗庢櫤
    assert comparable(garbled) == "华智"
    truth = [("44060619800101001X", "华智")]
    assert compare(truth, [("44060619800101001X", garbled)], subject="人口").conflicting == []


def test_phones_compare_as_mobiles():
    truth = [("914406060000000001", "13800138000")]
    assert comparable("+8613800138000", "mobile") == "13800138000"
    assert comparable("0757-22223333", "mobile") is None  # not a mobile: not compared
    result = compare(truth, [("914406060000000001", "13900139000")], subject="法人", kind="mobile")
    assert (result.compared, result.conflicting) == (1, ["914406060000000001"])


def test_nothing_compared_has_rate_zero():
    assert compare([], [("44060619800101001X", "陈大文")], subject="人口").rate == 0.0
