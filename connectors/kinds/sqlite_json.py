"""The SQL kind's fast path on SQLite: the database conforms the rows it can conform exactly.

`RecordBuilder.conform` changes nothing in a value that already has its item's type: text for a
text, date or time item, an integer for a number, 1/0 for a logical item (written true/false). For a
row where every value is like that and the business key is whole, SQLite builds the record's JSON
(`json_object`) and its key itself, and Python only wraps them in the envelope. A real in a number
item qualifies when SQLite's JSON text of it (15 significant digits) reads back as the same double.

Every other row (a BLOB in a TEXT column, text in a number column, an empty key part, a real that
needs 17 digits, a zero that may be −0.0) gets NULL as its JSON: the source reads it again and the
runner conforms it in Python. So each conforming rule stays defined once, in `connectors.records`,
and this module only says when it is the identity. Text that is not UTF-8 cannot be told in SQL: the
fetch of its chunk fails, the chunk is read again with `TextDecoder`, and the row's JSON comes back as
`BadText`, which the source also sends the slow way.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from catalog.derive import key_columns

NUMBER_TYPES = ("N", "F", "B")
# SQLite's JSON writes a REAL with this format (json.c: "%!0.15g").
REAL_IN_JSON = "%!.15g"


def _exact(item, column):
    """(the SQL test that conforming leaves the value as it is, the value to put in the JSON)."""
    storage = sa.func.typeof(column)
    if item.type in NUMBER_TYPES:
        same_double = sa.cast(sa.func.printf(REAL_IN_JSON, column), sa.REAL) == column
        return sa.or_(storage.in_(("integer", "null")), sa.and_(storage == "real", column != 0, same_double)), column
    if item.type == "I":
        return storage.in_(("integer", "null")), column
    if item.type == "L":
        logical = sa.case((column == 1, sa.func.json("true")), (column == 0, sa.func.json("false")))
        return sa.or_(column.is_(None), sa.and_(storage == "integer", column.in_((0, 1)))), logical
    return storage.in_(("text", "null")), column


def _key_part(column):
    """The key part as `RecordBuilder.key` writes it (text as it is, an integer in decimal), and its test."""
    storage = sa.func.typeof(column)
    whole = sa.or_(sa.and_(storage == "text", column != ""), storage == "integer")
    return whole, sa.cast(column, sa.Text)


def conformed_columns(resource, table) -> list | None:
    """[the record's JSON (NULL when Python must conform the row), its business key] as select
    expressions over `table`; None when the resource declares no key (its key is a hash of the
    conformed value, made in Python)."""
    keys = key_columns(resource)
    if not keys:
        return None
    tests, pairs = [], []
    for item in resource.items:
        test, value = _exact(item, table.c[item.name])
        tests.append(test)
        pairs += [sa.literal(item.name), value]
    key_tests, parts = zip(*(_key_part(table.c[name]) for name in keys), strict=True)
    key = functools.reduce(lambda left, right: left + "|" + right, parts)
    value = sa.case((sa.and_(*tests, *key_tests), sa.func.json_object(*pairs)))
    return [value, key]
