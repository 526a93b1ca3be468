"""Where generated rows go, one sink per connector kind: department database tables (sql), drop
folder files (file), the video platform's store (http) and the IoT outbox (mqtt).

A sink is opened per resource and step, takes chunks of rows keyed by item name, and counts them.
Rows may carry private keys a sink understands: `geometry` / `geom_blob` (file), `_topic` and
`_payload` (mqtt: the topic, and a raw payload for messages that are not JSON).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
import sqlalchemy as sa

from connectors import systems
from synthetic.base import Chunk, Clock, ResourceContext
from synthetic.gisfiles import GeoJsonWriter, GpkgWriter
from synthetic.sqlstore import SQL_TYPES, SqlTable

GEOMETRY_ITEMS = ("geometry", "geom_wkt", "geom")
VIDEO_STORE = "video_platform.sqlite"
IOT_OUTBOX = "iot_outbox.jsonl"
_ENGINES: dict[str, sa.Engine] = {}
SQLITE_CACHE_KIB = 128 * 1024


def http_store(system: str) -> Path:
    """The store an HTTP system serves from: `<sources>/<system>.sqlite` (VIDEO_STORE for the video platform)."""
    return systems.sources_dir() / f"{system}.sqlite"


def engine_for(system: str) -> sa.Engine:
    """One engine per department database URL (SQLite files get their folder created)."""
    url = systems.source_url(system)
    if url not in _ENGINES:
        engine = sa.create_engine(url)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            sa.event.listen(engine, "connect", _no_fsync)
        _ENGINES[url] = engine
    return _ENGINES[url]


def _no_fsync(dbapi_connection, _record) -> None:
    # A stand-in database is rebuilt by the next seed if the machine dies mid-write: waiting for
    # the disk at every commit (hundreds per seed) buys nothing. A page cache that holds a full-scale
    # table's key index keeps random-order key inserts off the file. The file's bytes are the same.
    dbapi_connection.execute("PRAGMA synchronous = OFF")
    dbapi_connection.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")


def dispose_engines() -> None:
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


class SqlSink:
    def __init__(self, ctx: ResourceContext):
        self.ctx = ctx
        self.table = SqlTable(engine_for(ctx.resource.binding.system), ctx.resource)
        self.clock: Clock | None = None
        if ctx.step == 0:
            self.table.recreate()

    def _clock(self) -> Clock:
        if self.clock is None:
            start, end = self.ctx.window
            self.clock = Clock(start, end, self.ctx.expected + self.ctx.updates)
        return self.clock

    def write(self, rows: Chunk) -> int:
        return self.table.insert(rows, self._clock())

    def update(self, count: int, skip: set[str], mutate) -> list[str]:
        return self.table.update(count, self.ctx.random("updates"), self._clock(), skip, mutate)

    def close(self) -> None:
        pass


class FileSink:
    """Files named after the pattern's `*`: `<id>_<step>_<part>.geojson` (one per chunk, so no file
    grows without bound) or `<id>_<step>.gpkg` (one per step). A pattern without `*` names one
    file, written at step 0 only: later steps cannot add a second file under that name."""

    def __init__(self, ctx: ResourceContext):
        config = ctx.resource.binding.config
        self.ctx = ctx
        self.pattern = str(config["pattern"])
        self.epsg = int(config.get("crs", 4490))
        self.layer = str(config.get("layer") or ctx.resource.id)
        self.properties = [i.name for i in ctx.resource.items if i.name not in GEOMETRY_ITEMS]
        self.types = {i.name: SQL_TYPES.get(i.type, "TEXT") for i in ctx.resource.items if i.name not in GEOMETRY_ITEMS}
        self.globbed = "*" in self.pattern
        self.parts = 0
        self.writer: GpkgWriter | GeoJsonWriter | None = None

    @property
    def is_gpkg(self) -> bool:
        return self.pattern.lower().endswith(".gpkg")

    def _path(self) -> Path:
        stem = f"{self.ctx.resource.id}_{self.ctx.step:03d}"
        if not self.is_gpkg:
            stem += f"_{self.parts:03d}"
        return systems.gis_drop_dir() / (self.pattern.replace("*", stem, 1) if self.globbed else self.pattern)

    def write(self, rows: Chunk) -> int:
        if not self.globbed and self.ctx.step > 0:
            return 0
        features = [self._feature(row) for row in rows]
        if self.writer is None or (self.globbed and not self.is_gpkg):
            self.close()
            self.parts += 1
            if self.is_gpkg:
                kind = next((f["geometry"]["type"] for f in features if f.get("geometry")), "GEOMETRY")
                self.writer = GpkgWriter(
                    self._path(),
                    self.layer,
                    self.epsg,
                    kind,
                    self.types,
                    self.ctx.as_of.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                )
            else:
                self.writer = GeoJsonWriter(self._path(), self.layer, self.epsg)
        return self.writer.add(features)

    def _feature(self, row: dict) -> dict:
        feature = {"properties": {name: row.get(name) for name in self.properties}}
        if "geom_blob" in row:
            feature["geom_blob"] = row["geom_blob"]
        if "geometry" in row:
            feature["geometry"] = row["geometry"]
        return feature

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class HttpSink:
    """An HTTP platform's own store (one per system): one SQLite table per bound endpoint, in insertion order."""

    def __init__(self, ctx: ResourceContext):
        config = ctx.resource.binding.config
        self.ctx = ctx
        self.columns = [item.name for item in ctx.resource.items]
        self.path = http_store(ctx.resource.binding.system)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.table = ctx.resource.id
        endpoint = str(config["endpoint"])
        mode = config.get("paging") or (
            "cursor" if any(w in endpoint for w in ("status", "event", "alarm")) else "page"
        )
        columns = "".join(f', "{c}" {SQL_TYPES.get(i.type, "TEXT")}' for c, i in zip(self.columns, ctx.resource.items))
        with self.db:
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS _endpoints (endpoint TEXT PRIMARY KEY, tbl TEXT, mode TEXT, "
                "columns TEXT, key_columns TEXT)"
            )
            self.db.execute(
                "INSERT OR REPLACE INTO _endpoints VALUES (?, ?, ?, ?, ?)",
                (endpoint, self.table, mode, json.dumps(self.columns), json.dumps(ctx.key_columns())),
            )
            if ctx.step == 0:
                self.db.execute(f'DROP TABLE IF EXISTS "{self.table}"')
            self.db.execute(
                f'CREATE TABLE IF NOT EXISTS "{self.table}" (_seq INTEGER PRIMARY KEY AUTOINCREMENT{columns})'
            )

    def write(self, rows: Chunk) -> int:
        """Append new items; rows with `_update: (column, value)` change the items that match instead."""
        names = "".join(f', "{c}"' for c in self.columns)
        marks = ", ".join("?" * len(self.columns))
        inserts = [tuple(row.get(c) for c in self.columns) for row in rows if "_update" not in row]
        with self.db:
            self.db.executemany(f'INSERT INTO "{self.table}" ({names[2:]}) VALUES ({marks})', inserts)
            for row in rows:
                if "_update" in row:
                    column, key = row["_update"]
                    changes = {c: v for c, v in row.items() if c != "_update"}
                    sets = ", ".join(f'"{c}" = ?' for c in changes)
                    self.db.execute(f'UPDATE "{self.table}" SET {sets} WHERE "{column}" = ?', (*changes.values(), key))
        return len(inserts)

    def close(self) -> None:
        self.db.close()


