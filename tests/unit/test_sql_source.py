"""The sql kind against a real SQLite file: keyset paging through ties, resume from a position,
rows with text that is not UTF-8 (as TEXT or as a BLOB) reaching the runner as rejectable values,
and the rows SQLite conforms itself giving the very records Python's conforming gives."""

import math
import sqlite3
from types import SimpleNamespace

import orjson
import pytest

from connectors.base import Conformed, SourceRecord
from connectors.errors import BindingError, UnreadableRow
from connectors.kinds.sql import SqlSource
from connectors.records import RecordBuilder
from hub.settings import reset_settings


def item(name, type="C", key=False):
    return SimpleNamespace(name=name, label=name, type=type, length=None, nullable=True, key=key, pii="none")


RESOURCE = SimpleNamespace(
    id="t_sql_unit",
    file="t.yaml",
    line=1,
    items=[item("bh", key=True), item("mc"), item("sl", "N")],
    binding=SimpleNamespace(
        kind="sql", system="population_db", config={"table": "t", "cursor_column": "updated_at", "batch_size": 3}
    ),
)


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "population_db.sqlite"
    monkeypatch.setenv("HUB_SOURCE_POPULATION_DB_URL", f"sqlite:///{path}")
    reset_settings()
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (bh TEXT, mc TEXT, sl REAL, updated_at TEXT)")
    rows = [
        (f"B{i}", f"名{i}", i, "2026-11-20T08:00:00.000+08:00" if i < 5 else f"2026-11-20T09:00:0{i}.000+08:00")
        for i in range(8)
    ]
    connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    connection.commit()
    yield connection
    connection.close()
    reset_settings()


def read_all(source, state, limit=None):
    """Each row read from `state` on, as the runner takes it: a SourceRecord, or a row SQLite
    conformed (as a Conformed of one row); `state` advances past each."""
    found = []
    items = source.read(dict(state))
    for item in items:
        rows = [row_of(item, n) for n in range(len(item))] if isinstance(item, Conformed) else [item]
        for row in rows:
            found.append(row)
            source.advance(state, row.position_of(0) if isinstance(row, Conformed) else row.position)
            if len(found) == limit:
                items.close()
                return found
    return found


def row_of(item: Conformed, n: int) -> Conformed:
    """Row n of `item`, alone."""
    return Conformed(
        item.keys[n : n + 1],
        item.values[n : n + 1],
        item.event_times[n : n + 1],
        lambda _: item.times_of(n),
        lambda _: item.position_of(n),
    )


def value_of(row) -> dict:
    return row.value if isinstance(row, SourceRecord) else orjson.loads(row.values[0])


def test_pages_through_ties_and_resumes_without_gaps_or_repeats(db):
    source = SqlSource(RESOURCE, RESOURCE.binding)
    state: dict = {}
    first = read_all(source, state, limit=4)  # stop inside the tie of five rows sharing one cursor value
    assert state["cursor"] == "2026-11-20T08:00:00.000+08:00"
    rest = read_all(source, state)
    assert [value_of(f)["bh"] for f in first + rest] == [f"B{i}" for i in range(8)]
    assert read_all(source, state) == []
    db.execute("INSERT INTO t VALUES ('B8', 'x', 8, '2026-11-20T10:00:00.000+08:00')")
    db.commit()
    assert [value_of(f)["bh"] for f in read_all(source, state)] == ["B8"]
    assert source.estimate(state) == 0
    source.close()


def test_rows_written_out_of_cursor_order_are_read_in_it_chunk_by_chunk(db):
    db.execute("DELETE FROM t")
    times = [f"2026-11-20T08:00:{second:02d}.000+08:00" for second in range(10)]
    for number in (7, 3, 9, 0, 5, 1, 8, 2, 6, 4):  # rowid order is not the cursor's
        db.execute("INSERT INTO t VALUES (?, ?, ?, ?)", (f"B{number}", "名", number, times[number]))
    db.commit()
    source = SqlSource(RESOURCE, RESOURCE.binding)
    state: dict = {}
    first = read_all(source, state, limit=4)
    assert state["cursor"] == times[3]
    rest = read_all(source, state)
    assert [value_of(row)["bh"] for row in first + rest] == [f"B{n}" for n in range(10)]
    assert all(isinstance(row, Conformed) for row in rest), "read the fast way, SQLite's chunks in keyset order"
    source.close()


