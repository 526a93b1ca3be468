"""A resource's checks, derived from its catalogue entry, and their vectorised evaluation.

`plan_checks(resource)` turns the information items (nullability, lengths, value sets, regexes,
ranges, validators, keys, PII kinds) and the resource-level `checks:` of the catalogue entry into
`Check`s. The same plan feeds both evaluators: `evaluate()` here (numpy/Arrow masks, the fast path)
and the Great Expectations suite (quality.suites), which must agree with it row for row.

A check names its failing rows; nulls pass every value check except `not_null`/`present`
(nullability is its own check). Row-set checks (meters, households, geometry) come from the
`ROW_CHECKS` registry and may look at `history`: earlier staged rows of the same groups.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.checks import ROW_CHECK_ROLES
from quality.errors import QualityError
from quality.rules import RULES, SEVERITIES, get_rule

#: Extra rules a validator brings along (a date that is not in the future may still be a sentinel).
VALIDATOR_COMPANIONS: dict[str, tuple[str, ...]] = {"not_future_date": ("not_sentinel_date",)}
#: Normalisers the gate runs on an item's values before checking, by the item's validator.
VALIDATOR_REPAIRS: dict[str, tuple[str, ...]] = {
    "resident_id": ("halfwidth", "resident_id_upper_x", "resident_id_15_to_18"),
    "uscc": ("halfwidth",),
    "mobile": ("halfwidth",),
    "camera_id": ("halfwidth",),
    "parcel_code": ("halfwidth",),
    "town_code": ("halfwidth",),
}
FREE_TEXT_RULE = "text_intact"  # free-text items (no regex, value set or validator) are checked for damage
#: The checks an item's catalogue entry implies, each named "<item>.<kind>"; an item's domain rules
#: (kind "rule") are named "<item>.<rule name>". Reports word every kind (catalog/rule_wording.py):
#: a kind not listed here is refused when a check is made, so it cannot reach them unworded.
ITEM_CHECK_KINDS = ("not_null", "present", "max_length", "in_set", "regex", "between")
KEY_CHECK = "key.unique"  # one row per key in a load


@dataclass(frozen=True)
class Check:
    """One expectation of a resource's suite: `name` is what quarantine rows and events show."""

    name: str
    kind: str  # not_null | present | max_length | in_set | regex | between | rule | unique_key | a ROW_CHECKS name
    severity: str  # critical | warning
    columns: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in (*ITEM_CHECK_KINDS, "rule", "unique_key", *ROW_CHECKS):
            raise QualityError(
                f"check {self.name}: kind {self.kind!r} is not in quality.plan.ITEM_CHECK_KINDS or ROW_CHECKS; "
                "declare it there (and word it in catalog/rule_wording.py)"
            )


@dataclass(frozen=True)
class RowCheck:
    """A check over rows together (per meter, per household, per geometry): `mask(table, columns,
    params, history)` → numpy bool array, True where a row of `table` fails. `columns` maps the
    check's roles (e.g. meter, time, value, event) to the resource's items; `group` is the role whose
    earlier staged rows the gate passes as `history` (an Arrow table of the same columns, or None)."""

    name: str
    roles: tuple[str, ...]
    mask: Callable[[pa.Table, Mapping[str, str], Mapping[str, Any], pa.Table | None], np.ndarray]
    severity: str
    description: str
    group: str | None = None


#: The registry of row-set checks a catalogue entry may declare under `checks:`.
ROW_CHECKS: dict[str, RowCheck] = {}


def register_row_check(check: RowCheck) -> RowCheck:
    if check.severity not in SEVERITIES:
        raise QualityError(f"row check {check.name!r}: severity must be one of {SEVERITIES}")
    declared = ROW_CHECK_ROLES.get(check.name)
    if declared != check.roles:
        raise QualityError(
            f"row check {check.name!r} with roles {check.roles} is not in the catalogue's vocabulary "
            f"(catalog/checks.py declares {declared or 'no such check'}); declare it there first"
        )
    ROW_CHECKS[check.name] = check
    return check


@dataclass(frozen=True)
class Repair:
    """Normalisers the gate runs over one column before checking it."""

    column: str
    normalisers: tuple[str, ...]


# --- the plan -------------------------------------------------------------------------------------


def plan_checks(resource) -> list[Check]:
    """Every check of `resource` (a catalogue entry: seed model or ORM row), in a stable order."""
    checks: list[Check] = []
    for item in resource.items:
        checks.extend(_item_checks(item))
    keys = tuple(item.name for item in resource.items if item.key)
    if keys:
        checks.append(
            Check(
                KEY_CHECK,
                "unique_key",
                "warning",
                keys,
                {},
                f"one row per key ({', '.join(keys)}) in a load; staging keeps the latest",
            )
        )
    for declared in getattr(resource, "checks", None) or ():
        checks.append(_row_check(resource, declared))
    return checks


