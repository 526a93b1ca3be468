"""The role database: where one analyst statement runs, read-only, with only the role's views.

Per query, a fresh in-memory DuckDB:
1. ATTACHes the warehouse file READ_ONLY under an unguessable alias (DuckDB refuses any write to it);
2. creates `staging.<resource>` views for the resources the role may read (PII columns masked in
   the view body, see masking) and `mart.<name>` views over the warehouse marts;
3. switches off external access (files, network, ATTACH, INSTALL/LOAD, COPY), extension
   autoloading, and then locks the configuration so no SET can undo it.

DuckDB has no per-object privileges, so the attached alias stays nameable from SQL. The fallback
(`check_statement`) runs on DuckDB's own parser output, never on the SQL text: exactly one SELECT
statement, and every table reference must be a role view, a CTE, or an allow-listed table function
(no query()/query_table(), no catalogue functions that would reveal the alias).
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.access.masking import ident, mask_expression
from warehouse.access.rights import Decision
from warehouse.errors import WarehouseError

ROLE_SCHEMAS = ("staging", "mart")
# Table functions that generate rows and touch no catalogue, file or other database.
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
FETCH_BATCH = 1024


class QueryRefused(WarehouseError):
    """The statement was not run (or was stopped); the message says why and what is allowed."""

    kind = "skippable"


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool
    duration_ms: float

    @property
    def rows(self) -> int:
        return self.table.num_rows


@dataclass
class RoleViews:
    """The views one role sees: (schema, name) pairs, and why other resources are not among them."""

    views: set[tuple[str, str]] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # resource id → reason


# --- the statement check (the fallback layer, on DuckDB's parse tree) ---------------------------

_parser = threading.local()


def _parse_connection() -> duckdb.DuckDBPyConnection:
    # A private in-memory connection used only to parse; it never sees the warehouse.
    if getattr(_parser, "connection", None) is None:
        _parser.connection = duckdb.connect(":memory:")
    return _parser.connection


# DuckDB types INSTALL as LOAD and CHECKPOINT as CALL; say what the analyst typed.
_STATEMENT_NAMES = {duckdb.StatementType.LOAD: "INSTALL/LOAD", duckdb.StatementType.CALL: "CALL/CHECKPOINT",
                    duckdb.StatementType.SET: "SET/RESET/USE"}


def single_select(sql: str) -> str:
    """The one SELECT statement in `sql`, as DuckDB's parser splits it; refuses anything else."""
    parser = _parse_connection()
    try:
        statements = parser.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"the SQL does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryRefused(f"one statement per call, got {len(statements)}: run them one by one")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = _STATEMENT_NAMES.get(statement.type, str(statement.type).rsplit(".", 1)[-1])
        raise QueryRefused(f"{kind} statements are not allowed: the warehouse is read-only for analysts, "
                           "only SELECT (and FROM …, WITH …, DESCRIBE, SUMMARIZE) runs")
    return statement.query


def single_statements(script: str) -> list[str]:
    """A script split into its statements by DuckDB's parser (each then runs as its own call)."""
    try:
        return [statement.query for statement in _parse_connection().extract_statements(script)]
    except duckdb.Error as exc:
        raise QueryRefused(f"the script does not parse: {_first_line(exc)}") from None


def check_statement(sql: str, role_views: RoleViews) -> str:
    """The statement to run, once it is one SELECT that only references the role's views."""
    query = single_select(sql)
    serialised = _parse_connection().execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0]
    try:
        tree = json.loads(serialised)
        if tree.get("error"):
            raise QueryRefused(f"the statement cannot be checked: {tree.get('error_message', 'parser error')}")
        _check_tree(tree, frozenset(), role_views)
    except RecursionError:
        raise QueryRefused("the statement is nested too deeply to be checked: flatten it (CTEs help)") from None
    return query


def _check_tree(value, ctes: frozenset[str], role_views: RoleViews) -> None:
    """Check every table reference; a CTE name counts only inside the query that defines it."""
    if isinstance(value, list):
        for child in value:
            _check_tree(child, ctes, role_views)
        return
    if not isinstance(value, dict):
        return
    ctes = ctes | frozenset(_cte_names(value))
    kind = value.get("type")
    if kind == "BASE_TABLE":
        _check_table(value, ctes, role_views)
    elif kind == "TABLE_FUNCTION":
        _check_function(value)
    elif kind == "SHOW_REF" and value.get("table_name"):
        raise QueryRefused("SHOW lists the whole database: list your views with `.tables` in `hub sql`, "
                           "or DESCRIBE one of them")
    for child in value.values():
        _check_tree(child, ctes, role_views)


def _cte_names(node: dict) -> list[str]:
    cte_map = node.get("cte_map")
    if not isinstance(cte_map, dict):
        return []
    return [str(entry.get("key", "")).lower() for entry in cte_map.get("map", [])]


