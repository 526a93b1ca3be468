"""The `sql` kind: a department table read incrementally by its cursor column (e.g. `updated_at`).

Keyset paging on (cursor, tie-breaker): the tie-breaker is SQLite's rowid, else the table's primary
key, else the resource's key items. State: {"cursor": <last delivered cursor value>, "after": <its
tie-breaker>} — rows that share one cursor value (a bulk insert) are never skipped or read twice.

What keyset paging cannot see, by design: rows whose cursor is NULL, and a row written later with a
cursor value *below* the watermark (a source must keep its cursor non-decreasing, as the contract
says). Without a rowid or primary key, two rows with the same cursor and the same key items (exact
duplicates) that straddle a chunk boundary are read as one.

On SQLite, a resource with a business key is read the fast way (`sqlite_json`): SQLite builds the
JSON, the key and the event-time header of each row whose values already have their items' types,
hands the chunk over as a few texts, and the runner only wraps them (`Conformed`); the other rows of
the chunk are read again in full and conformed in Python. Each chunk's end is found first in the
cursor's index alone, so the chunks are read ahead on a thread of their own (`hub.prefetch`) while
the runner sends the one before. Other databases, resources without a
key, and bindings with `conform_in_database: false` (the baseline of `bench/connectors.py`) are
conformed in Python row by row.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterator

import orjson
import pyarrow as pa
import sqlalchemy as sa

from connectors.base import BaseSource, Conformed, SourceItem, SourceRecord, event_time_item
from connectors.errors import BindingError, SourceUnavailable
from connectors.kinds.sqlite_json import affinity, chunk_columns, conformed_columns
from connectors.kinds.sqlite_text import TextDecoder
from connectors.systems import source_url
from hub.prefetch import prefetched

DEFAULT_CURSOR = "updated_at"
_CURSOR, _AFTER = "__hub_cursor", "__hub_after"
# One thread builds the next chunks while the runner sends: two ran no faster (SQLite's allocator
# takes a process-wide lock) and cost 1.6 µs more CPU a row.
READERS, AHEAD = 1, 2


class SqlSource(BaseSource):
    kind = "sql"
    required_config = ("table",)

    def __init__(self, resource, binding):
        super().__init__(resource, binding)
        self.table_name = str(self.config["table"])
        self.cursor_name = str(self.config.get("cursor_column") or DEFAULT_CURSOR)
        self.batch_size = int(self.config.get("batch_size", 10_000))  # rows a chunk: 5 k read 4 % slower
        self.items = list(resource.items)
        self._engine: sa.Engine | None = None
        self._decoder = TextDecoder()
        self._query = None
        self._chunk_sqls: dict[tuple, tuple] = {}

    @property
    def object_name(self) -> str:
        return self.table_name

    # ---- connection and query ---------------------------------------------------------------------

    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(source_url(self.system))
        return self._engine

    def _build_query(self):
        engine = self.engine()
        try:
            inspector = sa.inspect(engine)
            columns = {column["name"] for column in inspector.get_columns(self.table_name)}
            primary_key = inspector.get_pk_constraint(self.table_name).get("constrained_columns") or []
        except sa.exc.NoSuchTableError:
            raise BindingError(
                f"resource {self.resource.id!r}: table {self.table_name!r} does not exist in "
                f"{self.system} ({engine.url.render_as_string()}); run `hub seed` or fix binding.config.table"
            ) from None
        except sa.exc.OperationalError as exc:
            raise SourceUnavailable(f"{self.system} is not reachable ({exc.orig}); is the database up?") from None
        wanted = [item.name for item in self.items] + [self.cursor_name]
        missing = [name for name in wanted if name not in columns]
        if missing:
            raise BindingError(
                f"resource {self.resource.id!r}: table {self.table_name!r} lacks column(s) "
                f"{', '.join(missing)}; the catalogue's items and the source disagree"
            )
        if engine.dialect.name == "sqlite":
            breakers = [sa.literal_column("_rowid_")]
        else:
            breakers = [sa.column(name) for name in primary_key or [i.name for i in self.items if i.key]]
            if not breakers:
                raise BindingError(
                    f"resource {self.resource.id!r}: table {self.table_name!r} has no primary key "
                    f"and the resource no key item; rows sharing a cursor value cannot be ordered"
                )
        table = sa.table(self.table_name, *(sa.column(name) for name in wanted))
        selected = [table.c[item.name] for item in self.items]
        self._conformed = None
        if engine.dialect.name == "sqlite" and self.config.get("conform_in_database", True):
            event = event_time_item(self.resource)
            self._conformed = conformed_columns(
                self.resource,
                table,
                self._affinities(),
                table.c[event] if event is not None and event in table.c else sa.null(),
            )
        self._query = (table, table.c[self.cursor_name], breakers, selected)

    def _affinities(self) -> dict[str, str]:
        """Column name → the affinity SQLite gives its declared type."""
        with self.engine().connect() as conn:
            columns = conn.exec_driver_sql("SELECT name, type FROM pragma_table_info(?)", (self.table_name,))
            return {name: affinity(declared) for name, declared in columns}

    def _key(self, position: dict, name: str | None):
        """The keyset value (cursor, tie-breakers…) of a position as SQL: its values, or with `name`
        parameters `<name>_cursor` and `<name>_after` (SQLite's one tie-breaker, the rowid)."""
        if name is not None:
            return sa.tuple_(sa.bindparam(f"{name}_cursor", None), sa.bindparam(f"{name}_after", None))
        breakers = self._query[2]
        after = position["after"] if len(breakers) > 1 else [position["after"]]
        return sa.tuple_(sa.literal(position["cursor"]), *map(sa.literal, after))

    def _statement(
        self,
        state: dict,
        count: bool = False,
        selected: list | None = None,
        until: dict | None = None,
        parameters: bool = False,
    ):
        """The rows after `state` in keyset order: the next `batch_size`, or with `until` every row up
        to that position (no limit, so a row written meanwhile inside the range is not cut off). With
        `parameters` the positions are parameters named `after_…` and `until_…` (see `_key`)."""
        if self._query is None:
            self._build_query()
        table, cursor, breakers, items = self._query
        keyset = sa.tuple_(cursor, *breakers)
        where = cursor.is_not(None)
        if state.get("cursor") is not None:
            where = sa.and_(where, keyset > self._key(state, "after" if parameters else None))
        if until is not None:
            where = sa.and_(where, keyset <= self._key(until, "until" if parameters else None))
        if count:
            return sa.select(sa.func.count()).select_from(table).where(where)
        columns = [
            *(selected or items),
            cursor.label(_CURSOR),
            *[b.label(f"{_AFTER}{i}") for i, b in enumerate(breakers)],
        ]
        statement = sa.select(*columns).select_from(table).where(where).order_by(cursor, *breakers)
        return statement if until is not None else statement.limit(self.batch_size)

    def estimate(self, state: dict) -> int | None:
        """Rows still to read (for the progress bar)."""
        with self.engine().connect() as conn:
            return int(conn.execute(self._statement(state, count=True)).scalar() or 0)

    # ---- reading ----------------------------------------------------------------------------------

    def _fetch(self, statement, tolerant: bool) -> list:
        """One chunk. `tolerant` decodes text through TextDecoder (slower, SQLite only): used only
        for a chunk whose plain fetch hit TEXT that is not UTF-8."""
        with self.engine().connect() as conn:
            if tolerant:
                conn.connection.dbapi_connection.text_factory = self._decoder
            try:
                return conn.execute(statement).all()
            finally:
                if tolerant:
                    conn.connection.dbapi_connection.text_factory = str

    def _chunk(self, statement) -> list:
        try:
            return self._fetch(statement, tolerant=False)
        except sa.exc.OperationalError as exc:
            if "decode" not in str(exc.orig) or self.engine().dialect.name != "sqlite":
                raise SourceUnavailable(
                    f"reading {self.system}.{self.table_name} failed ({exc.orig}); rerun later"
                ) from None
        # Rows now may hold BadText (or bytes, from a BLOB in a TEXT column): the runner's conforming
        # step rejects those values, so exactly those rows go to the DLQ.
        return self._fetch(statement, tolerant=True)

    def advance(self, state: dict, position) -> None:
        state["cursor"], state["after"] = position

    def read(self, state: dict) -> Iterator[SourceItem]:
        position = {"cursor": state.get("cursor"), "after": state.get("after")}
        if self._query is None:
            self._build_query()
        if self._conformed is None:
            yield from self._rows(position)
        else:
            yield from prefetched(self._chunk_tasks(position), READERS, AHEAD, f"read {self.table_name}")

    def _rows(self, position: dict) -> Iterator[SourceRecord]:
        width = len(self.items)
        while True:
            rows = self._chunk(self._statement(position))
            yield from self._records(rows, width)
            if len(rows) < self.batch_size:
                return
            position = {"cursor": rows[-1][width], "after": self._after(rows[-1], width)}

    def _after(self, row, width: int):
        return row[width + 1] if len(self._query[2]) == 1 else list(row[width + 1 :])

    def _records(self, rows, width: int) -> Iterator[SourceRecord]:
        names = [item.name for item in self.items]
        single = len(self._query[2]) == 1
        for row in rows:
            after = row[width + 1] if single else list(row[width + 1 :])
            # The cursor is the change time; the runner parses it only if no item gives the event time.
            yield SourceRecord(dict(zip(names, row)), (row[width], after), row[width])

    def _chunk_tasks(self, position: dict) -> Iterator[Callable[[], list[SourceItem]]]:
        """A task per chunk, for the readers: the rows after `position` up to the `batch_size`-th (found
        in the cursor's index alone), and so on; the last chunk is the next `batch_size` rows after the
        last end found (rows written after that are read on the next pass)."""
        while True:
            ends = self._statement(position, selected=[sa.null()]).offset(self.batch_size - 1).limit(1)
            with self.engine().connect() as conn:
                end = conn.execute(ends).first()
            if end is None:
                yield functools.partial(self._conformed_chunk, position, None)
                return
            end = {"cursor": end[1], "after": self._after(end, 1)}
            yield functools.partial(self._conformed_chunk, position, end)
            position = end

    def _chunk_sql(self, position: dict, until: dict | None) -> tuple[str, tuple, dict]:
        """(SQL, its parameters' names in order, their values but the positions') of the chunk query
        from `position` (or the start) to `until` (or `batch_size` rows): compiled once per shape, as
        building and compiling it was a tenth of a reader's time."""
        shape = (position.get("cursor") is not None, until is not None)
        if shape not in self._chunk_sqls:
            rows = self._statement(position, selected=self._conformed, until=until, parameters=True).subquery()
            compiled = chunk_columns(rows, _CURSOR, f"{_AFTER}0").compile(
                dialect=self.engine().dialect, compile_kwargs={"render_postcompile": True}
            )
            self._chunk_sqls[shape] = (str(compiled), compiled.positiontup, compiled.construct_params())
        return self._chunk_sqls[shape]

    def _conformed_chunk(self, position: dict, until: dict | None) -> list[SourceItem]:
        """The items of one chunk, SQLite conforming what it can (runs on a reader's thread)."""
        sql, names, constants = self._chunk_sql(position, until)
        parameters = {**constants, "after_cursor": position.get("cursor"), "after_after": position.get("after")}
        if until is not None:
            parameters.update(until_cursor=until["cursor"], until_after=until["after"])
        try:
            with self.engine().connect() as conn:
                chunk = conn.exec_driver_sql(sql, tuple(parameters[name] for name in names)).one()
        except sa.exc.OperationalError as exc:
            raise SourceUnavailable(
                f"reading {self.system}.{self.table_name} failed ({exc.orig}); rerun later"
            ) from None
        count, values, keys, times, rowids, cursors, events, last = chunk
        if not count:
            return []
        rowids, cursors = orjson.loads(rowids), _json(cursors)
        if cursors[-1] != _json(last)[0]:  # the chunk's rows came out of their keyset order
            raise SourceUnavailable(
                f"reading {self.system}.{self.table_name}: SQLite did not hand the chunk over in its "
                f"order ({cursors[-1]!r} last, {_json(last)[0]!r} the greatest); run with "
                f"binding.config.conform_in_database: false"
            )
        return list(self._conformed_items(_Chunk(values, keys, times, rowids, cursors, events)))

    def _conformed_items(self, chunk: _Chunk) -> Iterator[SourceItem]:
        """The chunk in order: runs of rows SQLite conformed, and between them the rows it could not,
        read again in full for the runner to conform (or to send to the DLQ)."""
        slow = chunk.slow_rows()
        by_rowid = {}
        if slow:
            _table, _cursor, breakers, _items = self._query
            full = self._chunk(self._statement({}).where(breakers[0].in_([chunk.rowids[n] for n in slow])))
            by_rowid = {record.position[1]: record for record in self._records(full, len(self.items))}
        start = 0
        for end in [*slow, len(chunk.rowids)]:
            if end > start:
                yield chunk.run(start, end)
            if end < len(chunk.rowids):
                yield by_rowid[chunk.rowids[end]]
            start = end + 1

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _json(text: bytes):
    """A JSON array SQLite wrote of a chunk's values; text that is not UTF-8 (in a row the source
    sends the slow way, whose entry is not used) is replaced rather than refused."""
    return orjson.loads(text.decode("utf-8", "replace"))


class _Chunk:
    """One chunk as SQLite handed it over (`sqlite_json.chunk_columns`), its lines split."""

    def __init__(self, values: bytes, keys: bytes, times: bytes, rowids: list, cursors: list, events: bytes) -> None:
        self.joined = values
        self.values, self.keys, self.times = values.split(b"\n"), keys.split(b"\n"), times.split(b"\n")
        self.rowids, self.cursors = rowids, cursors
        self._events_json = events
        self._events = None

    def slow_rows(self) -> list[int]:
        """The rows Python conforms: those SQLite gave no value, and those whose value is not UTF-8."""
        slow = [n for n, value in enumerate(self.values) if not value]
        if not _all_utf8(self.joined):
            slow = sorted({*slow, *(n for n, value in enumerate(self.values) if not _is_utf8(value))})
        return slow

    def events(self) -> list:
        if self._events is None:
            self._events = _json(self._events_json)
        return self._events

    def run(self, start: int, end: int) -> Conformed:
        """Rows start…end-1 as one Conformed: row n of it is row start + n of the chunk."""
        cursors, rowids = self.cursors, self.rowids
        return Conformed(
            self.keys[start:end],
            self.values[start:end],
            self.times[start:end],
            lambda n: (self.events()[start + n], cursors[start + n]),
            lambda n: (cursors[start + n], rowids[start + n]),
        )


def _all_utf8(data: bytes) -> bool:
    """Whether `data` is UTF-8 text: Arrow checks it without making the text, ≈ 4 × faster than decoding."""
    offsets = pa.py_buffer(struct.pack("<ii", 0, len(data)))
    try:
        pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
