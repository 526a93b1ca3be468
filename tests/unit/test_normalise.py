"""Normalisers repair what they claim, leave good values alone (idempotent), agree row-wise and
vectorised, and tally what they did."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from catalog.reference import make_resident_id
from quality import geo
from quality.errors import QualityError
from quality.normalise import (
    NORMALISERS,
    RESIDENT_ID_REPAIRS,
    RepairCounts,
    date_iso,
    get_normaliser,
    halfwidth,
    mojibake_gbk,
    resident_id_15_to_18,
    resident_id_upper_x,
    timestamp_to_local,
)
from quality.rules import is_valid_resident_id

VALUE_NORMALISERS = [
    "halfwidth",
    "resident_id_upper_x",
    "resident_id_15_to_18",
    "date_iso",
    "timestamp_to_local",
    "mojibake_gbk",
]


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("\u3000顺德区大良街道（１号）\u3000", "顺德区大良街道(1号)"),
        ("  ABC ", "ABC"),
        ("Ａｂｃ－１２３", "Abc-123"),
        ("\t13812345678\n", "13812345678"),
        ("ｘ", "x"),
        ("\u00a0值\u00a0", "值"),
    ],
)
def test_halfwidth_repairs(value, expected):
    assert halfwidth(value) == (expected, True)


@pytest.mark.parametrize("value", ["顺德区", "11010519491231002X", "a b", "", "𠀀字", "\uf900", "①", "。、"])
def test_halfwidth_leaves_good_values_alone(value):
    assert halfwidth(value) == (value, False)


def test_id_repairs():
    assert resident_id_upper_x("11010519491231002x") == ("11010519491231002X", True)
    assert resident_id_upper_x("11010519491231002X") == ("11010519491231002X", False)
    assert resident_id_upper_x("1101051949123100x") == ("1101051949123100x", False)
    assert resident_id_upper_x("１1010519491231002x") == ("１1010519491231002x", False)
    upgraded, repaired = resident_id_15_to_18("110105491231002")
    assert (upgraded, repaired) == ("11010519491231002X", True)
    assert is_valid_resident_id(upgraded)
    assert resident_id_15_to_18("11010519491231002X") == ("11010519491231002X", False)
    assert resident_id_15_to_18("１１０１０５４９１２３１００２") == ("１１０１０５４９１２３１００２", False)


def test_legacy_ids_upgrade_to_the_generated_18_digit_form():
    rng = random.Random(1989)
    for _ in range(300):
        birth = date(1900, 1, 1) + timedelta(days=rng.randrange(36500))
        modern = make_resident_id("440681", birth, rng.randrange(1000))
        legacy = modern[:6] + modern[8:17]
        assert resident_id_15_to_18(legacy) == (modern, True)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2023/1/5", "2023-01-05"),
        ("20230105", "2023-01-05"),
        ("2023年1月5日", "2023-01-05"),
        ("2023.01.05", "2023-01-05"),
        ("2023-1-5", "2023-01-05"),
        ("2023/01/05 08:00", "2023-01-05"),
    ],
)
def test_date_iso_repairs(value, expected):
    assert date_iso(value) == (expected, True)


@pytest.mark.parametrize(
    "value", ["2023-01-05", "2023-01-05T08:00:00+08:00", "2023/2/30", "junk", "", None, date(2023, 1, 5), 20230105]
)
def test_date_iso_leaves_iso_and_unparseable_alone(value):
    assert date_iso(value) == (value, False)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2026-01-05T00:00:00Z", "2026-01-05T08:00:00+08:00"),
        ("2026-01-05 16:30Z", "2026-01-06T00:30:00+08:00"),  # the next day in Shunde
        ("2026-12-31T23:59:59.250+00:00", "2027-01-01T07:59:59.250+08:00"),  # the next year; fraction kept
        ("2024-02-28T20:00:00+0000", "2024-02-29T04:00:00+08:00"),  # into a leap day
        ("2026-01-05T00:00:00z", "2026-01-05T08:00:00+08:00"),
        ("2026-01-05T00:00:00+00", "2026-01-05T08:00:00+08:00"),
        ("2026-01-05T00:00:00-00:00", "2026-01-05T08:00:00+08:00"),
        ("0005-01-01T00:00:00Z", "0005-01-01T08:00:00+08:00"),
    ],
)
def test_timestamp_to_local_repairs_to_the_same_instant(value, expected):
    assert timestamp_to_local(value) == (expected, True)
    assert datetime.fromisoformat(expected) == datetime.fromisoformat(value.upper().replace(" ", "T"))
    assert datetime.fromisoformat(expected).utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-05T08:00:00+08:00",
        "2026-01-05T09:00:00+09:00",
        "2026-01-05 08:00:00",
        "2026-01-05",
        "2026-02-30T00:00:00Z",
        "2026-01-05T24:00:00Z",
        "2026-01-05T00:00:60Z",
        "9999-12-31T16:00:00Z",
        "２０２６-01-05T00:00:00Z",
        "junk",
        "",
        None,
        5,
        datetime(2026, 1, 5, tzinfo=timezone.utc),
    ],
)
def test_timestamp_to_local_leaves_local_other_zones_naive_and_impossible_alone(value):
    assert timestamp_to_local(value) == (value, False)


def test_timestamp_to_local_vectorised_keeps_each_instant():
    rng = random.Random(8)
    start = datetime(1990, 1, 1, tzinfo=timezone.utc)
    moments = [start + timedelta(seconds=rng.randrange(2 * 10**9)) for _ in range(5000)]
    sent = pa.array([m.strftime("%Y-%m-%dT%H:%M:%S") + rng.choice(["Z", "+00:00", "+0000"]) for m in moments])
    repaired, count = NORMALISERS["timestamp_to_local"].vectorised(sent)
    assert count == len(moments)
    assert pc.all(pc.ends_with(repaired, "+08:00")).as_py()
    assert repaired.cast(pa.timestamp("s", "UTC")).equals(sent.cast(pa.timestamp("s", "UTC")))


def utc_timestamp(rng: random.Random) -> str:
    moment = datetime(1990, 1, 1) + timedelta(seconds=rng.randrange(2 * 10**9))
    text = moment.strftime(rng.choice(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S.%f"]))
    return text + rng.choice(["Z", "+00:00", "+0000", "+08:00", "", "z"])


def mixed_sample(size: int = 12_000) -> list:
    rng = random.Random(99)
    ids = [
        make_resident_id("440606", date(1950, 1, 1) + timedelta(days=rng.randrange(25000)), rng.randrange(1000))
        for _ in range(200)
    ]
    makers = [
        lambda: rng.choice(ids),
        lambda: rng.choice(ids)[:17] + "x",
        lambda: (lambda v: v[:6] + v[8:17])(rng.choice(ids)),
        lambda: fullwidth(rng.choice(ids)),
        lambda: " " + rng.choice(ids) + "\u3000",
        lambda: fullwidth(rng.choice(ids))[:17] + "ｘ",
        lambda: rng.choice(
            [
                "2023/1/5",
                "20230105",
                "2023年12月31日",
                "2023.01.05",
                "2023-01-05",
                "2023/2/30",
                "２０２３年１月５日",
                "2023-01-05 10:00",
                "1999-9-9",
            ]
        ),
        lambda: rng.choice(["顺德区", "大良街道（１号）", "Ａ座 ", "", " ", "x", "①"]),
        lambda: rng.choice(["闄堝爟", "寮犱紵", "鍗庢櫤", "李?", "寮犱\ufffd", "濮存宝", "欧思"]),
        lambda: rng.choice([None, 7, 1.5, b"x", date(2020, 1, 1)]),
        lambda: utc_timestamp(rng) if rng.random() < 0.9 else rng.choice(["2026-02-30T00:00:00Z", "2026-01-05T24:00Z"]),
    ]
    return [rng.choice(makers)() for _ in range(size)]


@pytest.mark.parametrize("name", VALUE_NORMALISERS)
def test_vectorised_equals_row_wise(name):
    normaliser = NORMALISERS[name]
    sample = mixed_sample()
    rows = [normaliser.row(v) for v in sample]
    expected_values, expected_count = [r[0] for r in rows], sum(r[1] for r in rows)
    assert expected_count > 100
    as_list, count = normaliser.vectorised(sample)
    assert (as_list, count) == (expected_values, expected_count)
    as_series, count = normaliser.vectorised(pd.Series(sample, dtype=object, index=range(5, 5 + len(sample))))
    assert count == expected_count and as_series.index[0] == 5 and as_series.tolist() == expected_values
    strings_only = [v if isinstance(v, str) else None for v in sample]
    as_arrow, count = normaliser.vectorised(pa.array(strings_only))
    assert count == expected_count
    assert as_arrow.to_pylist() == [v if isinstance(v, str) else None for v in expected_values]
    str_series, count = normaliser.vectorised(pd.Series(strings_only, dtype="str"))
    assert count == expected_count and str_series.dtype == "str"


@pytest.mark.parametrize("name", VALUE_NORMALISERS)
def test_idempotent(name):
    normaliser = NORMALISERS[name]
    once, _ = normaliser.vectorised(mixed_sample(3000))
    twice, count = normaliser.vectorised(once)
    assert count == 0 and twice == once
    assert all(not normaliser.row(v)[1] for v in once)


def test_id_chain_makes_dirty_ids_valid():
    rng = random.Random(5)  # births before 2000: a legacy 15-digit number cannot hold a later one
    clean = [
        make_resident_id("440606", date(1960, 1, 1) + timedelta(days=rng.randrange(14000)), rng.randrange(1000))
        for _ in range(400)
    ]
    dirty = [
        fullwidth(v)
        if i % 4 == 0
        else v[:17].replace("X", "x") + v[17].lower()
        if i % 4 == 1
        else v[:6] + v[8:17]
        if i % 4 == 2
        else f" {v} "
        for i, v in enumerate(clean)
    ]
    counts = RepairCounts()
    repaired = counts.apply_chain(RESIDENT_ID_REPAIRS, pa.array(dirty))
    assert repaired.to_pylist() == clean
    assert counts.as_dict()["halfwidth"] == 200
    assert counts.as_dict()["resident_id_15_to_18"] == 100
    assert counts.total == sum(counts.as_dict().values())


@pytest.mark.parametrize(
    "value,expected",
    [
        ("寮犱紵", "张伟"),
        ("鍗庢櫤", "华智"),
        ("闄堝爟", "陈堃"),
        ("椤哄痉澶ц壇琛楅亾", "顺德大良街道"),
    ],
)
def test_mojibake_gbk_repairs_utf8_read_as_gbk(value, expected):
    assert mojibake_gbk(value) == (expected, True)


@pytest.mark.parametrize("value", ["张伟", "濮存宝", "欧思", "李?", "寮犱\ufffd", "", "abc", None, 3])
def test_mojibake_gbk_leaves_text_and_lost_bytes_alone(value):
    assert mojibake_gbk(value) == (value, False)


def test_coordinate_normalisers():
    lon, lat = 113.25, 22.84
    gcj = geo.wgs84_to_gcj02(lon, lat)
    (new_lon, new_lat), repaired = NORMALISERS["gcj02_to_wgs84"].row(gcj)
    assert repaired and geo.distance_m(lon, lat, new_lon, new_lat) < 1.0
    assert NORMALISERS["gcj02_to_wgs84"].row((None, 22.8)) == ((None, 22.8), False)
    assert NORMALISERS["gcj02_to_wgs84"].row((2.35, 48.85)) == ((2.35, 48.85), False)
    lons, lats = np.array([gcj[0], np.nan, 2.35]), np.array([gcj[1], 22.8, 48.85])
    (new_lons, new_lats), count = NORMALISERS["gcj02_to_wgs84"].vectorised((lons, lats))
    assert count == 1 and geo.distance_m(lon, lat, new_lons[0], new_lats[0]) < 1.0
    bd = geo.gcj02_to_bd09(*gcj)
    (bd_lon, bd_lat), repaired = NORMALISERS["bd09_to_wgs84"].row(bd)
    assert repaired and geo.distance_m(lon, lat, bd_lon, bd_lat) < 1.0
    (_, _), count = NORMALISERS["bd09_to_wgs84"].vectorised(([bd[0]], [bd[1]]))
    assert count == 1


def test_repair_counts():
    counts = RepairCounts()
    assert counts.apply_row("resident_id_upper_x", "11010519491231002x") == "11010519491231002X"
    assert counts.apply_row("resident_id_upper_x", "11010519491231002X") == "11010519491231002X"
    counts.apply("date_iso", ["2023/1/5", "2023-01-05"])
    merged = counts + RepairCounts()
    merged.add("halfwidth", 3)
    assert merged.as_dict() == {"date_iso": 1, "halfwidth": 3, "resident_id_upper_x": 1}
    assert counts.as_dict() == {"date_iso": 1, "resident_id_upper_x": 1}
    with pytest.raises(QualityError, match="unknown normaliser 'nfkc'"):
        counts.add("nfkc")
    assert get_normaliser("halfwidth") is NORMALISERS["halfwidth"]
    for name, normaliser in NORMALISERS.items():
        assert normaliser.name == name and normaliser.description


def test_nothing_to_repair_returns_the_input():
    values = pa.array(["2023-01-05", None])
    assert NORMALISERS["date_iso"].vectorised(values) == (values, 0)
    assert NORMALISERS["halfwidth"].vectorised([]) == ([], 0)
    numbers = pa.array([1, 2])
    assert NORMALISERS["halfwidth"].vectorised(numbers) == (numbers, 0)
