"""The role database: where one analyst statement runs, read-only, with only the role's views.

It is built inside the sandbox's child process (warehouse.access.worker), per query, as a fresh
in-memory DuckDB that:
1. ATTACHes the warehouse file READ_ONLY under an unguessable alias (DuckDB refuses any write to it);
2. creates `staging.<resource>` views for the resources the role may read (personal data masked in
   the view body, see masking) and `mart.<name>` views over the registered marts, without the rows
   of groups smaller than k;
3. switches off external access (files, network, ATTACH, INSTALL/LOAD, COPY), extension
   autoloading, caps memory and threads, and then locks the configuration so no SET can undo it.

DuckDB has no per-object privileges, so the attached alias stays nameable from SQL: the statement
check (warehouse.access.statement) is the other line, and it runs before this database exists.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.access.masking import PSEUDONYM_FUNCTION, ident, mask_expression, pseudonym_udf
from warehouse.access.statement import QueryRefused, RoleViews

ROLE_SCHEMAS = ("staging", "mart")
FETCH_BATCH = 1024


@dataclass(frozen=True)
class Access:
    """What the child needs of a rights Decision: readable or not, the masks, and why not."""

    readable: bool
    masked: dict[str, str]
    reason: str


@dataclass(frozen=True)
class Limits:
    memory_limit_mb: int  # DuckDB's own buffer limit, below the process's address-space limit
    threads: int
    temp_dir: str
    max_temp_mb: int


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool
    duration_ms: float

    @property
    def rows(self) -> int:
        return self.table.num_rows


def role_views(access: Mapping[str, Access], marts: Mapping[str, str | None]) -> RoleViews:
    """The views a role may name: its readable resources and every registered mart."""
    views = {("staging", rid) for rid, a in access.items() if a.readable} | {("mart", name) for name in marts}
    return RoleViews(views=views, refused={rid: a.reason for rid, a in access.items() if not a.readable})


def open_role_database(
    warehouse: Path,
    access: Mapping[str, Access],
    *,
    marts: Mapping[str, str | None],
    min_group: int,
    key: bytes,
    limits: Limits,
) -> tuple[duckdb.DuckDBPyConnection, RoleViews, str]:
    """A locked in-memory DuckDB with the role's views over the READ_ONLY-attached warehouse."""
    if not Path(warehouse).exists():
        raise QueryRefused(f"no warehouse at {warehouse} yet: land data first (`hub warehouse …`)")
    alias = "wh_" + secrets.token_hex(12)
    connection = duckdb.connect(
        ":memory:", config={"threads": limits.threads, "memory_limit": f"{limits.memory_limit_mb}MB"}
    )
    try:
        connection.create_function(
            PSEUDONYM_FUNCTION, pseudonym_udf(key), ["VARCHAR", "VARCHAR"], "VARCHAR", type="arrow", side_effects=False
        )
        connection.execute(f"ATTACH ? AS {ident(alias)} (READ_ONLY)", [str(warehouse)])
        created = _create_views(connection, alias, access, marts, min_group)
        _lock(connection, limits)
    except BaseException:
        connection.close()
        raise
    return connection, created, alias


def present_views(connection, alias: str) -> list[tuple[str, str]]:
    return connection.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'staging' "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ? AND schema_name = 'mart'",
        [alias, alias],
    ).fetchall()


def _create_views(
    connection, alias: str, access: Mapping[str, Access], marts: Mapping[str, str | None], min_group: int
) -> RoleViews:
    created = RoleViews(refused={rid: a.reason for rid, a in access.items() if not a.readable})
    for schema in ROLE_SCHEMAS:
        connection.execute(f"CREATE SCHEMA {ident(schema)}")
    for schema, name in present_views(connection, alias):
        source = f"{ident(alias)}.{ident(schema)}.{ident(name)}"
        columns = [
            c
            for (c,) in connection.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? AND table_name = ? "
                "ORDER BY column_index",
                [alias, schema, name],
            ).fetchall()
        ]
        if schema == "staging":
            grant = access.get(name)
            if grant is None or not grant.readable:
                continue  # not in the catalogue, or not this role's: no view, so DuckDB cannot bind it
            select = ", ".join(mask_expression(c, grant.masked[c]) if c in grant.masked else ident(c) for c in columns)
            body = f"SELECT {select} FROM {source}"
        else:
            if name not in marts:
                continue  # a view someone put in mart.* by hand: no k declared for it, so not shown
            group = marts[name]
            body = f"SELECT * FROM {source}"
            if group is not None and group in columns:
                body += f" WHERE {ident(group)} >= {int(min_group)}"  # small groups single people out
            elif group is not None:
                continue  # the declared count is missing: better no view than an unsuppressed one
        connection.execute(f"CREATE VIEW {ident(schema)}.{ident(name)} AS {body}")
        created.views.add((schema, name))
    return created


