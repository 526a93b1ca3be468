"""warehouse.conflicts.compare on hand-written rows: what counts as compared, what as a conflict,
and what the normalisation forgives (full-width characters, spaces, GBK mojibake, a lowercase x).
The comparison runs on Arrow columns; a row-by-row version of the same definition, kept here, must
find the same keys on thousands of messy rows."""

from __future__ import annotations

import random
import re
from collections import defaultdict

import pyarrow as pa

from quality.normalise import RESIDENT_ID_REPAIRS, get_normaliser
from quality.rules import is_valid_mobile
from quality.text import is_intact_text
from warehouse import conflicts
from warehouse.conflicts import comparable, subject_key


def compare(truth, held, **how):
    return conflicts.compare(_table(truth), _table(held), **how)


def _table(rows) -> pa.Table:
    keys, values = zip(*rows) if rows else ((), ())
    return pa.table({"key": pa.array(keys, pa.string()), "value": pa.array(values, pa.string())})


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


def _comparable_by_row(value, kind):
    if value is None:
        return None
    text = str(value)
    for name in ("mojibake_gbk", "halfwidth"):
        text = get_normaliser(name).row(text)[0]
    text = re.sub(r"\s+", "", text)
    if not text or not is_intact_text(text):
        return None
    if kind == "mobile":
        text = text.removeprefix("+86") if len(text) > 11 else text
        text = text.removeprefix("86") if len(text) > 11 else text
        return text if is_valid_mobile(text) else None
    return text


def _key_by_row(value, subject):
    if value is None:
        return None
    text = str(value)
    for name in {"人口": RESIDENT_ID_REPAIRS, "法人": ("halfwidth",)}[subject]:
        text = get_normaliser(name).row(text)[0]
    return re.sub(r"\s+", "", text).upper() or None


def _compare_by_row(truth_rows, held_rows, subject, kind):
    truth = defaultdict(set)
    for key, value in truth_rows:
        key, value = _key_by_row(key, subject), _comparable_by_row(value, kind)
        if key is not None and value is not None:
            truth[key].add(value)
    held = defaultdict(set)
    for key, value in held_rows:
        key, value = _key_by_row(key, subject), _comparable_by_row(value, kind)
        if key is not None and value is not None and len(truth.get(key, ())) == 1:
            held[key].add(value)
    return len(held), sorted(key for key, values in held.items() if values - truth[key])


MOBILES = ["13800138000", "13900139000", "15012345678", "0757-22223333", "12345"]
NAMES = ["陈大文", "李小红", "黄(明)", "何伟", "华智", "Ａｂ Ｃ"]


def _messy(rng, kind, base):
    if kind == "mobile":
        return rng.choice([base, "+86" + base, "86" + base, f" {base} ", base.translate({48: "０"}), None, ""])
    garbled = base.encode("utf-8").decode("gbk", errors="replace")
    return rng.choice(
        [base, base + "\u3000", " ".join(base), garbled, base[:-1] + "?", None, "\xa0", base[0] + "\xa0" + base[1:]]
    )


def test_the_columns_find_what_the_rows_find():
    rng = random.Random(13)
    ids = [f"4406061980010100{n:02d}" for n in range(40)] + ["44060619800101001x", "４４０６０６"]
    for subject, kind in (("人口", "text"), ("人口", "mobile"), ("法人", "text")):
        bases = MOBILES if kind == "mobile" else NAMES
        usual = {key: rng.choice(bases) for key in ids}  # a few keys get a second value: ambiguous
        truth = [(key, _messy(rng, kind, rng.choice([usual[key]] * 9 + bases))) for key in ids for _ in range(2)]
        held = [
            (key, _messy(rng, kind, rng.choice([usual.get(key, bases[0])] * 3 + bases)))
            for key in rng.choices(ids + [None, " "], k=3000)
        ]
        result = compare(truth, held, subject=subject, kind=kind)
        assert (result.compared, result.conflicting) == _compare_by_row(truth, held, subject, kind)
        assert result.compared > 5 and result.conflicting  # the rows did exercise both outcomes
    assert subject_key(" 44060619800101001x ", "人口") == "44060619800101001X"
