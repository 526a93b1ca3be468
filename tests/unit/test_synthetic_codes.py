"""Generated identifiers and text: valid by the quality package's own rules, and each broken form
broken the way its defect name says."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest

from catalog.reference import SHUNDE_TOWNS, CodeError, make_resident_id, resident_id_check_char
from quality.normalise import resident_id_upper_x
from quality.rules import (
    is_valid_camera_id,
    is_valid_mobile,
    is_valid_parcel_code,
    is_valid_resident_id,
    is_valid_uscc,
)
from synthetic import codes, texts
from synthetic.generic import broken_id, mixed_format
from synthetic.values import from_regex, point_near_town

# Every test runs with an isolated HUB_VAR_DIR (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hub_env")

TODAY = date(2026, 11, 20)


def test_standard_test_vectors():
    assert codes.id_check("11010519491231002") == "X"
    assert codes.uscc_check("91440300708461136") == "T"


def test_resident_ids_are_the_reference_makers_and_bad_input_is_refused_alike():
    rng = random.Random(5)
    for _ in range(5_000):
        area = rng.choice(("440606", "440681", "440623", "430521", "110105"))
        birth = date(rng.randrange(1900, 2027), rng.randrange(1, 13), rng.randrange(1, 29))
        sequence = rng.randrange(1000)
        made = codes.resident_id(area, birth, sequence)
        assert made == make_resident_id(area, birth, sequence)
        assert codes.id_check(made[:17]) == resident_id_check_char(made[:17])
    for area, sequence in (("44060", 1000), ("4406O6", 1), ("440606", -1), ("４４０６０６", 1)):
        with pytest.raises(CodeError):
            codes.resident_id(area, date(1990, 1, 1), sequence)
    with pytest.raises(CodeError):
        codes.id_check("1101051949123100")


def test_valid_codes_pass_the_quality_rules():
    rng = random.Random(3)
    for _ in range(300):
        assert is_valid_resident_id(codes.resident_id("440606", date(1980, 2, 29), rng.randrange(1000)), TODAY)
        assert is_valid_uscc(codes.uscc(rng.choice(("91", "92", "93")), "440606", rng))
        assert is_valid_mobile(codes.mobile(rng))
        assert is_valid_camera_id(
            codes.camera_id(
                rng.choice(codes.CAMERA_INDUSTRIES),
                rng.choice(codes.CAMERA_TYPES),
                rng.choice(codes.CAMERA_NETWORKS),
                rng.randrange(10**6),
            )
        )
        assert is_valid_parcel_code(
            codes.parcel_code(rng.choice(tuple(SHUNDE_TOWNS)), rng.randrange(1, 999), "GB", rng.randrange(10**5))
        )


@pytest.mark.parametrize("defect", ["id_bad_check", "id_lowercase_x", "id_legacy_15", "id_impossible_date"])
def test_broken_ids_fail_strict_validation(defect):
    rng = random.Random(defect)
    for _ in range(100):
        good = codes.resident_id(
            "430582", date(1970 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28)), rng.randrange(1000)
        )
        bad = broken_id(good, defect, rng, TODAY)
        assert not is_valid_resident_id(bad, TODAY)
        if defect == "id_lowercase_x":
            repaired, changed = resident_id_upper_x(bad)
            assert changed and is_valid_resident_id(repaired, TODAY)  # the stated repair fixes it
        if defect == "id_legacy_15":
            assert len(bad) == 15 and bad.isdigit()
        if defect == "id_bad_check":
            assert bad[:17] == good[:17]


def test_broken_uscc_phone_and_camera_ids_fail():
    rng = random.Random(9)
    for _ in range(100):
        good = codes.uscc("91", "440606", rng)
        assert not is_valid_uscc(codes.uscc_wrong_check(good))
        assert not is_valid_uscc(codes.old_registration_number("440681", rng))
        assert not is_valid_mobile(codes.invalid_phone(rng))
        camera = codes.camera_id("00", "132", "5", rng.randrange(10**6))
        assert len(codes.malformed_camera_id(camera, rng)) in (19, 21)


def test_mixed_date_formats():
    rng = random.Random(1)
    seen = {mixed_format("2023-01-05", rng) for _ in range(60)}
    assert seen == {"2023/1/5", "20230105", "2023年1月5日"}


def test_names_and_text_damage():
    rng = random.Random(4)
    names = [texts.person_name(rng, rare_rate=0.5) for _ in range(400)]
    assert all(2 <= len(name) <= 5 for name in names)
    assert any(char in name for name in names for char in texts.RARE_CHARS)
    assert texts.mojibake("张伟") != "张伟"
    assert "?" in texts.mojibake("陈𰻝")  # a character GB 2312 cannot hold becomes "?"
    assert texts.fullwidth("A12") == "Ａ１２"


def test_regex_values_match_their_regex():
    rng = random.Random(5)
    for pattern in (
        r"^\d{12}$",
        r"^[0-9A-Z]{8,16}$",
        r"^(0[1-9]|[1-4]\d|5[0-6]|9[78])$",
        r"^440606\d{0,6}$",
        r"^JY\d{14}$",
    ):
        for _ in range(50):
            assert re.fullmatch(pattern, from_regex(pattern, rng))


def test_points_stay_in_shunde():
    rng = random.Random(6)
    for town9 in SHUNDE_TOWNS:
        for _ in range(200):
            lon, lat = point_near_town(rng, town9)
            assert 112.95 <= lon <= 113.42 and 22.63 <= lat <= 23.06