class MqttSink:
    """Lines {"topic", "payload", "qos", "resource"} appended to the outbox `hub sources publish` sends."""

    def __init__(self, ctx: ResourceContext):
        self.ctx = ctx
        self.columns = [item.name for item in ctx.resource.items]
        self.filter = str(ctx.resource.binding.config["topic_filter"])
        self.path = systems.sources_dir() / IOT_OUTBOX
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.out = self.path.open("ab")

    def topic_for(self, row: dict) -> str:
        """The filter with its wildcards filled: first `+` a town, further ones the record key."""
        if row.get("_topic"):
            return row["_topic"]
        key = "-".join(str(row.get(k)) for k in self.ctx.key_columns()) or "device"
        levels, filled = [], 0
        for level in self.filter.split("/"):
            if level == "+":
                levels.append(str(row.get("_town", "440606005")) if filled == 0 else key)
                filled += 1
            elif level == "#":
                levels.append("telemetry")
            else:
                levels.append(level)
        return "/".join(levels)

    def write(self, rows: Chunk) -> int:
        lines = []
        for row in rows:
            payload = (
                row["_payload"] if "_payload" in row else orjson.dumps({c: row.get(c) for c in self.columns}).decode()
            )
            lines.append(
                orjson.dumps(
                    {"topic": self.topic_for(row), "payload": payload, "qos": 1, "resource": self.ctx.resource.id}
                )
                + b"\n"
            )
        self.out.write(b"".join(lines))
        return len(rows)

    def close(self) -> None:
        self.out.close()


SINKS = {"sql": SqlSink, "file": FileSink, "http": HttpSink, "mqtt": MqttSink}


def open_sink(ctx: ResourceContext):
    """The sink for the resource's binding kind."""
    return SINKS[ctx.resource.binding.kind](ctx)
