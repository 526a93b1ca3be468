"""Department databases: one table per bound SQL resource, written through SQLAlchemy.

Columns are the resource's item names (TEXT / REAL / INTEGER by item type; dates as ISO text
except where a defect says otherwise) plus the cursor column, which this module stamps with
non-decreasing ISO-8601 +08:00 times. Rows go in chunks: one executemany in one transaction each.
No primary key on purpose: a real source holds exact duplicates.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

import sqlalchemy as sa

from synthetic.base import Chunk, Clock, iso_ts

SQL_TYPES = {
    "C": "TEXT",
    "D": "TEXT",
    "T": "TEXT",
    "N": "REAL",
    "F": "REAL",
    "B": "REAL",
    "I": "INTEGER",
    "L": "INTEGER",
}
DEFAULT_CURSOR = "updated_at"
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}

Mutator = Callable[[random.Random], dict]


class SqlTable:
    """One resource's table in its department database."""

    def __init__(self, engine: sa.Engine, resource):
        config = resource.binding.config
        self.engine = engine
        self.resource = resource
        self.table = str(config["table"])
        self.cursor = str(config.get("cursor_column") or DEFAULT_CURSOR)
        self.types = {item.name: SQL_TYPES.get(item.type, "TEXT") for item in resource.items}
        self.types.setdefault(self.cursor, "TEXT")
        self.columns = list(self.types)
        self.keys = [item.name for item in resource.items if item.key]
        prep = engine.dialect.identifier_preparer
        self.q = prep.quote
        if engine.dialect.paramstyle not in _PLACEHOLDERS:
            raise ValueError(f"driver paramstyle {engine.dialect.paramstyle!r} is not supported; use sqlite or psycopg")
        self.mark = _PLACEHOLDERS[engine.dialect.paramstyle]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def recreate(self) -> None:
        """Drop and create the table with its cursor and key indexes."""
        table = self.q(self.table)
        columns = ", ".join(f"{self.q(c)} {self.types[c]}" for c in self.columns)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            conn.exec_driver_sql(f"CREATE TABLE {table} ({columns})")
            conn.exec_driver_sql(
                f"CREATE INDEX {self.q('ix_' + self.table + '_cursor')} ON {table} ({self.q(self.cursor)})"
            )
            if self.keys:
                keys = ", ".join(self.q(k) for k in self.keys)
                conn.exec_driver_sql(f"CREATE INDEX {self.q('ix_' + self.table + '_key')} ON {table} ({keys})")

    def insert(self, rows: Chunk, clock: Clock) -> int:
        """Stamp the cursor column and insert the chunk in one transaction."""
        if not rows:
            return 0
        for row in rows:
            row[self.cursor] = iso_ts(clock.next())
        if self.is_sqlite:  # sqlite3 binds bool as the integer it is and keeps bytes: nothing to convert
            values = [tuple(map(row.get, self.columns)) for row in rows]
        else:
            values = [tuple(self._sql_value(row.get(c), c) for c in self.columns) for row in rows]
        marks = ", ".join([self.mark] * len(self.columns))
        names = ", ".join(self.q(c) for c in self.columns)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO {self.q(self.table)} ({names}) VALUES ({marks})", values)
        return len(rows)

    def _sql_value(self, value, column: str):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, bytes) and not self.is_sqlite:
            # Only SQLite keeps undecodable bytes in a TEXT column; elsewhere the row stays readable.
            return value.decode("utf-8", errors="replace")
        return value

    def update(self, count: int, rng: random.Random, clock: Clock, skip: set[str], mutate: Mutator) -> list[str]:
        """Change `count` existing, non-defective records: `mutate` gives new values, the cursor moves on.

        Returns the identities updated (key values joined with "|").
        """
        chosen = self._pick_keys(count, rng, skip)
        table = self.q(self.table)
        where = " AND ".join(f"{self.q(k)} = {self.mark}" for k in self.keys)
        with self.engine.begin() as conn:
            for key in chosen:
                changes = {**mutate(rng), self.cursor: iso_ts(clock.next())}
                sets = ", ".join(f"{self.q(c)} = {self.mark}" for c in changes)
                conn.exec_driver_sql(f"UPDATE {table} SET {sets} WHERE {where}", (*changes.values(), *key))
        return ["|".join(map(str, key)) for key in chosen]

    def _pick_keys(self, count: int, rng: random.Random, skip: set[str]) -> list[tuple]:
        keys = ", ".join(self.q(k) for k in self.keys)
        with self.engine.connect() as conn:
            if self.is_sqlite:
                top = conn.exec_driver_sql(f"SELECT max(rowid) FROM {self.q(self.table)}").scalar() or 0
                picks = sorted({rng.randrange(1, top + 1) for _ in range(min(top, count * 2))}) if top else []
                found = [
                    tuple(r)
                    for r in conn.exec_driver_sql(
                        f"SELECT {keys} FROM {self.q(self.table)} WHERE rowid IN ({', '.join(map(str, picks)) or 'NULL'}) ORDER BY rowid"
                    )
                ]
            else:
                found = _reservoir(
                    conn.exec_driver_sql(f"SELECT {keys} FROM {self.q(self.table)} ORDER BY {keys}"), count * 2, rng
                )
        chosen, seen = [], set()
        for key in found:
            identity = "|".join(map(str, key))
            if identity in skip or identity in seen or any(isinstance(v, bytes) for v in key):
                continue
            seen.add(identity)
            chosen.append(key)
            if len(chosen) >= count:
                break
        return chosen

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {self.q(self.table)}").scalar() or 0)


def _reservoir(rows: Iterable[Sequence], size: int, rng: random.Random) -> list[tuple]:
    kept: list[tuple] = []
    for seen, row in enumerate(rows):
        if seen < size:
            kept.append(tuple(row))
        else:
            slot = rng.randrange(seen + 1)
            if slot < size:
                kept[slot] = tuple(row)
    return kept
