"""Resident ID (GB 11643) and USCC (GB 32100) rules: vectors, generated codes, every single-character
mutation, adversarial inputs, vectorised == row-wise, and the division codes behind them."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from catalog import reference as divisions
from catalog.reference import (
    RESIDENT_ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    CodeError,
    make_resident_id,
    make_uscc,
    resident_id_check_char,
    uscc_check_char,
)
from quality.rules import is_valid_resident_id, is_valid_uscc, resident_id_mask, uscc_mask

DIVISIONS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "divisions"
TODAY = date(2025, 6, 30)
ID_VECTOR = "11010519491231002X"
USCC_VECTOR = "91440300708461136T"
# Replacement characters for mutations: every ASCII digit and letter either case, plus traps.
MUTATIONS = [
    *"0123456789",
    *"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    *"abcdefghijklmnopqrstuvwxyz",
    " ",
    "-",
    "０",
    "Ｘ",
    "١",
    "\u00a0",
    "\n",
]


def random_id(rng: random.Random, address_codes: list[str]) -> str:
    birth = date(1900, 1, 1) + timedelta(days=rng.randrange((TODAY - date(1900, 1, 1)).days + 1))
    return make_resident_id(rng.choice(address_codes), birth, rng.randrange(1000))


def random_uscc(rng: random.Random) -> str:
    prefix = rng.choice(["11", "12", "13", "51", "52", "53", "91", "92", "93"])
    area = rng.choice(["440606", "440300", "430582", "110105"])
    return make_uscc(prefix, area, "".join(rng.choice(USCC_ALPHABET) for _ in range(9)))


ADDRESS_CODES = [*divisions.SHUNDE_ID_ADDRESS_CODES, *divisions.MIGRANT_ORIGIN_COUNTY_CODES]


# ---- resident ID ------------------------------------------------------------------------------


def test_weights_are_the_published_ones():
    assert RESIDENT_ID_WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_resident_id_vector():
    assert resident_id_check_char(ID_VECTOR[:17]) == "X"
    assert is_valid_resident_id(ID_VECTOR)
    assert resident_id_mask([ID_VECTOR]).tolist() == [True]


def test_make_resident_id_round_trip():
    assert make_resident_id("110105", date(1949, 12, 31), 2) == ID_VECTOR


def test_generated_ids_pass():
    rng = random.Random(11643)
    generated = [random_id(rng, ADDRESS_CODES) for _ in range(2000)]
    assert all(is_valid_resident_id(value, today=TODAY) for value in generated)
    assert resident_id_mask(generated, today=TODAY).all()


@pytest.mark.parametrize("seed", range(5))
def test_every_single_character_mutation_of_an_id_fails(seed):
    valid = random_id(random.Random(seed), ADDRESS_CODES) if seed else ID_VECTOR
    mutants = [valid[:i] + c + valid[i + 1 :] for i in range(18) for c in MUTATIONS if c != valid[i]]
    failures = [m for m in mutants if is_valid_resident_id(m, today=TODAY)]
    assert failures == []
    assert not resident_id_mask(mutants, today=TODAY).any()


ADVERSARIAL = [
    None,
    0,
    11010519491231002,
    1.5,
    float("nan"),
    b"11010519491231002X",
    bytearray(b"1"),
    "",
    " ",
    "11010519491231002",
    "11010519491231002XX",
    "110105194912310021X",
    "11010519491231002x",
    " 11010519491231002X",
    "11010519491231002X ",
    "110105 19491231002X",
    "11010519491231002X\n",
    "１１０１０５１９４９１２３１００２Ｘ",
    "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",
    "110105491231002",
    "11010519491231002Ｘ",
    ["11010519491231002X"],
    date(1949, 12, 31),
    pd.NA,
]


@pytest.mark.parametrize("value", ADVERSARIAL, ids=repr)
def test_adversarial_inputs_fail_without_raising(value):
    assert is_valid_resident_id(value) is False
    assert is_valid_uscc(value) is False


def test_adversarial_inputs_vectorised():
    assert not resident_id_mask(pd.Series(ADVERSARIAL, dtype=object)).any()
    assert not uscc_mask(pd.Series(ADVERSARIAL, dtype=object)).any()


def test_leap_days_and_calendar():
    assert not is_valid_resident_id(make_id_unchecked("440606", "19000229"))  # 1900 is not a leap year
    assert is_valid_resident_id(make_id_unchecked("440606", "20000229"))
    assert is_valid_resident_id(make_id_unchecked("440606", "19960229"))
    for impossible in ("19990229", "19991301", "19990001", "19990431", "19990100", "19990132"):
        assert not is_valid_resident_id(make_id_unchecked("440606", impossible)), impossible
    values = [make_id_unchecked("440606", d) for d in ("19000229", "20000229", "19990431")]
    assert resident_id_mask(values).tolist() == [False, True, False]


def make_id_unchecked(address: str, yyyymmdd: str, seq: str = "123") -> str:
    """An ID with a correct check character over whatever date digits are given."""
    first17 = address + yyyymmdd + seq
    return first17 + resident_id_check_char(first17)


def test_birth_date_bounds():
    assert is_valid_resident_id(make_id_unchecked("440606", "19000101"))
    assert not is_valid_resident_id(make_id_unchecked("440606", "18991231"))
    born_today = make_id_unchecked("440606", TODAY.strftime("%Y%m%d"))
    born_tomorrow = make_id_unchecked("440606", (TODAY + timedelta(days=1)).strftime("%Y%m%d"))
    assert is_valid_resident_id(born_today, today=TODAY)
    assert not is_valid_resident_id(born_tomorrow, today=TODAY)
    assert resident_id_mask([born_today, born_tomorrow], today=TODAY).tolist() == [True, False]
    assert not is_valid_resident_id(make_id_unchecked("440606", "20990101"))  # default today


@pytest.mark.parametrize(
    "province",
    ["00", "10", "16", "20", "24", "30", "38", "40", "47", "49", "55", "60", "66", "70", "72", "80", "83", "99"],
)
def test_non_province_codes_fail(province):
    value = make_id_unchecked(province + "0101", "19800101")
    assert not is_valid_resident_id(value)
    assert not resident_id_mask([value]).any()


@pytest.mark.parametrize(
    "province", ["11", "15", "21", "23", "31", "37", "41", "46", "50", "54", "61", "65", "71", "81", "82"]
)
def test_province_codes_pass(province):
    assert is_valid_resident_id(make_id_unchecked(province + "0101", "19800101"))


def test_check_char_helpers_reject_bad_input():
    for bad in (
        "1101051949123100",
        "110105194912310021",
        "1101051949123100x",
        "１１０１０５１９４９１２３１００２",
        None,
    ):
        with pytest.raises(CodeError):
            resident_id_check_char(bad)
    with pytest.raises(CodeError):
        make_resident_id("11010", date(1980, 1, 1), 1)
    with pytest.raises(CodeError):
        make_resident_id("110105", date(1980, 1, 1), 1000)
    with pytest.raises(CodeError):
        uscc_check_char("9144030070846113I")
    with pytest.raises(CodeError):
        make_uscc("91", "4403OO", "708461136")


# ---- USCC -------------------------------------------------------------------------------------


def test_uscc_vector():
    assert uscc_check_char(USCC_VECTOR[:17]) == "T"
    assert is_valid_uscc(USCC_VECTOR)
    assert make_uscc("91", "440300", "708461136") == USCC_VECTOR
    assert uscc_mask(pa.array([USCC_VECTOR])).tolist() == [True]


def test_uscc_check_value_31_becomes_0():
    rng = random.Random(32100)
    zero_checks = [u for u in (random_uscc(rng) for _ in range(3000)) if u.endswith("0")]
    assert zero_checks, "some generated codes have check value 0"
    assert all(is_valid_uscc(u) for u in zero_checks)


def test_generated_usccs_pass():
    rng = random.Random(2015)
    generated = [random_uscc(rng) for _ in range(2000)]
    assert all(is_valid_uscc(u) for u in generated)
    assert uscc_mask(generated).all()


@pytest.mark.parametrize("seed", range(5))
def test_every_single_character_mutation_of_a_uscc_fails(seed):
    valid = random_uscc(random.Random(seed)) if seed else USCC_VECTOR
    mutants = [valid[:i] + c + valid[i + 1 :] for i in range(18) for c in MUTATIONS if c != valid[i]]
    assert [m for m in mutants if is_valid_uscc(m)] == []
    assert not uscc_mask(mutants).any()


@pytest.mark.parametrize(
    "value",
    [
        "91440300708461136t",
        "9144030070846113IT",
        "91440300708461136",
        "91440300708461136TT",
        "440300708461136",
        "914403007084611360",
        "９１440300708461136T",
    ],
)
def test_bad_usccs_fail(value):
    assert not is_valid_uscc(value)
    assert not uscc_mask([value]).any()


# ---- vectorised == row-wise -------------------------------------------------------------------


def mixed_id_sample(size: int = 12_000) -> list:
    """Valid, mutated, lowercased, legacy, padded and non-string values, shuffled."""
    rng = random.Random(20240101)
    sample: list = []
    while len(sample) < size:
        valid_id, valid_uscc = random_id(rng, ADDRESS_CODES), random_uscc(rng)
        i = rng.randrange(18)
        sample += [
            valid_id,
            valid_uscc,
            valid_id[:i] + rng.choice(MUTATIONS) + valid_id[i + 1 :],
            valid_uscc[:i] + rng.choice(MUTATIONS) + valid_uscc[i + 1 :],
            valid_id[:17] + "x",
            valid_id[:6] + valid_id[8:17],
            valid_uscc.lower(),
            " " + valid_id,
            make_id_unchecked(
                rng.choice(["440606", "990101", "000000"]),
                f"{rng.randrange(1890, 2030)}{rng.randrange(0, 14):02d}{rng.randrange(0, 33):02d}",
            ),
            rng.choice(ADVERSARIAL),
        ]
    rng.shuffle(sample)
    return sample[:size]


@pytest.mark.parametrize("shape", ["list", "object_series", "arrow"])
def test_vectorised_equals_row_wise(shape):
    sample = mixed_id_sample()
    if shape == "list":
        values = sample
    elif shape == "object_series":
        values = pd.Series(sample, dtype=object)
    else:  # arrow arrays hold only strings: the others become nulls, which fail either way
        sample = [v if isinstance(v, str) else None for v in sample]
        values = pa.chunked_array(
            [pa.array(sample[:5000], pa.large_string()), pa.array(sample[5000:], pa.large_string())]
        )
    expected_ids = np.array([is_valid_resident_id(v, today=TODAY) for v in sample])
    expected_usccs = np.array([is_valid_uscc(v) for v in sample])
    assert 1000 < expected_ids.sum() < len(sample) - 1000
    assert (resident_id_mask(values, today=TODAY) == expected_ids).all()
    assert (uscc_mask(values) == expected_usccs).all()


def test_string_dtype_series_and_empty_input():
    values = pd.Series([ID_VECTOR, None, "x"], dtype="str")
    assert resident_id_mask(values).tolist() == [True, False, False]
    assert resident_id_mask([]).shape == (0,)
    assert uscc_mask(pa.array([], pa.string())).shape == (0,)
    sliced = pa.array(["junk", ID_VECTOR, "x", ID_VECTOR])[1:]
    assert resident_id_mask(sliced).tolist() == [True, False, True]


# ---- division codes against the national list ------------------------------------------------


def read_codes(name: str) -> set[str]:
    path = DIVISIONS_DIR / name
    if not path.exists():
        pytest.skip(f"reference division list {path} is absent")
    with path.open(encoding="utf-8") as handle:
        return {row["code"] for row in csv.DictReader(handle)}


def test_division_codes_are_real_counties():
    areas = read_codes("areas.csv")
    assert set(divisions.SHUNDE_CURRENT_COUNTY_CODES) <= areas
    assert set(divisions.MIGRANT_ORIGIN_COUNTY_CODES) <= areas
    assert len(divisions.MIGRANT_ORIGIN_COUNTY_CODES) >= 40
    # Retired Shunde codes are gone from the current list, but their city (Foshan, 4406) is not.
    assert not set(divisions.SHUNDE_RETIRED_COUNTY_CODES) & areas
    assert {code[:4] for code in divisions.SHUNDE_RETIRED_COUNTY_CODES} <= read_codes("cities.csv")


def test_province_codes_cover_the_national_list():
    provinces = {int(code) for code in read_codes("provinces.csv")}
    assert provinces <= divisions.PROVINCE_CODES
    assert divisions.PROVINCE_CODES - provinces == {71, 81, 82}  # Taiwan, Hong Kong, Macao


def test_shunde_towns_match_the_national_list():
    streets = read_codes("streets-foshan.csv")
    assert {code for code in streets if code.startswith("440606")} == set(divisions.SHUNDE_TOWNS)
    assert set(divisions.SHUNDE_TOWN_CENTRES) == set(divisions.SHUNDE_TOWNS)


def test_generated_ids_start_with_real_county_codes():
    areas = read_codes("areas.csv")
    rng = random.Random(2260)
    for _ in range(500):
        value = random_id(rng, ADDRESS_CODES)
        assert value[:6] in areas or value[:6] in divisions.SHUNDE_RETIRED_COUNTY_CODES
        assert is_valid_resident_id(value, today=TODAY)
