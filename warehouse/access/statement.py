"""The statement check: a walk over DuckDB's own parse tree (json_serialize_sql) with allow-lists.

Exactly one SELECT (set operations, CTEs, subqueries, DESCRIBE and SUMMARIZE of a view included).
Every node kind must be one this module knows; every table reference must be one of the role's
views or a CTE in scope; every table function, scalar, aggregate and window function must be on
the lists in warehouse.access.functions. A CTE's body is checked before its name is in scope, and
no CTE may take the name of a function or system view (`WITH duckdb_databases AS (…)`).
The check runs on the parse tree only, never on SQL text, and before the role database exists.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from warehouse.access.functions import OPERATORS, SCALAR_AND_AGGREGATE_FUNCTIONS, SYSTEM_PREFIXES, TABLE_FUNCTIONS
from warehouse.errors import WarehouseError


class QueryRefused(WarehouseError):
    """The statement was not run (or was stopped); the message says why and what is allowed."""

    kind = "skippable"


@dataclass
class RoleViews:
    """The views one role sees: (schema, name) pairs, and why other resources are not among them."""

    views: set[tuple[str, str]] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # resource id → reason


@dataclass(frozen=True)
class CheckedStatement:
    query: str
    views: frozenset[tuple[str, str]]  # the role views it reads, lower-case (schema, name)


# Query nodes, table references and expression classes the walk knows; anything else is refused.
QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
TABLE_REFS = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EMPTY", "EXPRESSION_LIST", "SHOW_REF"})
EXPRESSIONS = frozenset(
    {
        "CONSTANT",
        "COLUMN_REF",
        "FUNCTION",
        "WINDOW",
        "AGGREGATE",
        "CAST",
        "COMPARISON",
        "CONJUNCTION",
        "OPERATOR",
        "CASE",
        "BETWEEN",
        "SUBQUERY",
        "STAR",
        "LAMBDA",
        "LAMBDA_REF",
        "TYPE",
        "COLLATE",
        "POSITIONAL_REFERENCE",
        "BOUND_EXPRESSION",
    }
)
SHOWS = frozenset({"DESCRIBE", "SUMMARY"})

_parser = threading.local()


def _parse_connection() -> duckdb.DuckDBPyConnection:
    # A private in-memory connection used only to parse; it never sees the warehouse.
    if getattr(_parser, "connection", None) is None:
        _parser.connection = duckdb.connect(":memory:")
    return _parser.connection


def release_parser() -> None:
    """Close this thread's parse connection. A long-lived server thread calls it after each query: a
    DuckDB connection left in a daemon thread's locals aborts the interpreter at exit."""
    connection = getattr(_parser, "connection", None)
    if connection is not None:
        _parser.connection = None
        connection.close()


@functools.cache
def system_names() -> frozenset[str]:
    """Every function, table function and system view or schema name of a bare DuckDB (lower-case)."""
    rows = (
        _parse_connection()
        .execute(
            "SELECT function_name FROM duckdb_functions() UNION SELECT view_name FROM duckdb_views() "
            "UNION SELECT schema_name FROM duckdb_schemas() UNION SELECT database_name FROM duckdb_databases()"
        )
        .fetchall()
    )
    return frozenset(str(name).lower() for (name,) in rows)


_STATEMENT_NAMES = {"LOAD": "INSTALL/LOAD", "CALL": "CALL/CHECKPOINT", "SET": "SET/RESET/USE"}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def split_statements(script: str) -> list:
    """DuckDB's own split of `script`; a statement kind the Python client cannot name is refused."""
    try:
        return list(_parse_connection().extract_statements(script))
    except duckdb.Error as exc:
        raise QueryRefused(f"the SQL does not parse: {_first_line(exc)}") from None
    except ValueError:  # e.g. UPDATE EXTENSIONS: a statement type the client's enum lacks
        raise QueryRefused(
            "this kind of statement is not allowed: only SELECT (and FROM …, WITH …, DESCRIBE, SUMMARIZE) runs"
        ) from None


