"""Mobile, camera ID, parcel code, town code, coordinate, date and damaged-text rules; the RULES
registry; and vectorised == row-wise for every registered rule on a mixed sample."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from catalog.reference import make_resident_id, make_uscc
from quality import dates
from quality.errors import QualityError
from quality.rules import (
    RULES,
    SEVERITIES,
    camera_id_mask,
    get_rule,
    is_valid_camera_id,
    is_valid_mobile,
    is_valid_parcel_code,
    is_valid_town_code,
    mobile_mask,
    parcel_code_mask,
    town_code_mask,
)
from quality.text import (
    COST_COMMON,
    COST_LEVEL_2,
    COST_RARE,
    LEVEL_2,
    garbled_texts,
    intact_text_mask,
    is_intact_text,
    text_cost,
    utf8_read_as_gbk,
)

TODAY = date(2025, 6, 30)
CAMERA_EXAMPLE = "44060605001320000123"


# ---- mobile -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["13812345678", "19912345678", "8613812345678", "+8613812345678", "16612345678"])
def test_valid_mobiles(value):
    assert is_valid_mobile(value)
    assert mobile_mask([value]).all()


@pytest.mark.parametrize(
    "value",
    [
        "12812345678",
        "1381234567",
        "138123456789",
        "138 1234 5678",
        "138-1234-5678",
        "0757-22223333",
        "+86 13812345678",
        "８613812345678",
        "13812345678\n",
        "",
        None,
        13812345678,
        b"13812345678",
        "+8813812345678",
    ],
)
def test_invalid_mobiles(value):
    assert not is_valid_mobile(value)
    assert not mobile_mask(pd.Series([value], dtype=object)).any()


# ---- camera IDs -------------------------------------------------------------------------------


def test_camera_example_and_parts():
    assert is_valid_camera_id(CAMERA_EXAMPLE)
    for industry in ("00", "01", "04", "05", "08", "09", "11"):
        assert is_valid_camera_id(f"44060605{industry}1320000123")
    for kind in ("111", "118", "131", "132", "134"):
        assert is_valid_camera_id(f"4406060500{kind}0000123")
    for network in "012345678":
        assert is_valid_camera_id(f"4406060500132{network}000123")


@pytest.mark.parametrize(
    "value",
    [
        "4406060500132000012",  # 19 digits
        "440606050013200001234",  # 21 digits
        "44060705001320000123",  # another county (南海) by default
        "44060605021320000123",  # industry 02 not in the list
        "44060605001330000123",  # type 133 not in the list
        "44060605001329000123",  # network 9
        "4406060500132000012X",
        "４4060605001320000123",
        " 44060605001320000123",
        None,
        44060605001320000123,
    ],
)
def test_bad_camera_ids(value):
    assert not is_valid_camera_id(value)
    assert not camera_id_mask(pd.Series([value], dtype=object)).any()


def test_camera_county_codes_can_be_widened():
    nanhai = "44060505001320000123"
    assert not is_valid_camera_id(nanhai)
    assert is_valid_camera_id(nanhai, county_codes=("440605", "440606"))
    assert camera_id_mask([nanhai, CAMERA_EXAMPLE], county_codes=["440605"]).tolist() == [True, False]


# ---- parcel and town codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "440606003004JC00123",
        "440606101002GB00001",
        "440606005001JA00042",
        "440606005001GA00042",
        "440606005001ZA00042",
        "440606005001GX12345",
        "440606005001JB99999",
        "440606005001GW00001",
        "440606005001JY00001",
    ],
)
def test_valid_parcel_codes(value):
    assert is_valid_parcel_code(value)
    assert parcel_code_mask([value]).all()


@pytest.mark.parametrize(
    "value",
    [
        "440606003004JC0012",
        "440606003004JC001234",
        "440605003004JC00123",
        "440606003004QC00123",
        "440606003004JZ00123",
        "440606003004jc00123",
        "44060600300AJC00123",
        "440606003004JC0012A",
        None,
        "",
    ],
)
def test_bad_parcel_codes(value):
    assert not is_valid_parcel_code(value)
    assert not parcel_code_mask([value]).any()


@pytest.mark.parametrize(
    "value", ["440606003", "440606106", "440606005001", "440606101199", "440606104200", "440606102399"]
)
def test_valid_town_codes(value):
    assert is_valid_town_code(value)
    assert town_code_mask([value]).all()


@pytest.mark.parametrize(
    "value",
    [
        "440606001",
        "440606107",
        "440605011",
        "440606005000",
        "440606005400",
        "44060600500",
        "4406060050011",
        "440606",
        None,
        440606005,
    ],
)
def test_bad_town_codes(value):
    assert not is_valid_town_code(value)
    assert not town_code_mask(pd.Series([value], dtype=object)).any()


# ---- coordinates as rules ---------------------------------------------------------------------


def test_lon_lat_rules():
    lon, lat = RULES["lon"], RULES["lat"]
    assert lon.row(113.25) and lat.row(22.84)
    assert lon.row(112.95) and lon.row(113.42) and lat.row(22.63) and lat.row(23.06)
    for bad in (112.9499, 113.4201, 0, None, float("nan"), "113.25", True, 22.84):
        assert not lon.row(bad), bad
    assert not lat.row(113.25) and not lat.row(22.6299)
    assert lon.mask(pa.array([113.25, None, 200.0])).tolist() == [True, False, False]
    assert lat.mask(pd.Series([22.84, np.nan, 0.0])).tolist() == [True, False, False]


# ---- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2023-01-05", True),
        ("2024-02-29", True),
        ("2023-02-29", False),
        ("1900-02-29", False),
        ("2000-02-29", True),
        ("2023-13-01", False),
        ("2023-00-10", False),
        ("2023-04-31", False),
        ("2023-01-05T10:20:30", True),
        ("2023-01-05 10:20", True),
        ("2023-01-05T10:20:30.123+08:00", True),
        ("2023-01-05T24:00:00", False),
        ("2023-01-05T10:61", False),
        ("2023/01/05", False),
        ("20230105", False),
        ("2023-1-5", False),
        (" 2023-01-05", False),
        ("２０２３-01-05", False),
        ("0000-01-01", False),
        (date(2023, 1, 5), True),
        (datetime(2023, 1, 5, 10), True),
        (pd.NaT, False),
        (None, False),
        (20230105, False),
    ],
)
def test_is_real_date(value, expected):
    assert dates.is_real_date(value) is expected
    assert dates.real_date_mask(pd.Series([value], dtype=object)).tolist() == [expected]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2023/1/5", date(2023, 1, 5)),
        ("20230105", date(2023, 1, 5)),
        ("2023年1月5日", date(2023, 1, 5)),
        ("2023年01月05日", date(2023, 1, 5)),
        ("2023-01-05", date(2023, 1, 5)),
        ("2023.01.05", date(2023, 1, 5)),
        ("2023-1-5", date(2023, 1, 5)),
        ("2023/01/05 08:30:00", date(2023, 1, 5)),
        ("2023-01-05T08:30:00+08:00", date(2023, 1, 5)),
        (" 2023/1/5 ", date(2023, 1, 5)),
        ("2023/2/30", None),
        ("2023/1-5", None),
        ("202315", None),
        ("05/01/2023", None),
        ("", None),
        ("2023年1月", None),
        (None, None),
        (20230105, None),
        (date(2023, 1, 5), date(2023, 1, 5)),
    ],
)
def test_parse_mixed_date(value, expected):
    assert dates.parse_mixed_date(value) == expected
    ok, year, month, day = dates.mixed_date_parts([value])
    assert bool(ok[0]) is (expected is not None)
    if expected:
        assert (year[0], month[0], day[0]) == (expected.year, expected.month, expected.day)


def test_future_and_sentinel_dates():
    assert dates.is_future_date("2025-07-01", TODAY) and not dates.is_future_date("2025-06-30", TODAY)
    assert dates.is_future_date("2025/7/1", TODAY) and not dates.is_future_date("garbage", TODAY)
    assert dates.future_date_mask(["2025-07-01", "2025/6/30", None], TODAY).tolist() == [True, False, False]
    assert dates.is_future_date("2999-01-01") and not dates.is_future_date("2000-01-01")
    for sentinel in ("1900-01-01", "1970-01-01", "19700101", "1900年1月1日", date(1970, 1, 1)):
        assert dates.is_sentinel_date(sentinel), sentinel
    assert not dates.is_sentinel_date("1970-01-02") and not dates.is_sentinel_date(None)
    assert dates.sentinel_date_mask(["1900/1/1", "1970-01-01T00:00:00", "1971-01-01"]).tolist() == [True, True, False]


def test_not_future_date_rule_on_temporal_arrays():
    rule = RULES["not_future_date"]
    assert rule.row("2000-01-01") and not rule.row("2999-01-01") and not rule.row("2000/1/1")
    assert dates.is_not_future_date(TODAY, TODAY) and not dates.is_not_future_date(TODAY + timedelta(days=1), TODAY)
    assert dates.not_future_date_mask(pa.array([TODAY, TODAY + timedelta(days=1), None]), TODAY).tolist() == [
        True,
        False,
        False,
    ]
    shunde = timezone(timedelta(hours=8))
    # 23:30 UTC on the 30th is already the 1st of July in Shunde: judged by the value's own zone.
    stamps = pd.Series(pd.to_datetime(["2025-06-30 23:30"]).tz_localize("UTC").tz_convert(shunde))
    assert dates.not_future_date_mask(stamps, TODAY).tolist() == [False]
    assert dates.is_not_future_date(stamps.iloc[0], TODAY) is False
    naive = pd.Series(pd.to_datetime(["2025-06-30 23:30", "2025-07-01 00:00"]))
    assert dates.not_future_date_mask(naive, TODAY).tolist() == [True, False]


# ---- damaged free text ------------------------------------------------------------------------


def garble(text: str) -> str:
    """UTF-8 bytes read as GBK, as a legacy export does it."""
    return text.encode("utf-8").decode("gbk")


@pytest.mark.parametrize(
    "value",
    [
        "张三",
        "欧思",
        "濮存宝",
        "广东省佛山市顺德区大良街道新桂路12号",
        "是否？",
        "“美的”集团—总部",
        "ABC-123",
        "",
        "𰻝",
        "堃喆",
        "Ωmega",
        "昇赟",
        "绡变懂",
    ],
)
def test_intact_text(value):
    assert is_intact_text(value) and intact_text_mask([value]).tolist() == [True]


@pytest.mark.parametrize(
    "original",
    ["张伟", "华智", "梓琪", "欧阳梓琪", "顺德大良街道", "Ａ座１２号楼", "广东省佛山市顺德区北滘镇", "陈堃", "①号"],
)
def test_utf8_read_as_gbk_is_damaged_and_recoverable(original):
    garbled = garble(original)
    assert not is_intact_text(garbled) and utf8_read_as_gbk(garbled) == original
    assert intact_text_mask(pa.array([garbled, original])).tolist() == [False, True]


@pytest.mark.parametrize("value", ["李?", "顺德\ufffd", "?", "寮犱\ufffd"])
def test_replacement_marks_are_damage(value):
    assert not is_intact_text(value) and intact_text_mask([value]).tolist() == [False]


def test_plausible_names_that_also_decode_are_not_garbling():
    # Each re-encodes as GBK into valid UTF-8, but what it would recover is the less likely text:
    # Latin (欧思 → ŷ˼), two Ext-A characters (濮存宝 → 䡰䰡), one Ext-B character (a 2-character string).
    for value in ("欧思", "濮存宝", "洹颁啊"):
        assert value.encode("gbk").decode("utf-8") != value
        assert utf8_read_as_gbk(value) is None
    two = bytes((0xF0, 0xA1, 0xB0, 0xA1)).decode("gbk")  # a level-2 character and 啊: as UTF-8, U+21C21
    assert two[0] in LEVEL_2 and two[1] == "啊" and two.encode("gbk").decode("utf-8") == "\U00021c21"
    assert utf8_read_as_gbk(two) is None


def test_text_cost_orders_character_classes():
    assert text_cost("abc") == 0
    assert text_cost("张") < text_cost("梓") < text_cost("堃") == text_cost("䶮") == text_cost("Ω")
    assert text_cost("，") == text_cost("张")  # full-width punctuation is ordinary Chinese text
    assert COST_RARE >= COST_COMMON + COST_LEVEL_2


def test_text_rule_on_non_strings_and_nulls():
    assert is_intact_text(None) is False and is_intact_text(3) is False and is_intact_text(b"x") is False
    assert intact_text_mask(pa.array([None, "好"])).tolist() == [False, True]
    assert intact_text_mask(pa.array([], pa.string())).tolist() == []
    assert intact_text_mask(pa.chunked_array([["好", garble("好人")], ["李?"]])).tolist() == [True, False, False]


def test_garbled_texts_names_each_row_and_its_original():
    values = pa.array([garble("华智"), "华智", None, garble("张伟"), garble("华智"), "李?"])
    garbled, originals = garbled_texts(values)
    assert garbled.tolist() == [True, False, False, True, True, False]
    assert originals.to_pylist() == ["华智", "张伟", "华智"]


# ---- registry ---------------------------------------------------------------------------------


def test_registry_names_and_shape():
    assert set(RULES) == {
        "resident_id",
        "uscc",
        "mobile",
        "camera_id",
        "parcel_code",
        "town_code",
        "lon",
        "lat",
        "not_future_date",
        "not_sentinel_date",
        "text_intact",
    }
    for name, rule in RULES.items():
        assert rule.name == name and rule.severity in SEVERITIES and rule.description
        assert callable(rule.row) and callable(rule.mask)
    assert get_rule("uscc") is RULES["uscc"]
    with pytest.raises(QualityError, match="unknown quality rule 'idcard'.*resident_id"):
        get_rule("idcard")


def mixed_sample(size: int = 12_000) -> list:
    """Values every rule sees: each rule's valid values, near misses, numbers, dates and junk."""
    rng = random.Random(7)
    digits = "0123456789"
    makers = [
        lambda: make_resident_id(
            "440606", date(1960, 1, 1) + timedelta(days=rng.randrange(20000)), rng.randrange(1000)
        ),
        lambda: make_uscc("91", "440606", "".join(rng.choice(digits + "ABC") for _ in range(9))),
        lambda: "1" + rng.choice("23456789") + "".join(rng.choice(digits) for _ in range(9)),
        lambda: (
            "44060605"
            + rng.choice(["00", "01", "02", "11"])
            + rng.choice(["132", "131", "133"])
            + rng.choice(digits)
            + "".join(rng.choice(digits) for _ in range(rng.choice([5, 6, 7])))
        ),
        lambda: (
            "440606"
            + "".join(rng.choice(digits) for _ in range(6))
            + rng.choice("GJZQ")
            + rng.choice("ABCSXQ")
            + "".join(rng.choice(digits) for _ in range(5))
        ),
        lambda: "4406061" + rng.choice(["00", "01", "03", "07"]) + rng.choice(["", "001", "250", "450", "000"]),
        lambda: f"{rng.randrange(1890, 2100)}-{rng.randrange(0, 14):02d}-{rng.randrange(0, 33):02d}",
        lambda: rng.choice(
            [
                "2023/1/5",
                "20230105",
                "2023年1月5日",
                "2024-02-29T08:00:00+08:00",
                "1970-01-01",
                "1900/1/1",
                "张三",
                "寮犱笁",
                "李?",
                "顺德\ufffd",
            ]
        ),
        lambda: date(2025, 1, 1) + timedelta(days=rng.randrange(-400, 400)),
        lambda: rng.uniform(112.5, 113.8),
        lambda: rng.uniform(22.3, 23.3),
        lambda: rng.randrange(-5, 200),
        lambda: rng.choice([None, float("nan"), "", " ", b"440606003", True, "１３８１２３４５６７８", pd.NA]),
    ]
    sample = [rng.choice(makers)() for _ in range(size)]
    return sample


@pytest.mark.parametrize("name", sorted(RULES))
def test_vectorised_equals_row_wise_for_every_rule(name):
    rule = RULES[name]
    sample = mixed_sample()
    if name == "not_future_date":
        row, mask = (lambda v: rule.row(v, TODAY)), (lambda vs: rule.mask(vs, TODAY))
    else:
        row, mask = rule.row, rule.mask
    expected = np.array([row(v) for v in sample])
    assert expected.any() and not expected.all()
    assert (mask(sample) == expected).all()
    assert (mask(pd.Series(sample, dtype=object)) == expected).all()
