"""PII masks as DuckDB SQL expressions, one per PII kind (the catalogue item's `pii`).

ID numbers 440606********123X, names 张*, phone numbers 138****1234, addresses keep their first six
characters (district and town), credit codes of natural persons keep the first 8 and last 4.
Masks run inside DuckDB so a masked view never hands a clear value to the analyst's query.
The Python twins (`mask_value`) state the same rules for tests and for other callers.
"""
from __future__ import annotations

from collections.abc import Callable


MaskSql = Callable[[str], str]


def ident(name: str) -> str:
    """A quoted SQL identifier (same rule as warehouse.store.ident; kept here so masking stays import-light)."""
    return '"' + name.replace('"', '""') + '"'


def _keep(head: int, tail: int) -> MaskSql:
    # Short values are fully starred: keeping head+tail of them would show everything.
    def mask(col: str) -> str:
        return (f"CASE WHEN {col} IS NULL THEN NULL WHEN length({col}) <= {head + tail} "
                f"THEN repeat('*', length({col})) "
                f"ELSE left({col}, {head}) || repeat('*', length({col}) - {head + tail}) || right({col}, {tail}) END")
    return mask


def _name(col: str) -> str:
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE left({col}, 1) || repeat('*', greatest(length({col}) - 1, 1)) END"


def _address(col: str) -> str:
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE left({col}, 6) || '****' END"


MASKS: dict[str, MaskSql] = {
    "id_number": _keep(6, 4),
    "phone": _keep(3, 4),
    "name": _name,
    "address": _address,
    "credit_code_person": _keep(8, 4),
}


def mask_expression(column: str, kind: str) -> str:
    """`<mask of column> AS column`; an unknown kind hides the value entirely (safe default)."""
    quoted = ident(column)
    source = f"CAST({quoted} AS VARCHAR)"
    build = MASKS.get(kind)
    masked = build(source) if build else "NULL::VARCHAR"
    return f"{masked} AS {quoted}"


def mask_value(value: str | None, kind: str) -> str | None:
    """The mask of one value, as the SQL mask computes it."""
    if value is None:
        return None
    if kind == "name":
        return value[:1] + "*" * max(len(value) - 1, 1)
    if kind == "address":
        return value[:6] + "****"
    head, tail = {"id_number": (6, 4), "phone": (3, 4), "credit_code_person": (8, 4)}.get(kind, (0, 0))
    if kind not in ("id_number", "phone", "credit_code_person"):
        return None
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]