def single_select(sql: str) -> str:
    """The one SELECT statement in `sql`, as DuckDB's parser splits it; refuses anything else."""
    statements = split_statements(sql)
    if len(statements) != 1:
        raise QueryRefused(f"one statement per call, got {len(statements)}: run them one by one")
    statement = statements[0]
    try:
        kind = str(statement.type).rsplit(".", 1)[-1]
    except ValueError:  # e.g. UPDATE EXTENSIONS: a statement type the client's enum lacks
        kind = "this kind of"
    if kind != "SELECT":
        raise QueryRefused(
            f"{_STATEMENT_NAMES.get(kind, kind)} statements are not allowed: the warehouse is "
            "read-only for analysts, only SELECT (and FROM …, WITH …, DESCRIBE, SUMMARIZE) runs"
        )
    return statement.query


def check_statement(sql: str, role_views: RoleViews) -> CheckedStatement:
    """The statement to run and the views it reads, once every node of its parse tree is allowed."""
    query = single_select(sql)
    try:
        serialised = _parse_connection().execute("SELECT json_serialize_sql(?)", [query]).fetchone()[0]
        tree = json.loads(serialised)
    except (duckdb.Error, ValueError) as exc:
        raise QueryRefused(f"the statement cannot be checked: {_first_line(exc)}") from None
    except RecursionError:
        raise QueryRefused("the statement is nested too deeply to be checked: flatten it (CTEs help)") from None
    if tree.get("error"):
        raise QueryRefused(f"the statement cannot be checked: {tree.get('error_message', 'parser error')}")
    walk = _Walk(role_views)
    try:
        for statement in tree.get("statements", []):
            walk.query(statement.get("node"), frozenset())
    except RecursionError:
        raise QueryRefused("the statement is nested too deeply to be checked: flatten it (CTEs help)") from None
    return CheckedStatement(query, frozenset(walk.read))


