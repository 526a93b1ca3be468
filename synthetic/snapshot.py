"""Read a seeded source object back exactly as stored, without the connectors: for tests, for
checking the manifest's ground truth, and for `hub sources status`.

`stored_rows(resource)` yields one dict per stored record (item name → value as stored; file
features carry `_geometry` (GeoJSON dict or GPKG blob), video items `_seq`, MQTT messages
`_topic` and `_payload`). `checksum(resource)` hashes the stored content in storage order.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from connectors import systems
from synthetic.sinks import GEOMETRY_ITEMS, IOT_OUTBOX, http_store


def stored_rows(resource) -> Iterator[dict]:
    """Every stored record of the resource's source object, in storage order."""
    kind = resource.binding.kind
    if kind == "sql":
        yield from _sql_rows(resource)
    elif kind == "file":
        for path in source_files(resource):
            yield from (_gpkg_rows(path) if path.suffix == ".gpkg" else _geojson_rows(path))
    elif kind == "http":
        yield from _video_rows(resource)
    else:
        yield from _outbox_rows(resource)


def source_files(resource) -> list[Path]:
    """The drop-folder files of a file-bound resource, in name order."""
    return sorted(systems.gis_drop_dir().glob(str(resource.binding.config["pattern"])))


def _sql_rows(resource) -> Iterator[dict]:
    config = resource.binding.config
    engine = sa.create_engine(systems.source_url(resource.binding.system))
    quote = engine.dialect.identifier_preparer.quote
    order = "rowid" if engine.dialect.name == "sqlite" else quote(config.get("cursor_column") or "updated_at")
    try:
        with engine.connect() as conn:
            result = conn.exec_driver_sql(f"SELECT * FROM {quote(config['table'])} ORDER BY {order}")
            for row in result.mappings():
                yield dict(row)
    finally:
        engine.dispose()


def _geojson_rows(path: Path) -> Iterator[dict]:
    document = json.loads(path.read_text(encoding="utf-8"))
    for feature in document["features"]:
        yield {**feature["properties"], "_geometry": feature.get("geometry"), "_file": path.name}


def _gpkg_rows(path: Path) -> Iterator[dict]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        table = db.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'").fetchone()[0]
        for row in db.execute(f'SELECT * FROM "{table}" ORDER BY fid'):
            record = {key: row[key] for key in row.keys() if key not in ("fid", "geom")}
            yield {**record, "_geometry": row["geom"], "_file": path.name}
    finally:
        db.close()


def _video_rows(resource) -> Iterator[dict]:
    db = sqlite3.connect(http_store(resource.binding.system))
    db.row_factory = sqlite3.Row
    try:
        for row in db.execute(f'SELECT * FROM "{resource.id}" ORDER BY _seq'):
            yield dict(row)
    finally:
        db.close()


def _outbox_rows(resource) -> Iterator[dict]:
    path = systems.sources_dir() / IOT_OUTBOX
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line)
            if message["resource"] != resource.id:
                continue
            try:
                payload = json.loads(message["payload"])
            except ValueError:
                payload = {}
            yield {**payload, "_topic": message["topic"], "_payload": message["payload"]}


def checksum(resource) -> str:
    """sha256 over the stored records (storage order, values as stored)."""
    digest = hashlib.sha256()
    for row in stored_rows(resource):
        for key in sorted(row):
            value = row[key]
            digest.update(key.encode())
            digest.update(value if isinstance(value, bytes) else repr(value).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def identity(row: dict, key_columns: list[str]) -> str:
    """The manifest identity of a stored row (key values joined with "|")."""

    def text(value) -> str:
        if value is None:
            return ""
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

    return "|".join(text(row.get(column)) for column in key_columns)


__all__ = ["stored_rows", "source_files", "checksum", "identity", "GEOMETRY_ITEMS"]
