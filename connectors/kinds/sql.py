"""The `sql` kind: a department table read incrementally by its cursor column (e.g. `updated_at`).

Keyset paging on (cursor, tie-breaker): the tie-breaker is SQLite's rowid, else the table's primary
key, else the resource's key items. State: {"cursor": <last delivered cursor value>, "after": <its
tie-breaker>} — rows that share one cursor value (a bulk insert) are never skipped or read twice.

What keyset paging cannot see, by design: rows whose cursor is NULL, and a row written later with a
cursor value *below* the watermark (a source must keep its cursor non-decreasing, as the contract
says). Without a rowid or primary key, two rows with the same cursor and the same key items (exact
duplicates) that straddle a chunk boundary are read as one.

On SQLite, a resource with a business key is read the fast way (`sqlite_json`): SQLite builds the
JSON and the key of each row whose values already have their items' types, and the runner only
wraps them (`Conformed`); the other rows of the chunk are read again in full and conformed in Python.
Other databases, resources without a key, and bindings with `conform_in_database: false` (the
baseline of `bench/connectors.py`) are conformed in Python row by row.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from connectors.base import BaseSource, Conformed, SourceItem, SourceRecord, event_time_item
from connectors.errors import BindingError, SourceUnavailable
from connectors.kinds.sqlite_json import conformed_columns
from connectors.kinds.sqlite_text import TextDecoder
from connectors.systems import source_url

DEFAULT_CURSOR = "updated_at"
_CURSOR, _AFTER = "__hub_cursor", "__hub_after"


def _position(row) -> tuple:
    """The position after a conformed row: (value, key, event time, cursor, rowid)."""
    return row[3], row[4]


class SqlSource(BaseSource):
    kind = "sql"
    required_config = ("table",)

    def __init__(self, resource, binding):
        super().__init__(resource, binding)
        self.table_name = str(self.config["table"])
        self.cursor_name = str(self.config.get("cursor_column") or DEFAULT_CURSOR)
        self.batch_size = int(self.config.get("batch_size", 5000))
        self.items = list(resource.items)
        self._engine: sa.Engine | None = None
        self._decoder = TextDecoder()
        self._query = None

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
            self._conformed = conformed_columns(self.resource, table)
            event = event_time_item(self.resource)
            if self._conformed is not None:
                self._conformed.append(table.c[event] if event is not None and event in table.c else sa.null())
        self._query = (table, table.c[self.cursor_name], breakers, selected)

    def _statement(self, state: dict, count: bool = False, selected: list | None = None):
        if self._query is None:
            self._build_query()
        table, cursor, breakers, items = self._query
        where = cursor.is_not(None)
        if state.get("cursor") is not None:
            after = state["after"] if len(breakers) > 1 else [state["after"]]
            where = sa.and_(
                where, sa.tuple_(cursor, *breakers) > sa.tuple_(sa.literal(state["cursor"]), *map(sa.literal, after))
            )
        if count:
            return sa.select(sa.func.count()).select_from(table).where(where)
        columns = [
            *(selected or items),
            cursor.label(_CURSOR),
            *[b.label(f"{_AFTER}{i}") for i, b in enumerate(breakers)],
        ]
        return sa.select(*columns).select_from(table).where(where).order_by(cursor, *breakers).limit(self.batch_size)

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
        conformed = self._conformed
        width = len(conformed) if conformed else len(self.items)
        while True:
            rows = self._chunk(self._statement(position, selected=conformed))
            yield from self._conformed_items(rows) if conformed else self._records(rows, width)
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

    def _conformed_items(self, rows) -> Iterator[SourceItem]:
        """The chunk in order: runs of rows SQLite conformed, and between them the rows it could not,
        read again in full for the runner to conform (or to send to the DLQ)."""
        again = [row[4] for row in rows if type(row[0]) is not str]  # NULL, or BadText: not UTF-8
        by_rowid = {}
        if again:
            _table, _cursor, breakers, _items = self._query
            full = self._chunk(self._statement({}).where(breakers[0].in_(again)))
            by_rowid = {record.position[1]: record for record in self._records(full, len(self.items))}
        run = []
        for row in rows:
            if type(row[0]) is str:
                run.append(row)
                continue
            if run:
                yield Conformed(run, _position)
                run = []
            yield by_rowid[row[4]]
        if run:
            yield Conformed(run, _position)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