def plan_repairs(resource) -> list[Repair]:
    """The normalisers the gate applies before checking, column by column."""
    repairs = []
    for item in resource.items:
        validator = _rules(item).get("validator")
        if validator in VALIDATOR_REPAIRS:
            repairs.append(Repair(item.name, VALIDATOR_REPAIRS[validator]))
    return repairs


def _rules(item) -> dict:
    rules = item.rules
    if rules is None:
        return {}
    data = rules if isinstance(rules, Mapping) else rules.model_dump()
    return {k: v for k, v in data.items() if v is not None}


def _item_checks(item) -> list[Check]:
    name, rules = item.name, _rules(item)
    checks = []
    if not item.nullable:
        checks.append(Check(f"{name}.not_null", "not_null", "critical", (name,), {}, f"{item.label} is required"))
    if item.pii == "phone":
        checks.append(Check(f"{name}.present", "present", "warning", (name,), {}, f"{item.label} is missing"))
    if item.type == "C" and item.length:
        checks.append(
            Check(
                f"{name}.max_length",
                "max_length",
                "critical",
                (name,),
                {"max": item.length},
                f"{item.label} at most {item.length} characters",
            )
        )
    if "values" in rules:
        checks.append(
            Check(
                f"{name}.in_set",
                "in_set",
                "critical",
                (name,),
                {"values": list(rules["values"])},
                f"{item.label} one of {', '.join(map(str, rules['values']))}",
            )
        )
    if "regex" in rules:
        checks.append(
            Check(
                f"{name}.regex",
                "regex",
                "critical",
                (name,),
                {"pattern": rules["regex"]},
                f"{item.label} matches {rules['regex']}",
            )
        )
    if "min" in rules or "max" in rules:
        bounds = {k: rules[k] for k in ("min", "max") if k in rules}
        checks.append(
            Check(
                f"{name}.between",
                "between",
                "critical",
                (name,),
                bounds,
                f"{item.label} within {bounds.get('min', '-∞')}..{bounds.get('max', '∞')}",
            )
        )
    validator = rules.get("validator")
    rule_names = ((validator,) + VALIDATOR_COMPANIONS.get(validator, ())) if validator else ()
    if item.type == "D" and "not_sentinel_date" not in rule_names:
        rule_names += ("not_sentinel_date",)  # a placeholder for "unknown" is wrong in any date item
    for rule_name in rule_names:
        rule = get_rule(rule_name)
        checks.append(
            Check(
                f"{name}.{rule_name}",
                "rule",
                rule.severity,
                (name,),
                {"rule": rule_name},
                f"{item.label}: {rule.description}",
            )
        )
    if item.type == "C" and not ({"values", "regex", "validator"} & rules.keys()) and FREE_TEXT_RULE in RULES:
        rule = RULES[FREE_TEXT_RULE]
        checks.append(
            Check(
                f"{name}.{FREE_TEXT_RULE}",
                "rule",
                rule.severity,
                (name,),
                {"rule": FREE_TEXT_RULE},
                f"{item.label}: {rule.description}",
            )
        )
    return checks


def _row_check(resource, declared) -> Check:
    data = declared if isinstance(declared, Mapping) else declared.model_dump()
    kind = data["rule"]
    row_check = ROW_CHECKS.get(kind)
    if row_check is None:
        raise QualityError(
            f"resource {resource.id}: unknown check {kind!r} under checks:; "
            f"use one of {', '.join(sorted(ROW_CHECKS)) or '(none registered)'}"
        )
    columns = dict(data.get("columns") or {})
    missing = [role for role in row_check.roles if role not in columns]
    if missing:
        raise QualityError(f"resource {resource.id}: check {kind!r} needs columns for {', '.join(missing)}")
    severity = data.get("severity") or row_check.severity
    # The items' own rules ride along (e.g. a register's maximum reading, where it wraps to zero).
    item_rules = {item.name: _rules(item) for item in resource.items if item.name in columns.values()}
    return Check(
        kind,
        kind,
        severity,
        tuple(columns[role] for role in row_check.roles),
        {"roles": columns, "item_rules": item_rules, **(data.get("params") or {})},
        row_check.description,
    )


# --- vectorised evaluation ----------------------------------------------------------------------


