"""The DuckDB warehouse (var/warehouse.duckdb): schemas raw, staging, mart and meta.

- raw.<resource>: a view over the resource's Parquet files (hive partition dt, union by name, so
  files from before a new catalogue item read with NULL in its column);
- staging.<resource>: a table with the current state per business key, merged incrementally from
  the files not yet applied (`meta.loads` lists the applied ones, so a replayed file is never
  merged twice); the latest event time wins (then partition, offset), deletes remove the row and
  leave a tombstone in meta."deleted__<resource>" so a late, older upsert cannot bring it back;
- mart.*: analyst views (warehouse.marts).

Concurrency: analysts query while loads run. DuckDB lets one process write a file and no one else
open it meanwhile, so no writer ever opens the live file: `writer()` takes an exclusive lock,
copies the database to a temp file, changes the copy, checkpoints it and renames it over the live
file. Readers (`connect_reader()`, read-only) keep the snapshot they opened and never see a
half-applied load; a new connection sees the new state. The cost is one file copy per change.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from catalog import derive
from catalog.derive import quoted  # identifiers cannot be bound as parameters: quoted instead
from hub.files import exclusive_lock, fsync_dir
from hub.settings import get_settings
from warehouse import comments, lake
from warehouse.errors import WarehouseError
from warehouse.landing import LandingResult, crash_point

log = logging.getLogger(__name__)

SCHEMAS = ("raw", "staging", "mart", "meta")
MEMORY_LIMIT = "512MB"  # the writer spills to disk beyond this, so a large merge keeps RSS bounded


def warehouse_path() -> Path:
    return get_settings().warehouse_path


# --- connections ------------------------------------------------------------------------------


def connect_reader(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the current warehouse (created empty if there is none yet)."""
    path = Path(path or warehouse_path())
    if not path.exists():
        with writer(path):
            pass
    return duckdb.connect(str(path), read_only=True)


