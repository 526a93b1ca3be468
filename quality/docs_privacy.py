"""Validation results without personal data, before Great Expectations stores and renders them.

GX keeps samples of unexpected values (unexpected_list, partial_unexpected_counts, …) in each
result and prints them in the Data Docs. For an expectation on a PII item (the catalogue's `pii`
kinds) every sample is replaced by MASK, keeping only counts; in every other sample, text shaped
like a resident ID or a mobile number (a value in the wrong column, say) is starred out too.
Row indexes stay: they name rows, not people.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

MASK = "[已脱敏]"
# Shapes of personal numbers anywhere in a sample: 18- and 15-digit resident IDs, mainland mobiles.
PERSONAL_SHAPES = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15}|1[3-9][0-9]{9})(?![0-9Xx])")
VALUE_KEYS = (
    "unexpected_list",
    "partial_unexpected_list",
    "unexpected_rows",
    "observed_value",
    "details",
    "partial_unexpected_counts",
    "unexpected_index_list",
    "partial_unexpected_index_list",
    "unexpected_index_query",
)


def scrub_text(text: str) -> str:
    """`text` with every ID- or mobile-shaped number starred out (same length)."""
    return PERSONAL_SHAPES.sub(lambda match: "*" * len(match.group()), text)


def scrub(value: Any) -> Any:
    """Any JSON-like value with personal-shaped numbers starred out, recursively."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and PERSONAL_SHAPES.fullmatch(str(value)):
        return MASK  # an ID read as a number
    return value


def redacted(results, pii_columns: Mapping[str, str]):
    """A copy of an ExpectationSuiteValidationResult fit to store: PII samples masked, shapes scrubbed."""
    safe = copy.deepcopy(results)
    for result in safe.results:
        kwargs = result.expectation_config.kwargs if result.expectation_config else {}
        columns = [kwargs.get("column"), *(kwargs.get("column_list") or [])]
        personal = {column for column in columns if column in pii_columns}
        result.result = _safe_result(dict(result.result or {}), personal)
        if result.exception_info:
            result.exception_info = scrub(dict(result.exception_info))
    return safe


def _safe_result(result: dict, personal: set[str]) -> dict:
    if not personal:
        return {key: scrub(value) if key in VALUE_KEYS else value for key, value in result.items()}
    for key in ("unexpected_list", "partial_unexpected_list"):
        if key in result:
            result[key] = [_masked(value, personal) for value in result[key] or []]
    if "partial_unexpected_counts" in result:
        counts = result["partial_unexpected_counts"] or []
        result["partial_unexpected_counts"] = [{"value": MASK, "count": sum(c.get("count", 0) for c in counts)}]
    for key in ("unexpected_index_list", "partial_unexpected_index_list"):
        if key in result:  # plain row numbers stay; entries carrying column values are masked
            result[key] = [
                _masked(value, personal) if isinstance(value, Mapping) else value for value in result[key] or []
            ]
    for key in ("unexpected_rows", "details", "unexpected_index_query"):
        result.pop(key, None)
    if "observed_value" in result and not isinstance(result["observed_value"], (int, float)):
        result["observed_value"] = MASK
    return {key: scrub(value) if key in VALUE_KEYS else value for key, value in result.items()}


def _masked(value: Any, personal: set[str]) -> Any:
    if isinstance(value, Mapping):  # a multicolumn sample: {column: value}
        return {key: MASK if key in personal else scrub(item) for key, item in value.items()}
    return MASK