def _check_table(node: dict, ctes: frozenset[str], role_views: RoleViews) -> None:
    catalog, schema = node.get("catalog_name", "").lower(), node.get("schema_name", "").lower()
    name = node.get("table_name", "").lower()  # DuckDB identifiers are case-insensitive, quoted or not
    shown = ".".join(p for p in (catalog, schema, name) if p)
    if catalog not in ("", "memory"):
        raise QueryRefused(f"{shown}: only your role's views are readable (staging.<resource>, mart.<name>)")
    if not schema:
        if name in ctes or any(view_name.lower() == name for _, view_name in role_views.views):
            return
        raise QueryRefused(f"{name}: not one of your views; name them as staging.<resource> or mart.<name>")
    if (schema, name) in {(s, n.lower()) for s, n in role_views.views}:
        return
    refused = {rid.lower(): reason for rid, reason in role_views.refused.items()}
    if schema == "staging" and name in refused:
        raise QueryRefused(f"staging.{name} is not readable by your role: {refused[name]}")
    raise QueryRefused(f"{shown}: not one of your views (list them with `.tables` in `hub sql`)")


def _check_function(node: dict) -> None:
    function = node.get("function") or {}
    name = str(function.get("function_name", "")).lower()
    if name not in ALLOWED_TABLE_FUNCTIONS or function.get("schema") or function.get("catalog"):
        raise QueryRefused(f"table function {name}() is not allowed: analysts read the warehouse through "
                           f"their views only (allowed: {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})")


# --- the role database --------------------------------------------------------------------------

def open_role_database(warehouse: Path, decisions: Mapping[str, Decision]) -> tuple[duckdb.DuckDBPyConnection, RoleViews, str]:
    """A locked in-memory DuckDB with the role's views over the READ_ONLY-attached warehouse."""
    if not Path(warehouse).exists():
        raise QueryRefused(f"no warehouse at {warehouse} yet: land data first (`hub warehouse …`)")
    alias = "wh_" + secrets.token_hex(12)
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(f"ATTACH ? AS {ident(alias)} (READ_ONLY)", [str(warehouse)])
        role_views = _create_views(connection, alias, decisions)
        _lock(connection)
    except BaseException:
        connection.close()
        raise
    return connection, role_views, alias


def _create_views(connection, alias: str, decisions: Mapping[str, Decision]) -> RoleViews:
    role_views = RoleViews(refused={rid: d.reason for rid, d in decisions.items() if not d.readable})
    for schema in ROLE_SCHEMAS:
        connection.execute(f"CREATE SCHEMA {ident(schema)}")
    present = connection.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'staging' "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ? AND schema_name = 'mart'",
        [alias, alias]).fetchall()
    for schema, name in present:
        decision = decisions.get(name) if schema == "staging" else None
        if schema == "staging" and (decision is None or not decision.readable):
            continue  # not in the catalogue, or not this role's: no view, so DuckDB cannot bind it
        source = f"{ident(alias)}.{ident(schema)}.{ident(name)}"
        columns = [c for (c,) in connection.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index", [alias, schema, name]).fetchall()]
        masked = decision.masked if decision else {}
        select = ", ".join(mask_expression(c, masked[c]) if c in masked else ident(c) for c in columns)
        connection.execute(f"CREATE VIEW {ident(schema)}.{ident(name)} AS SELECT {select} FROM {source}")
        role_views.views.add((schema, name))
    return role_views


def _lock(connection) -> None:
    connection.execute("SET search_path = 'staging,mart'")
    connection.execute("SET memory_limit = '512MB'")
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    connection.execute("SET allow_community_extensions = false")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


# --- running one statement ----------------------------------------------------------------------

def run_statement(connection, query: str, *, alias: str, timeout_s: float, row_limit: int) -> QueryResult:
    """Run `query` in the role database: at most `row_limit` rows, interrupted after `timeout_s`."""
    outcome: dict = {}

    def work() -> None:
        try:
            reader = connection.sql(query).to_arrow_reader(FETCH_BATCH)
            batches, kept = [], 0
            for batch in reader:
                batches.append(batch)
                kept += batch.num_rows
                if kept > row_limit:  # one more than allowed is enough to say the result was cut
                    break
            outcome["table"] = pa.Table.from_batches(batches, schema=reader.schema)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=work, name="hub-sql", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        connection.interrupt()
        worker.join(5)
        raise QueryRefused(f"the query ran longer than {timeout_s:g} s and was stopped "
                           "(HUB_QUERY_TIMEOUT_S); narrow it or aggregate in a mart")
    duration_ms = (time.monotonic() - started) * 1000
    if "error" in outcome:
        raise QueryRefused(scrub(_first_line(outcome["error"]), alias)) from None
    table = outcome["table"]
    truncated = table.num_rows > row_limit
    return QueryResult(table.slice(0, row_limit) if truncated else table, truncated, duration_ms)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def scrub(message: str, alias: str) -> str:
    """An error message without the attached alias (it must not leak into what the analyst sees)."""
    return message.replace(alias, "warehouse")


def execute(sql: str, *, warehouse: Path, decisions: Mapping[str, Decision], timeout_s: float,
            row_limit: int) -> QueryResult:
    """Check `sql` (one SELECT on the role's views) and run it in a fresh role database."""
    connection, role_views, alias = open_role_database(warehouse, decisions)
    try:
        query = check_statement(sql, role_views)
        return run_statement(connection, query, alias=alias, timeout_s=timeout_s, row_limit=row_limit)
    finally:
        connection.close()


def list_views(warehouse: Path, decisions: Mapping[str, Decision]) -> list[str]:
    """The role's views as schema.name, sorted (what `.tables` shows)."""
    connection, role_views, _alias = open_role_database(warehouse, decisions)
    connection.close()
    return sorted(f"{schema}.{name}" for schema, name in role_views.views)