def connect_scratch() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the writer's memory limit and spill directory: for set work over
    Arrow tables (joins, distinct) that must stay bounded on a resource of millions of rows."""
    connection = duckdb.connect(":memory:")
    _configure(connection)
    return connection


@contextlib.contextmanager
def writer(path: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to a copy of the warehouse that replaces it atomically on success.

    Writers wait for each other (the lock); readers are never blocked. If the block raises, the
    copy is thrown away and the live warehouse is unchanged.
    """
    path = Path(path or warehouse_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(path.with_name(path.name + ".lock")):
        for stale in path.parent.glob(f".{path.name}.*.tmp*"):  # copies of writers that were killed
            stale.unlink(missing_ok=True)
        copy = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if path.exists():
            shutil.copyfile(path, copy)
        connection = duckdb.connect(str(copy))
        try:
            _configure(connection)
            ensure_schemas(connection)
            yield connection
            connection.execute("CHECKPOINT")
        except BaseException:
            connection.close()
            for leftover in (copy, copy.with_name(copy.name + ".wal")):
                leftover.unlink(missing_ok=True)
            raise
        connection.close()
        _fsync(copy)
        os.replace(copy, path)
        fsync_dir(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _configure(connection: duckdb.DuckDBPyConnection) -> None:
    spill = get_settings().var_dir / "duckdb_spill"
    spill.mkdir(parents=True, exist_ok=True)
    connection.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    connection.execute("SET temp_directory = ?", [str(spill)])
    connection.execute("SET preserve_insertion_order = false")  # lets big inserts stream


def ensure_schemas(connection: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(schema)}")
    connection.execute("""
        CREATE TABLE IF NOT EXISTS meta.loads (
            resource VARCHAR NOT NULL, file VARCHAR NOT NULL, load_id VARCHAR, rows BIGINT,
            applied_at TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (resource, file))""")
    # Which verdict of the file was merged (its passed file's mtime): a later verdict replaces it.
    connection.execute("ALTER TABLE meta.loads ADD COLUMN IF NOT EXISTS verdict VARCHAR")


def _literal(text: str) -> str:
    # View bodies are stored SQL and cannot hold parameters; the only literal is a lake path from settings.
    return "'" + text.replace("'", "''") + "'"


def table_exists(connection, schema: str, name: str) -> bool:
    return bool(
        connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
        ).fetchone()[0]
    )


# --- staging ----------------------------------------------------------------------------------


def update_staging(resource_id: str, result=None, *, catalogue=None) -> int:
    """Merge every gated file (the quality gate's passed rows, warehouse.gate.check) of the resource
    not yet applied; returns the staging rows changed. A landed file the gate has not judged yet
    waits. Files of earlier loads a crash left unmerged are merged too, so the call after any crash
    catches up. `result` (a LandingResult, or its dict from an XCom) only labels the files with
    their load id.
    """
    resource = lake.resolve_resource(resource_id, catalogue)
    keys = derive.key_columns(resource)
    if not keys:
        raise WarehouseError(
            f"resource {resource.id} declares no key item: staging keeps one row per key; "
            "mark the business key items with key: true in the catalogue"
        )
    if not _pending(resource, _applied_outside(resource.id)):
        return 0
    if isinstance(result, dict):
        result = LandingResult.from_dict(result)
    load_of = {
        lake.relative(lake.zone_path(resource, "_passed", lake.absolute(path))): result.load_id
        for path in (result.files if result is not None else ())
    }
    with writer() as connection:
        applied = _applied(connection, resource.id)
        pending = _pending(resource, applied)
        refresh_raw_view(connection, resource)
        _forget_superseded_verdicts(connection, resource, [f for f in pending if lake.relative(f.path) in applied])
        changed = merge_files(connection, resource, [f.path for f in pending]) if pending else 0
        for passed in pending:
            relative = lake.relative(passed.path)
            connection.execute(
                "INSERT OR REPLACE INTO meta.loads (resource, file, load_id, rows, verdict) VALUES (?, ?, ?, ?, ?)",
                [
                    resource.id,
                    relative,
                    load_of.get(relative, "recovered"),
                    pq.ParquetFile(passed.path).metadata.num_rows,
                    _verdict_mark(passed.path),
                ],
            )
    crash_point("after_staging")
    log.info("%s: merged %d file(s), %d staging row(s) changed", resource.id, len(pending), changed)
    return changed


def rebuild_staging(resource_id: str, *, catalogue=None) -> int:
    """Drop staging.<resource> and merge every landed file again (after a type change, say)."""
    resource = lake.resolve_resource(resource_id, catalogue)
    with writer() as connection:
        connection.execute(f"DROP TABLE IF EXISTS {quoted(derive.table_names(resource).staging)}")
        connection.execute(f"DROP TABLE IF EXISTS meta.{quoted(_tombstones(resource.id))}")
        connection.execute("DELETE FROM meta.loads WHERE resource = ?", [resource.id])
    return update_staging(resource_id, catalogue=catalogue)


def _applied_outside(resource_id: str) -> dict[str, str | None]:
    """The applied files as the live warehouse says, read without the writer lock (a quick check)."""
    path = warehouse_path()
    if not path.exists():
        return {}
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return _applied(connection, resource_id)
    finally:
        connection.close()


def _applied(connection, resource_id: str) -> dict[str, str | None]:
    """Applied file → the mark of the verdict merged (None: merged before verdicts were marked)."""
    if not table_exists(connection, "meta", "loads"):
        return {}
    columns = {name for name, *_ in connection.execute("DESCRIBE meta.loads").fetchall()}
    verdict = "verdict" if "verdict" in columns else "NULL"
    rows = connection.execute(f"SELECT file, {verdict} FROM meta.loads WHERE resource = ?", [resource_id]).fetchall()
    return dict(rows)


def _pending(resource, applied: dict[str, str | None]) -> list[lake.LakeFile]:
    """Passed files not merged yet, or merged under an earlier verdict than the one they hold now.
    Staging takes only what the quality gate let through: its repaired, passing rows."""
    pending = []
    for passed in lake.list_files(resource, zone="_passed"):
        relative = lake.relative(passed.path)
        if relative not in applied or applied[relative] not in (None, _verdict_mark(passed.path)):
            pending.append(passed)
    return pending


def _verdict_mark(passed: Path) -> str:
    return str(passed.stat().st_mtime_ns)


def _forget_superseded_verdicts(connection, resource, judged_again: Sequence[lake.LakeFile]) -> None:
    """Staging rows (and tombstones) merged from a range whose verdict has been replaced go, so
    that the range's rows come back only as its latest verdict lets them."""
    tables = [("staging", resource.id), ("meta", _tombstones(resource.id))]
    for passed in judged_again:
        log.info("%s: %s was judged again; replacing what its earlier verdict merged", resource.id, passed.path.name)
        for schema, name in tables:
            if table_exists(connection, schema, name):
                connection.execute(
                    f"DELETE FROM {quoted(schema)}.{quoted(name)} WHERE _partition = ? AND _offset BETWEEN ? AND ?",
                    [passed.partition, passed.first, passed.last],
                )


def refresh_raw_view(connection, resource) -> bool:
    """(Re)create raw.<resource> over its Parquet files; False while it has none (a view needs one)."""
    if not lake.list_files(resource):
        return False
    connection.execute(
        f"CREATE OR REPLACE VIEW {quoted(derive.table_names(resource).raw)} AS SELECT * FROM read_parquet("
        f"{_literal(lake.parquet_glob(resource))}, hive_partitioning = true, union_by_name = true)"
    )
    comments.comment_resource(connection, resource, raw=True)
    return True


def ensure_staging_table(connection, resource) -> list[str]:
    """Create staging.<resource> and its tombstones, adding columns for new catalogue items."""
    schema = derive.arrow_schema(resource)
    connection.register("_hub_shape", schema.empty_table())
    try:
        wanted = connection.execute("DESCRIBE SELECT * FROM _hub_shape").fetchall()
        staging = quoted(derive.table_names(resource).staging)
        connection.execute(f"CREATE TABLE IF NOT EXISTS {staging} AS SELECT * FROM _hub_shape")
        have = {name: kind for name, kind, *_ in connection.execute(f"DESCRIBE {staging}").fetchall()}
        for name, kind, *_ in wanted:
            if name not in have:
                log.info("%s: staging gains column %s %s", resource.id, name, kind)
                connection.execute(f"ALTER TABLE {staging} ADD COLUMN {quoted(name)} {kind}")
            elif have[name] != kind:
                raise WarehouseError(
                    f"item {name} of {resource.id} changed type from {have[name]} to {kind} in the catalogue; "
                    f"rebuild staging with `hub warehouse rebuild-staging {resource.id}`"
                )
        keys = derive.key_columns(resource)
        key_columns = ", ".join(quoted(k) for k in keys)
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS meta.{quoted(_tombstones(resource.id))} AS "
            f"SELECT {key_columns}, _event_time, _partition, _offset FROM _hub_shape"
        )
        comments.comment_resource(connection, resource)  # the catalogue's names, for DESCRIBE's neighbours
        return [name for name, *_ in wanted]
    finally:
        connection.unregister("_hub_shape")


