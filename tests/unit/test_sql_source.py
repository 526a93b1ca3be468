"""The sql kind against a real SQLite file: keyset paging through ties, resume from a position,
and rows with text that is not UTF-8 (as TEXT or as a BLOB) reaching the runner as rejectable values."""

import sqlite3
from types import SimpleNamespace

import pytest

from connectors.base import SourceRecord
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


def read_all(source, state):
    items = []
    for found in source.read(dict(state)):
        items.append(found)
        source.advance(state, found.position)
    return items


def test_pages_through_ties_and_resumes_without_gaps_or_repeats(db):
    source = SqlSource(RESOURCE, RESOURCE.binding)
    state: dict = {}
    first = []
    for found in source.read({}):  # stop inside the tie of five rows sharing one cursor value
        first.append(found)
        source.advance(state, found.position)
        if len(first) == 4:
            break
    assert state["cursor"] == "2026-11-20T08:00:00.000+08:00"
    rest = read_all(source, state)
    assert [f.value["bh"] for f in first + rest] == [f"B{i}" for i in range(8)]
    assert read_all(source, state) == []
    db.execute("INSERT INTO t VALUES ('B8', 'x', 8, '2026-11-20T10:00:00.000+08:00')")
    db.commit()
    assert [f.value["bh"] for f in read_all(source, state)] == ["B8"]
    assert source.estimate(state) == 0
    source.close()


def test_text_that_is_not_utf8_becomes_a_rejected_value(db):
    db.execute("INSERT INTO t VALUES ('B8', CAST(x'b3c2ff' AS TEXT), 8, '2026-11-21T00:00:00.000+08:00')")
    db.execute("INSERT INTO t VALUES ('B9', ?, 9, '2026-11-21T00:00:01.000+08:00')", (b"\xff\xfe",))
    db.commit()
    source = SqlSource(RESOURCE, RESOURCE.binding)
    builder = RecordBuilder(RESOURCE, "population_db.t")
    found = read_all(source, {})
    assert len(found) == 10 and all(isinstance(f, SourceRecord) for f in found)
    with pytest.raises(UnreadableRow, match="mc .* not valid UTF-8 text .*0xb3 at 0"):
        builder.encode(found[8])
    with pytest.raises(UnreadableRow, match="mc .* bytes that are not UTF-8"):
        builder.encode(found[9])
    builder.encode(found[7])  # its neighbours stay readable
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