def failing_mask(check: Check, table: pa.Table, history: pa.Table | None = None) -> np.ndarray:
    """True where a row of `table` fails `check` (the fast path; the GX suite must agree)."""
    if check.kind in ROW_CHECKS:
        return np.asarray(ROW_CHECKS[check.kind].mask(table, check.params["roles"], check.params, history), dtype=bool)
    if check.kind == "unique_key":
        return duplicate_key_mask(table, check.columns)
    column = table.column(check.columns[0])
    present = _present(column)
    if check.kind == "not_null":
        return ~present
    if check.kind == "present":
        return ~present | _empty_text(column)
    return present & ~_passing(check, column)


def _present(column: pa.ChunkedArray) -> np.ndarray:
    return pc.is_valid(column).to_numpy(zero_copy_only=False)


def _empty_text(column) -> np.ndarray:
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return np.zeros(len(column), dtype=bool)
    return pc.fill_null(pc.equal(pc.utf8_trim_whitespace(column), ""), False).to_numpy(zero_copy_only=False)


def _passing(check: Check, column: pa.ChunkedArray) -> np.ndarray:
    """Whether each present value passes (null positions are ignored by the caller)."""
    kind, params = check.kind, check.params
    if kind == "max_length":
        ok = pc.less_equal(pc.utf8_length(column), params["max"])
    elif kind == "in_set":
        ok = pc.is_in(pc.cast(column, pa.string()), value_set=pa.array([str(v) for v in params["values"]]))
    elif kind == "regex":
        ok = pc.match_substring_regex(column, params["pattern"])
    elif kind == "between":
        ok = _between(column, params)
    elif kind == "rule":
        return np.asarray(get_rule(params["rule"]).mask(column), dtype=bool)
    else:
        raise QualityError(f"check {check.name}: unknown kind {kind!r}")
    return pc.fill_null(ok, False).to_numpy(zero_copy_only=False)


def _between(column: pa.ChunkedArray, bounds: Mapping[str, Any]):
    values = pc.cast(column, pa.float64())
    ok = pc.is_valid(values)
    if "min" in bounds:
        ok = pc.and_(ok, pc.greater_equal(values, float(bounds["min"])))
    if "max" in bounds:
        ok = pc.and_(ok, pc.less_equal(values, float(bounds["max"])))
    return ok


def duplicate_key_mask(table: pa.Table, keys: Sequence[str]) -> np.ndarray:
    """True on every row whose key values occur more than once in `table` (all copies flagged).

    Each key column is dictionary-encoded and the codes of several columns folded into one dense
    code per row, so the count per key is a bincount: no hash join, no Python per row."""
    if table.num_rows == 0:
        return np.zeros(0, dtype=bool)
    combined = np.zeros(table.num_rows, dtype=np.int64)
    null_key = np.zeros(table.num_rows, dtype=bool)
    for key in keys:
        encoded = pc.dictionary_encode(table.column(key).combine_chunks())
        null_key |= encoded.is_null().to_numpy(zero_copy_only=False)
        codes = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        combined = combined * (len(encoded.dictionary) + 1) + codes
        if len(keys) > 1:  # fold into dense codes again, so the next column cannot overflow them
            combined = np.unique(combined, return_inverse=True)[1].astype(np.int64).reshape(-1)
    counts = np.bincount(combined[~null_key], minlength=int(combined.max()) + 1)
    # A null key joins nothing: not a duplicate here, the not_null check answers for it.
    return (counts[combined] > 1) & ~null_key


@dataclass
class Verdicts:
    """Which rows failed which checks: `masks[name]` is a bool array over the table's rows."""

    checks: list[Check]
    masks: dict[str, np.ndarray]
    rows: int

    def failed(self, severity: str) -> np.ndarray:
        """Rows failing at least one check of `severity`."""
        out = np.zeros(self.rows, dtype=bool)
        for check in self.checks:
            if check.severity == severity:
                out |= self.masks[check.name]
        return out

    def rule_names(self, rows: np.ndarray, severity: str | None = None) -> list[list[str]]:
        """For each selected row index, the names of the checks it failed (optionally of one severity)."""
        picked = [c for c in self.checks if severity is None or c.severity == severity]
        return [[c.name for c in picked if self.masks[c.name][row]] for row in rows]

    def counts(self) -> dict[str, int]:
        return {check.name: int(self.masks[check.name].sum()) for check in self.checks}


def evaluate(
    checks: Sequence[Check], table: pa.Table, history: Mapping[str, pa.Table | None] | None = None
) -> Verdicts:
    """Every check's failing rows over `table`; `history` maps a row check's name to its history."""
    history = history or {}
    masks = {check.name: failing_mask(check, table, history.get(check.name)) for check in checks}
    return Verdicts(list(checks), masks, table.num_rows)


from quality import rowchecks  # noqa: E402,F401  (registers the row-set checks in ROW_CHECKS)