def _lock(connection, limits: Limits) -> None:
    connection.execute("SET search_path = 'staging,mart'")
    connection.execute("SET temp_directory = ?", [limits.temp_dir])
    connection.execute("SET max_temp_directory_size = ?", [f"{limits.max_temp_mb}MB"])
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    connection.execute("SET allow_community_extensions = false")
    connection.execute("SET python_enable_replacements = false")  # no table from a Python variable
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def run_statement(connection, query: str, *, alias: str, row_limit: int, max_bytes: int) -> QueryResult:
    """Run `query` in the role database: at most `row_limit` rows and `max_bytes` of result."""
    started = time.monotonic()
    try:
        reader = connection.sql(query).to_arrow_reader(FETCH_BATCH)
        batches, kept, size = [], 0, 0
        for batch in reader:
            batches.append(batch)
            kept += batch.num_rows
            size += batch.nbytes
            if size > max_bytes:
                raise QueryRefused(
                    f"the result is larger than {max_bytes // 2**20} MB "
                    "(HUB_QUERY_RESULT_MAX_MB): select fewer columns or rows, or aggregate"
                )
            if kept > row_limit:  # one more than allowed is enough to say the result was cut
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except duckdb.OutOfMemoryException:
        raise  # the worker reports it as the memory limit, not as the analyst's error
    except duckdb.Error as exc:
        raise QueryRefused(scrub(_first_line(exc), alias)) from None
    truncated = table.num_rows > row_limit
    return QueryResult(
        table.slice(0, row_limit) if truncated else table, truncated, (time.monotonic() - started) * 1000
    )


def stream_statement(connection, query: str, path: Path, *, alias: str, row_limit: int, max_bytes: int) -> int:
    """Run `query` and write every row to the Arrow IPC file `path`; refuse (never cut) past the limits.

    What an export runs: a file must hold the whole result, so going over HUB_EXPORT_ROW_LIMIT or
    HUB_EXPORT_MAX_MB fails the export and says so, instead of writing the first rows.
    """
    import pyarrow.ipc as ipc

    written, size = 0, 0
    try:
        reader = connection.sql(query).to_arrow_reader(FETCH_BATCH * 16)
        with ipc.new_file(str(path), reader.schema) as writer:
            for batch in reader:
                written += batch.num_rows
                size += batch.nbytes
                if written > row_limit:
                    raise QueryRefused(
                        f"the result has more than {row_limit:,} rows (HUB_EXPORT_ROW_LIMIT): nothing was exported; "
                        "narrow the query or export it in parts"
                    )
                if size > max_bytes:
                    raise QueryRefused(
                        f"the result is larger than {max_bytes // 2**20:,} MB (HUB_EXPORT_MAX_MB): nothing was "
                        "exported; select fewer columns or export it in parts"
                    )
                writer.write_batch(batch)
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        raise QueryRefused(scrub(_first_line(exc), alias)) from None
    return written


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def scrub(message: str, alias: str) -> str:
    """An error message without the attached alias (it must not leak into what the analyst sees)."""
    return message.replace(alias, "warehouse")


def list_views(warehouse: Path, access: Mapping[str, Access], marts: Mapping[str, str | None]) -> list[str]:
    """The role's views as schema.name, sorted (what `.tables` shows); reads only the catalogue of names."""
    if not Path(warehouse).exists():
        return []
    allowed = role_views(access, marts).views
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        present = connection.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name = 'staging' "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE schema_name = 'mart'"
        ).fetchall()
    return sorted(f"{schema}.{name}" for schema, name in present if (schema, name) in allowed)
