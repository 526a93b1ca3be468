"""The SQL kind's fast path on SQLite: the database conforms the rows it can conform exactly.

`RecordBuilder.conform` changes nothing in a value that already has its item's type: text for a
text, date or time item, an integer for a number, 1/0 for a logical item (written true/false). For a
row where every value is like that and the business key is whole, SQLite builds the record's JSON
(`json_object`) and its key itself, and Python only wraps them in the envelope. A real in a number
item qualifies when SQLite's JSON text of it (15 significant digits) reads back as the same double.

Every other row (a BLOB in a TEXT column, text in a number column, an empty key part or one with a
line break, a real that needs 17 digits, a zero that may be −0.0) gets NULL as its JSON: the source
reads it again and the runner conforms it in Python. So each conforming rule stays defined once, in
`connectors.records`, and this module only says when it is the identity. Text that is not UTF-8
cannot be told in SQL: the source finds it in the chunk's values and sends that row the slow way.

SQLite also writes the hub-event-time header of a row whose time is in one of the common ISO-8601
layouts (`event_time_text`: the very text `datetime.isoformat` gives), and NULL for any other, which
Python then parses. And it hands a whole chunk over at once (`chunk_columns`): each column of the
chunk as one text, its rows joined by line breaks, so reading a chunk is one call that runs outside
the GIL (the source reads ahead on a thread of its own) instead of one Python tuple per row.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from catalog.derive import key_columns

NUMBER_TYPES = ("N", "F", "B")
TEXT_TYPES = ("C", "D", "T")
# SQLite's JSON writes a REAL with this format (json.c: "%!0.15g").
REAL_IN_JSON = "%!.15g"


def affinity(declared: str) -> str:
    """The column affinity SQLite gives a declared type (its rules, in their order)."""
    declared = declared.upper()
    if "INT" in declared:
        return "integer"
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in declared or not declared:
        return "blob"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "real"
    return "numeric"


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


def _no_blob(columns: list):
    """None of `columns` holds a BLOB: the least of their storage classes' names is not 'blob' (it
    sorts first), one comparison for them all (17 tests a row took 1.33 µs, this 1.09)."""
    if len(columns) == 1:
        return sa.func.typeof(columns[0]) != "blob"
    return sa.func.min(*map(sa.func.typeof, columns)) != "blob"


def _key_part(column, blob_tested: bool):
    """The key part as `RecordBuilder.key` writes it (text as it is, an integer in decimal), and its test.
    `blob_tested`: the row's test refuses a BLOB in this text-affinity column, which holds no number,
    so only an empty or a NULL part is left to refuse (0.40 → 0.27 µs a row)."""
    # A line break would split the key across the chunk's lines (`chunk_columns`): such a key goes the slow way.
    whole = sa.and_(column != "", sa.func.instr(column, "\n") == 0)
    storage = sa.func.typeof(column)
    test = whole if blob_tested else sa.or_(sa.and_(storage == "text", whole), storage == "integer")
    return test, sa.cast(column, sa.Text)  # TEXT to TEXT costs nothing: the cast types the `||` of parts


def conformed_columns(resource, table, affinities: dict[str, str], event) -> list | None:
    """[the record's JSON (NULL when Python must conform the row), its business key, its event-time
    header (NULL when Python must write it), the event-time item's value] as labelled select
    expressions over `table`; `event` is the event-time item's column (or NULL). None when the
    resource declares no key (its key is a hash of the conformed value, made in Python)."""
    keys = key_columns(resource)
    if not keys:
        return None
    tests, pairs, texts = [], [], []
    for item in resource.items:
        column = table.c[item.name]
        if affinities.get(item.name) == "text" and item.type in TEXT_TYPES:
            texts.append(column)  # SQLite stored any number written to it as text: only a BLOB differs
        else:
            test, column = _exact(item, column)
            tests.append(test)
        pairs += [sa.literal(item.name), column]
    if texts:
        tests.append(_no_blob(texts))
    blob_tested = {column.name for column in texts}
    key_tests, parts = zip(*(_key_part(table.c[name], name in blob_tested) for name in keys), strict=True)
    key = functools.reduce(lambda left, right: left + "|" + right, parts)
    value = sa.case((sa.and_(*tests, *key_tests), sa.func.json_object(*pairs)))
    return [value.label("value"), key.label("key"), event_time_text(event).label("event_time"), event.label("event")]


# ---- the hub-event-time header -------------------------------------------------------------------

LOCAL_OFFSET = "+08:00"  # the sources' local time (hub.timezone.LOCAL_TZ): a time without an offset is in it
# The layouts SQLite writes the header of: fractional digits × offset, each with the GLOB of its
# fraction. Offset hours above 23 are refused apart.
_FRACTIONS = {0: "", 3: ".[0-9][0-9][0-9]", 6: ".[0-9][0-9][0-9][0-9][0-9][0-9]"}
_OFFSETS = ("", "Z", "±HH:MM")
_DATE, _TIME, _HH_MM = (
    "[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]",
    "[0-2][0-9]:[0-5][0-9]:[0-5][0-9]",
    "[0-2][0-9]:[0-5][0-9]",
)


def _fraction_text(time, digits: int, canonical: bool):
    """The date, time and fraction as isoformat writes them: a T between, six digits, none if all zero."""

    def head(length: int):
        text = sa.func.substr(time, 1, length, type_=sa.Text)
        return text if canonical else sa.func.replace(text, " ", "T")

    if not digits:
        return head(19)
    return sa.case(
        (sa.func.substr(time, 20, digits + 1) == "." + "0" * digits, head(19)),
        else_=head(20 + digits) + "0" * (6 - digits),
    )


def _offset_text(time, offset: str, canonical: bool):
    if offset == "":
        return sa.literal(LOCAL_OFFSET)
    if offset == "Z":
        return sa.literal("+00:00")
    written = sa.func.substr(time, -6, type_=sa.Text)
    return written if canonical else sa.case((written == "-00:00", "+00:00"), else_=written)


def _calendar(time):
    """The date and time of a layout's text are a real day and hour. Most days are told by comparing
    texts; from the 29th on, SQLite's `datetime` with a modifier goes through the day number, so a day
    that does not exist (02-29 of 2025) comes back changed."""
    date_time = sa.func.substr(time, 1, 19)
    plain = sa.and_(
        sa.func.substr(time, 6, 2).between("01", "12"),
        sa.func.substr(time, 9, 2).between("01", "28"),
        sa.func.substr(time, 12, 2) < "24",
    )
    checked = sa.func.datetime(date_time, "+0 days") == sa.func.replace(date_time, "T", " ")
    return sa.or_(plain, checked)


def _layout(time, digits: int, offset: str, canonical: bool):
    """(test, header text) of one layout. `canonical`: written as isoformat writes it (a T between date
    and time, an offset's sign +), so its text needs no mending: tried first, it saves a third of the
    header's cost (1.76 → 1.35 µs a row); the other spellings (a space, -00:00) take the second test."""
    sign = "+" if canonical else "[+-]"
    offset_shape = {"": "", "Z": "Z", "±HH:MM": sign + _HH_MM}[offset]
    shape = _DATE + ("T" if canonical else "[T ]") + _TIME + _FRACTIONS[digits] + offset_shape
    # The GLOB vouches for four digits first, so comparing the whole text tells a year from 0001.
    tests = [time.op("GLOB")(shape), time >= "0001"]
    if offset == "±HH:MM":
        tests.append(sa.func.substr(time, -5, 2) < "24")
    tests.append(_calendar(time))
    return sa.and_(*tests), _fraction_text(time, digits, canonical) + _offset_text(time, offset, canonical)


def event_time_text(time):
    """SQL for the hub-event-time header of a row whose time is `time`: the text `parse_time(time).
    isoformat()` gives, when `time` is a valid date and time with no fraction, milliseconds or
    microseconds, and no offset, Z or ±HH:MM; else NULL (Python parses it). Each of those nine
    layouts has a length of its own: the length picks the one to test. A number or a BLOB gets NULL
    (the unit tests try both); a row whose time is a BLOB is conformed in Python anyway, as every
    item's test refuses a BLOB."""
    layouts = {}
    for digits in _FRACTIONS:
        for offset in _OFFSETS:
            length = 19 + (digits and digits + 1) + len(offset)
            layouts[length] = sa.case(*(_layout(time, digits, offset, canonical) for canonical in (True, False)))
    return sa.case(layouts, value=sa.func.length(time))


# ---- a chunk at once ---------------------------------------------------------------------------

LINE = "\n"


def _lines(column):
    """The chunk's values of `column` as one UTF-8 text (bytes), a line each, empty for NULL."""
    return sa.cast(sa.func.group_concat(sa.func.coalesce(column, ""), LINE), sa.LargeBinary)


def chunk_columns(rows, cursor: str, rowid: str):
    """One row for the whole chunk `rows` (a subquery of `conformed_columns` with the cursor and the
    rowid, in their order): (row count, values, keys, event-time headers, rowids as a JSON array,
    cursors as a JSON array, the event-time item's values where Python writes the header, the
    greatest cursor in a JSON array: it must be the last row's). The JSON arrays of values from the
    source are bytes: their text may be in a row that is not UTF-8. Values, keys and headers are `_lines`: none of them can hold a line break."""
    python_writes_time = sa.and_(rows.c.event_time.is_(None), rows.c.value.is_not(None))
    return sa.select(
        sa.func.count(),
        _lines(rows.c.value),
        _lines(rows.c.key),
        _lines(rows.c.event_time),
        sa.func.json_group_array(rows.c[rowid]),
        sa.cast(sa.func.json_group_array(rows.c[cursor]), sa.LargeBinary),
        sa.cast(sa.func.json_group_array(sa.case((python_writes_time, rows.c.event))), sa.LargeBinary),
        sa.cast(sa.func.json_array(sa.func.max(rows.c[cursor])), sa.LargeBinary),
    )