def test_text_that_is_not_utf8_becomes_a_rejected_value(db):
    db.execute("INSERT INTO t VALUES ('B8', CAST(x'b3c2ff' AS TEXT), 8, '2026-11-21T00:00:00.000+08:00')")
    db.execute("INSERT INTO t VALUES ('B9', ?, 9, '2026-11-21T00:00:01.000+08:00')", (b"\xff\xfe",))
    db.commit()
    source = SqlSource(RESOURCE, RESOURCE.binding)
    builder = RecordBuilder(RESOURCE, "population_db.t")
    found = read_all(source, {})
    # B0's sl is a real zero (−0.0 cannot be told in SQL): Python conforms it, as it does the two bad texts.
    assert [isinstance(f, SourceRecord) for f in found] == [True] + [False] * 7 + [True] * 2
    with pytest.raises(UnreadableRow, match="mc .* not valid UTF-8 text .*0xb3 at 0"):
        builder.encode(found[8])
    with pytest.raises(UnreadableRow, match="mc .* bytes that are not UTF-8"):
        builder.encode(found[9])
    assert builder.encode_conformed(found[7])  # its neighbours stay readable
    source.close()


def test_missing_table_or_column_is_a_binding_error(db):
    missing = SimpleNamespace(
        **{**vars(RESOURCE), "binding": SimpleNamespace(kind="sql", system="population_db", config={"table": "nope"})}
    )
    with pytest.raises(BindingError, match="table 'nope' does not exist"):
        list(SqlSource(missing, missing.binding).read({}))
    extra = SimpleNamespace(**{**vars(RESOURCE), "items": RESOURCE.items + [item("zz")]})
    with pytest.raises(BindingError, match="lacks column.*zz"):
        list(SqlSource(extra, RESOURCE.binding).read({}))


# Every kind of value a department's SQLite holds, per item type: those SQLite can conform exactly,
# and those only Python can (or that must go to the DLQ), each in its own row.
EDGES = {
    "C": ["名字", "", None, 'a\nb"\\\x01\u2028😀', 5, 2.5, b"utf8 blob", b"\xff\xfe", "BAD-GBK"],
    "N": [7, None, 123.45, 0.1 + 0.2, 0.0, -0.0, 1e20, 1e-05, 2.5e-300, 1 / 3, "12.5", "", "abc", math.inf],
    "I": [3, None, 3.0, 3.5, "7", -(2**62)],
    "L": [1, 0, None, "true", "是", 2],
    "T": ["2026-11-20T08:00:00.000+08:00", "2026-11-20 08:00:00", "2026-11-20T08:00:00Z", "garbage", None],
    "K": ["K", 42, "", None, 4.5, "K\nL"],
}
MIXED = SimpleNamespace(
    id="t_sql_mixed",
    file="t.yaml",
    line=1,
    items=[item("bh", key=True), item("xh", "I", key=True), item("mc"), item("sl", "N"), item("js", "I")]
    + [item("yx", "L"), item("sj", "T")],
    binding=SimpleNamespace(
        kind="sql",
        system="population_db",
        config={"table": "m", "cursor_column": "updated_at", "batch_size": 7, "event_time_item": "sj"},
    ),
)


def mixed_rows():
    """One row per edge value (the other values plain), each row its own cursor value."""
    plain = {"bh": "B", "xh": 1, "mc": "名", "sl": 1.5, "js": 2, "yx": 1, "sj": "2026-11-20 09:00:00"}
    columns = {"C": "mc", "N": "sl", "I": "js", "L": "yx", "T": "sj", "K": "bh"}
    rows = []
    for kind, values in EDGES.items():
        for value in values:
            row = {**plain, columns[kind]: value}
            if kind == "K" and isinstance(value, int):
                row["xh"] = value
            rows.append(row)
    for number, row in enumerate(rows):
        row["bh"] = f"{row['bh']}{number}" if isinstance(row["bh"], str) and row["bh"] else row["bh"]
        row["updated_at"] = f"2026-11-21T00:{number // 60:02d}:{number % 60:02d}.000+08:00"
    return rows


def records(source, builder) -> list:
    """What the runner sends for each row: (key, value, headers), or the DLQ reason."""
    return [
        (message[0], orjson.loads(message[1]), message[2]) if isinstance(message, tuple) else str(message)
        for message in builder.messages(source.read({}))
    ]