# Which record of a key wins: the later event time, then partition and offset — as one HUGEINT
# (event time in µs above, record id below), which sorts and compares far faster than a row of
# three. The record id (partition << 40 | offset: offsets below 2^40) names one Kafka record.
_RECORD_ID = "((({t}._partition)::BIGINT << 40) | {t}._offset)"
_ORDER = "(epoch_us({t}._event_time)::HUGEINT * (1::HUGEINT << 64) + " + _RECORD_ID + ")"


def merge_files(connection, resource, files: Sequence[Path]) -> int:
    """Apply the records of `files` to staging.<resource>; returns the rows inserted or deleted.

    Memory stays small whatever the files hold: the winner of each key is found on a narrow scan
    (key and order only), and the full rows stream from the files straight into staging.
    """
    columns = ensure_staging_table(connection, resource)
    keys = derive.key_columns(resource)
    staging = quoted(derive.table_names(resource).staging)
    tombstones = f"meta.{quoted(_tombstones(resource.id))}"
    by_key = ", ".join(quoted(k) for k in keys)
    source = "read_parquet($files, union_by_name = true, hive_partitioning = false)"
    files_param = {"files": [str(f) for f in files]}
    order, record_id = _ORDER.format(t="f"), _RECORD_ID.format(t="f")
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE _hub_latest AS SELECT {by_key}, max({order}) AS ord, "
        f"arg_max(f._op, {order}) AS op, arg_max({record_id}, {order}) AS rid FROM {source} f GROUP BY {by_key}",
        files_param,
    )
    same_key = " AND ".join(f"d.{quoted(k)} = s.{quoted(k)}" for k in keys)
    # A record loses to a newer row or a newer delete already applied; the rest replace what is there.
    for current in (staging, tombstones):
        connection.execute(
            f"DELETE FROM _hub_latest d USING {current} s WHERE {same_key} AND d.ord < {_ORDER.format(t='s')}"
        )
    for current in (staging, tombstones):
        connection.execute(f"DELETE FROM {current} s USING _hub_latest d WHERE {same_key}")
    file_columns = {name for name, *_ in connection.execute(f"DESCRIBE SELECT * FROM {source}", files_param).fetchall()}
    shared = ", ".join(quoted(c) for c in columns if c in file_columns)
    winners = "SELECT rid FROM _hub_latest WHERE op = "
    inserted = connection.execute(
        f"INSERT INTO {staging} ({shared}) SELECT {shared} FROM {source} f WHERE {record_id} IN ({winners}'upsert')",
        files_param,
    ).fetchone()[0]
    deleted = connection.execute(
        f"INSERT INTO {tombstones} SELECT {by_key}, _event_time, _partition, _offset FROM {source} f "
        f"WHERE {record_id} IN ({winners}'delete')",
        files_param,
    ).fetchone()[0]
    connection.execute("DROP TABLE _hub_latest")
    return int(inserted) + int(deleted)


def _tombstones(resource_id: str) -> str:
    return f"deleted__{resource_id}"


def staging_arrow(resource_id: str, columns: Sequence[str] = ("*",)) -> pa.Table:
    """staging.<resource> as an Arrow table (for tests and small resources)."""
    connection = connect_reader()
    try:
        selected = ", ".join(c if c == "*" else quoted(c) for c in columns)
        return connection.sql(f"SELECT {selected} FROM staging.{quoted(resource_id)}").to_arrow_table()
    finally:
        connection.close()