class _Walk:
    """One pass over a parse tree; `read` collects the role views the statement reads."""

    def __init__(self, role_views: RoleViews) -> None:
        self.views = {(schema.lower(), name.lower()) for schema, name in role_views.views}
        self.refused = {rid.lower(): reason for rid, reason in role_views.refused.items()}
        self.read: set[tuple[str, str]] = set()

    # --- query nodes ---

    def query(self, node, ctes: frozenset[str]) -> None:
        if node is None:
            return
        kind = node.get("type")
        if kind not in QUERY_NODES:
            raise QueryRefused(
                f"{kind or 'this'} queries are not allowed: only SELECT (with set operations, CTEs and subqueries) runs"
            )
        ctes = self._ctes(node.get("cte_map"), ctes)
        for key, value in node.items():
            if key == "cte_map":
                continue
            if key in ("left", "right", "children") or key.endswith("query"):
                self._queries(value, ctes)
            elif key == "from_table":
                self.table(value, ctes)
            elif key != "modifiers":
                self.expressions(value, ctes)
        self.expressions(node.get("modifiers"), ctes)

    def _queries(self, value, ctes: frozenset[str]) -> None:
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, dict):
                self.query(child, ctes)

    def _ctes(self, cte_map, ctes: frozenset[str]) -> frozenset[str]:
        """Each CTE body is checked with only the CTEs before it in scope, then its name is added."""
        for entry in (cte_map or {}).get("map", []):
            name = str(entry.get("key", "")).lower()
            if name in system_names() or name.startswith(SYSTEM_PREFIXES):
                raise QueryRefused(f"a CTE may not be named {name!r}: that is a system name; rename it")
            body = (entry.get("value") or {}).get("query_node")
            recursive = ctes | {name} if _refers_to(body, name) and body.get("type") == "RECURSIVE_CTE_NODE" else ctes
            self.query(body, recursive)
            ctes = ctes | {name}
        return ctes

    # --- table references ---

    def table(self, ref, ctes: frozenset[str]) -> None:
        if ref is None:
            return
        kind = ref.get("type")
        if kind not in TABLE_REFS:
            raise QueryRefused(
                f"{kind} in FROM is not allowed: read your views, CTEs, subqueries or "
                f"{', '.join(sorted(TABLE_FUNCTIONS))}()"
            )
        if kind == "BASE_TABLE":
            self._base_table(ref, ctes)
        elif kind == "TABLE_FUNCTION":
            self._table_function(ref.get("function") or {}, ctes)
        elif kind == "SHOW_REF":
            if ref.get("show_type") not in SHOWS or ref.get("table_name") or not ref.get("query"):
                raise QueryRefused(
                    "SHOW lists the whole database: list your views with `.tables` in `hub sql`, "
                    "or DESCRIBE one of them"
                )
            self.query(ref["query"], ctes)
        elif kind == "SUBQUERY":
            self.query((ref.get("subquery") or {}).get("node"), ctes)
        elif kind == "JOIN":
            self.table(ref.get("left"), ctes)
            self.table(ref.get("right"), ctes)
            self.expressions(ref.get("condition"), ctes)
        elif kind == "EXPRESSION_LIST":
            self.expressions(ref.get("values"), ctes)
        self.expressions(ref.get("sample"), ctes)

    def _base_table(self, ref: dict, ctes: frozenset[str]) -> None:
        catalog, schema = ref.get("catalog_name", "").lower(), ref.get("schema_name", "").lower()
        name = ref.get("table_name", "").lower()  # DuckDB identifiers are case-insensitive, quoted or not
        shown = ".".join(p for p in (catalog, schema, name) if p)
        if ref.get("at_clause"):
            raise QueryRefused(f"{shown}: AT (time travel) is not allowed")
        if catalog not in ("", "memory"):
            raise QueryRefused(f"{shown}: only your role's views are readable (staging.<resource>, mart.<name>)")
        if not schema:
            if name in ctes:
                return
            matches = [view for view in self.views if view[1] == name]
            if matches:
                self.read.update(matches)
                return
            raise QueryRefused(f"{name}: not one of your views; name them as staging.<resource> or mart.<name>")
        if (schema, name) in self.views:
            self.read.add((schema, name))
            return
        if schema == "staging" and name in self.refused:
            raise QueryRefused(f"staging.{name} is not readable by your role: {self.refused[name]}")
        raise QueryRefused(f"{shown}: not one of your views (list them with `.tables` in `hub sql`)")

    def _table_function(self, function: dict, ctes: frozenset[str]) -> None:
        name = str(function.get("function_name", "")).lower()
        if name not in TABLE_FUNCTIONS or function.get("schema") or function.get("catalog"):
            raise QueryRefused(
                f"table function {name}() is not allowed: analysts read the warehouse through "
                f"their views only (allowed: {', '.join(sorted(TABLE_FUNCTIONS))})"
            )
        self.expressions(function.get("arguments"), ctes)

    # --- expressions ---

    def expressions(self, value, ctes: frozenset[str]) -> None:
        if isinstance(value, list):
            for child in value:
                self.expressions(child, ctes)
            return
        if not isinstance(value, dict):
            return
        kind = value.get("class")
        if kind is not None:
            self._expression(value, kind, ctes)
            return
        if value.get("type") in QUERY_NODES:
            self.query(value, ctes)
            return
        for key, child in value.items():  # wrappers: arguments, order modifiers, case checks, …
            if key == "node" and isinstance(child, dict):
                self.query(child, ctes)
            else:
                self.expressions(child, ctes)

    def _expression(self, node: dict, kind: str, ctes: frozenset[str]) -> None:
        if kind not in EXPRESSIONS:
            raise QueryRefused(f"{kind.lower()} expressions are not allowed in analyst SQL")
        if kind in ("FUNCTION", "WINDOW", "AGGREGATE"):
            _check_function(node)
        if kind == "SUBQUERY":
            self.query((node.get("subquery") or {}).get("node"), ctes)
            self.expressions(node.get("child"), ctes)
            return
        for key, child in node.items():
            if key != "subquery":
                self.expressions(child, ctes)


def _check_function(node: dict) -> None:
    name = str(node.get("function_name", "")).lower()
    if node.get("schema") or node.get("catalog"):
        raise QueryRefused(f"{node.get('schema') or node.get('catalog')}.{name}(): qualified functions are not allowed")
    if node.get("is_operator") and name in OPERATORS:
        return
    if name not in SCALAR_AND_AGGREGATE_FUNCTIONS:
        raise QueryRefused(
            f"function {name}() is not allowed in analyst SQL: catalogue, settings, file and "
            "system functions are off; ordinary string, number, date, list and aggregate "
            "functions run"
        )


def _refers_to(value, name: str) -> bool:
    """Whether a base-table reference to `name` occurs anywhere below `value`."""
    if isinstance(value, dict):
        if (
            value.get("type") == "BASE_TABLE"
            and not value.get("schema_name")
            and str(value.get("table_name", "")).lower() == name
        ):
            return True
        return any(_refers_to(child, name) for child in value.values())
    if isinstance(value, list):
        return any(_refers_to(child, name) for child in value)
    return False


def views_of(names: Iterable[tuple[str, str]]) -> RoleViews:
    return RoleViews(views=set(names))
