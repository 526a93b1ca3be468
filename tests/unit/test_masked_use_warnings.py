"""Which statements get a warning about masked columns (the parse-tree walk alone, no warehouse)."""

from __future__ import annotations

import pytest

from warehouse.access.caveats import masked_use_warnings

MASKS = {
    ("staging", "household_population"): {"gmsfhm": "id_number", "xm": "name"},
    ("staging", "subsistence_allowance"): {},  # the role's own resource: clear
    ("staging", "migrant_registration"): {"gmsfhm": "id_number"},
}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ssjz, count(*) FROM staging.subsistence_allowance GROUP BY ssjz", []),
        ("SELECT gmsfhm FROM staging.household_population LIMIT 5", []),  # looking is not counting
        ("SELECT count(DISTINCT gmsfhm) FROM staging.household_population", ["注意：gmsfhm"]),
        ("SELECT xm, count(*) FROM staging.household_population GROUP BY ALL", ["警告：xm"]),
        ("SELECT DISTINCT xm FROM household_population", ["警告：xm"]),
        (
            "SELECT count(*) FROM staging.household_population h JOIN staging.migrant_registration m "
            "ON h.gmsfhm = m.gmsfhm",
            ["注意：gmsfhm"],
        ),
        (
            "SELECT count(*) FROM staging.subsistence_allowance d JOIN staging.household_population h "
            "ON d.gmsfhm = h.gmsfhm",
            ["警告：关联条件 h.gmsfhm = d.gmsfhm"],
        ),
        (
            "SELECT count(*) FROM staging.subsistence_allowance JOIN staging.household_population USING (gmsfhm)",
            ["注意：gmsfhm"],
        ),
    ],
)
def test_warnings_name_the_masked_column_and_how_it_was_used(sql, expected):
    warnings = masked_use_warnings(sql, MASKS)
    assert [w[: len(e)] for w, e in zip(warnings, expected)] == expected and len(warnings) == len(expected), warnings


def test_no_masks_no_warnings():
    assert masked_use_warnings("SELECT count(DISTINCT gmsfhm) FROM staging.x", {("staging", "x"): {}}) == []