def typed(value):
    """A JSON value with its Python type (1 and 1.0, 0.0 and -0.0 told apart)."""
    if isinstance(value, dict):
        return {name: typed(v) for name, v in value.items()}
    return (type(value).__name__, math.copysign(1, value) if isinstance(value, float) else None, value)


def test_sqlite_conforms_exactly_the_rows_python_would_leave_as_they_are(db):
    db.execute(
        "CREATE TABLE m (bh TEXT, xh INTEGER, mc TEXT, sl REAL, js INTEGER, yx INTEGER, sj TEXT, updated_at TEXT)"
    )
    for row in mixed_rows():
        values = [row[name] for name in ("bh", "xh", "mc", "sl", "js", "yx", "sj", "updated_at")]
        if row["mc"] == "BAD-GBK":
            db.execute("INSERT INTO m VALUES (?, ?, CAST(x'b3c2' AS TEXT), ?, ?, ?, ?, ?)", values[:2] + values[3:])
        else:
            db.execute("INSERT INTO m VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
    db.commit()
    builder = RecordBuilder(MIXED, "population_db.m")
    conformed = SqlSource(MIXED, MIXED.binding)
    fast = records(conformed, builder)
    by_sqlite = sum(1 for row in read_all(conformed, {}) if not isinstance(row, SourceRecord))
    in_python = SimpleNamespace(
        **{**vars(MIXED.binding), "config": {**MIXED.binding.config, "conform_in_database": False}}
    )
    slow = records(SqlSource(MIXED, in_python), builder)

    assert len(fast) == len(slow) == sum(map(len, EDGES.values()))
    for number, (one, other) in enumerate(zip(fast, slow, strict=True)):
        if isinstance(other, str):
            assert one == other, f"row {number}: the DLQ reason differs"
        else:
            assert (one[0], typed(one[1]), one[2]) == (other[0], typed(other[1]), other[2]), f"row {number}"
    assert by_sqlite >= 20 and len(fast) - by_sqlite >= 15, "both ways were taken, each by many rows"


def times_to_try() -> list:
    """Valid and broken times in every layout the event-time header's SQL knows, and some it does not."""
    import random

    chosen = random.Random(20261207)
    dates = ["2026-11-20", "2024-02-29", "2025-02-29", "2026-04-31", "2026-13-01", "0001-01-01", "0000-01-01"]
    dates += ["9999-12-31", "2026-1-05", "2026/11/20"]
    clocks = ["08:00:00", "23:59:59", "24:00:00", "00:60:00", "12:30:60", "7:00:00"]
    fractions = ["", ".000", ".411", ".000000", ".000001", ".5", ".12345", ".1234567", ".41a"]
    offsets = ["", "Z", "+08:00", "-00:00", "+00:00", "-05:30", "+23:59", "+24:00", "+08:60", "+0800", "+08", "z"]
    times = [
        f"{chosen.choice(dates)}{chosen.choice('T T t_')}{chosen.choice(clocks)}"
        f"{chosen.choice(fractions)}{chosen.choice(offsets)}"
        for _ in range(3_000)
    ]
    return times + ["", "garbage", "2026-11-20", "2026-11-20T08:00", 20261120, 2.5, None, b"2026-11-20 08:00:00"]


def test_sqlite_writes_the_event_time_header_python_would_or_leaves_it_to_python():
    import sqlalchemy as sa

    from connectors.base import parse_time
    from connectors.kinds.sqlite_json import event_time_text

    expression = event_time_text(sa.column("t")).compile(
        dialect=sa.create_engine("sqlite://").dialect, compile_kwargs={"literal_binds": True}
    )
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE times (t)")
    times = times_to_try()
    connection.executemany("INSERT INTO times VALUES (?)", [(t,) for t in times])
    written = [row[0] for row in connection.execute(f"SELECT {expression} FROM times ORDER BY rowid")]
    for time, text in zip(times, written, strict=True):
        if text is not None:
            assert text == parse_time(time).isoformat(), f"{time!r}: SQLite wrote {text!r}"
    common = [
        f"2024-02-29{separator}23:59:59{fraction}{offset}"
        for separator in "T "
        for fraction in ("", ".000", ".411", ".000000", ".000001")
        for offset in ("", "Z", "+08:00", "-00:00", "-05:30")
    ]
    for time in common:
        [text] = connection.execute(f"SELECT {expression} FROM (SELECT ? AS t)", (time,)).fetchone()
        assert text == parse_time(time).isoformat(), f"{time!r} is written by SQLite"
