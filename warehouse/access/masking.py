"""What a masked view shows instead of personal data, decided per item from the catalogue.

Identifiers analysts join on (resident ID numbers, mobile numbers, credit codes) become keyed
pseudonyms: HMAC-SHA256 under the platform's secret, derived per role (warehouse.access.keys), so the
same number gives the same pseudonym in every resource a role reads (joins and count(DISTINCT) stay
right) and nothing of the number can be read back or rebuilt — a partial mask such as
440606********123X hid exactly the birth date, which other items showed in clear. Items that can be derived from an ID number (birth
date, sex, age: the catalogue item says `derived_from: <the ID item>`) are coarsened together
with it: birth date → year, age → ten-year band, sex → hidden. Names keep their first character,
addresses their first six (district and town). Masks run inside DuckDB, so a masked view never
hands a clear value to the analyst's query; `mask_value` is the Python twin for tests and callers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from array import array
from collections.abc import Callable, Iterable

MaskSql = Callable[[str], str]

# PII kinds whose values become pseudonyms, and the prefix that says which namespace a pseudonym is in.
PSEUDONYM_PREFIX = {"id_number": "pid", "phone": "tel", "credit_code": "org", "credit_code_person": "org"}
PSEUDONYM_FUNCTION = "hub_pseudonym"  # registered in the role database; not on the analyst allow-list
PSEUDONYM_HEX = 20  # 80 bits: collisions stay out of reach for any register of this district's size
# Validators that make an item an identifier whatever its pii flag says (catalog.lint refuses the flag).
VALIDATOR_KINDS = {"resident_id": "id_number", "mobile": "phone", "uscc": "credit_code"}
# What an item derived from an ID number shows when the ID is masked, by the item's type letter.
DERIVED_KINDS = {"D": "birth_date", "T": "birth_date", "I": "age", "N": "age", "F": "age", "B": "age"}


def ident(name: str) -> str:
    """A quoted SQL identifier (same rule as warehouse.store.ident; kept here so masking stays import-light)."""
    return '"' + name.replace('"', '""') + '"'


def normalise(value: str, kind: str) -> str:
    """The form a pseudonym is computed on, so 44…123x and 44…123X, +86 138… and 138… agree."""
    text = value.strip().upper()
    if kind == "phone":
        digits = re.sub(r"\D", "", text)
        return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits
    return text


def pseudonym(value: str | None, kind: str, key: bytes) -> str | None:
    """`pid_…`, `tel_…` or `org_…`: HMAC-SHA256(key, kind namespace + normalised value), 80 bits in hex."""
    if value is None:
        return None
    prefix = PSEUDONYM_PREFIX[kind]
    digest = hmac.new(key, f"{prefix}:{normalise(str(value), kind)}".encode(), hashlib.sha256).hexdigest()
    return f"{prefix}_{digest[:PSEUDONYM_HEX]}"


def pseudonym_udf(key: bytes) -> Callable:
    """The vectorised DuckDB function (kind, value) → pseudonym; the key stays in this closure."""
    import pyarrow as pa

    def apply(kinds, values):
        kind_list, value_list = kinds.to_pylist(), values.to_pylist()
        return _string_array(pa, [pseudonym(v, k, key) for k, v in zip(kind_list, value_list)])

    return apply


def _string_array(pa, values: list[str | None]):
    """A pyarrow string array built from its buffers: pa.array() would import pandas (~1 s per query)."""
    data, offsets, validity = bytearray(), array("i", [0]), bytearray((len(values) + 7) // 8)
    for index, value in enumerate(values):
        if value is not None:
            data += value.encode()
            validity[index // 8] |= 1 << (index % 8)
        offsets.append(len(data))
    return pa.StringArray.from_buffers(
        len(values),
        pa.py_buffer(offsets.tobytes()),
        pa.py_buffer(bytes(data)),
        pa.py_buffer(bytes(validity)),
        values.count(None),
    )


def _pseudonym(kind: str) -> MaskSql:
    return lambda col: f"{PSEUDONYM_FUNCTION}('{kind}', {col})"


def _name(col: str) -> str:
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE left({col}, 1) || repeat('*', greatest(length({col}) - 1, 1)) END"


def _address(col: str) -> str:
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE left({col}, 6) || '****' END"


def _birth_year(col: str) -> str:
    return f"CAST(year(TRY_CAST({col} AS DATE)) AS VARCHAR)"


def _age_band(col: str) -> str:
    return (
        f"CASE WHEN TRY_CAST({col} AS DOUBLE) IS NULL THEN NULL ELSE "
        f"printf('%d-%d', CAST(floor(TRY_CAST({col} AS DOUBLE) / 10) * 10 AS BIGINT), "
        f"CAST(floor(TRY_CAST({col} AS DOUBLE) / 10) * 10 + 9 AS BIGINT)) END"
    )


MASKS: dict[str, MaskSql] = {
    "id_number": _pseudonym("id_number"),
    "phone": _pseudonym("phone"),
    "credit_code": _pseudonym("credit_code"),
    "credit_code_person": _pseudonym("credit_code_person"),
    "name": _name,
    "address": _address,
    "birth_date": _birth_year,
    "age": _age_band,
}


def mask_expression(column: str, kind: str) -> str:
    """`<mask of column> AS column`; an unknown kind (sex among them) hides the value entirely."""
    quoted = ident(column)
    source = f"CAST({quoted} AS VARCHAR)"
    build = MASKS.get(kind)
    masked = build(source) if build else "NULL::VARCHAR"
    return f"{masked} AS {quoted}"


def mask_value(value: str | None, kind: str, key: bytes | None = None) -> str | None:
    """The mask of one value as the SQL mask computes it; pseudonym kinds without a key are all stars."""
    if value is None:
        return None
    value = str(value)
    if kind in PSEUDONYM_PREFIX:
        return pseudonym(value, kind, key) if key is not None else "*" * len(value)
    if kind == "name":
        return value[:1] + "*" * max(len(value) - 1, 1)
    if kind == "address":
        return value[:6] + "****"
    if kind == "birth_date":
        return value[:4] if re.match(r"^\d{4}-\d{2}-\d{2}", value) else None
    if kind == "age":
        try:
            band = int(float(value) // 10) * 10
        except ValueError:
            return None
        return f"{band}-{band + 9}"
    return None


def _rules(item) -> dict:
    rules = getattr(item, "rules", None) or {}
    return rules if isinstance(rules, dict) else rules.model_dump(exclude_none=True)


def masked_columns(resource) -> dict[str, str]:
    """Column → mask kind for a role that may not see the resource's personal data.

    The item's pii kind; an identifier by its validator even if its pii flag says none; and every
    item declared `derived_from` a masked item (birth date, sex, age from an ID number), coarsened
    by its type, because with the ID hidden it must not rebuild or single out the person.
    """
    items = list(resource.items)
    masked: dict[str, str] = {}
    for item in items:
        validator_kind = VALIDATOR_KINDS.get(_rules(item).get("validator") or "")
        if item.pii and item.pii != "none":
            masked[item.name] = item.pii
        elif validator_kind:
            masked[item.name] = validator_kind
    for item in _derived(items, masked):
        masked[item.name] = DERIVED_KINDS.get(item.type, "hidden")
    return masked


def _derived(items: Iterable, masked: dict[str, str]) -> list:
    return [item for item in items if _rules(item).get("derived_from") in masked and item.name not in masked]
