"""`hub sql` and `hub audit` (mounted by pipeline/cli.py; `hub grant` is catalog.accounts_cli's).

Heavy imports stay inside the commands so `hub --help` stays quick.
"""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

PROMPT_HELP = "one statement per call; end it with ';'. .tables lists your views, .quit leaves."


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def sql(
    role: str | None = typer.Option(None, "--as", help="platform admins only: query as this department (audited "
                                                        "as such); default: your own department"),
    command: str | None = typer.Option(None, "-c", "--command", help="run this one statement and exit"),
    file: Path | None = typer.Option(None, "-f", "--file", help="run the statements of this file, one call each"),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, csv, json or parquet"),
    output: Path | None = typer.Option(None, "-o", "--output", help="write here (required for parquet)"),
) -> None:
    """Query the warehouse as your department, within its sharing rights; every query is audited."""
    role = _signed_in_role(role, command or (str(file) if file else "(interactive shell)"))
    if output_format is OutputFormat.parquet and output is None:
        raise typer.BadParameter("parquet output needs --output FILE")
    if command is not None:
        raise typer.Exit(0 if _run(role, command, output_format, output) else 1)
    if file is not None:
        raise typer.Exit(0 if _run_file(role, file, output_format, output) else 1)
    _shell(role, output_format, output)


def _signed_in_role(requested: str | None, statement: str) -> str:
    """The role to query as, from the caller's identity (catalog.accounts); a refusal is audited there."""
    from catalog.accounts import AuthError, sql_role

    try:
        return sql_role(requested, statement)
    except AuthError as error:
        typer.secho(f"refused: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def _run(role: str, statement: str, output_format: OutputFormat, output: Path | None) -> bool:
    from warehouse.access.audit import run_query

    outcome = run_query(role, statement)
    if not outcome.allowed:
        typer.secho(f"refused: {outcome.reason}", fg=typer.colors.RED, err=True)
        return False
    _emit(outcome.table, output_format, output)
    if outcome.truncated:
        typer.secho(f"(cut at {outcome.rows} rows: HUB_QUERY_ROW_LIMIT)", fg=typer.colors.YELLOW, err=True)
    return True


def _run_file(role: str, file: Path, output_format: OutputFormat, output: Path | None) -> bool:
    from warehouse.access.sandbox import QueryRefused, single_statements

    try:
        statements = single_statements(file.read_text(encoding="utf-8"))
    except QueryRefused as refused:
        typer.secho(f"refused: {refused}", fg=typer.colors.RED, err=True)
        return False
    # Each statement is its own call: checked, run in a fresh role database and audited alone.
    return all([_run(role, statement, output_format, output) for statement in statements])


def _shell(role: str, output_format: OutputFormat, output: Path | None) -> None:
    from warehouse.access.audit import views_of

    typer.echo(f"hub sql as {role}: {PROMPT_HELP}")
    pending: list[str] = []
    while True:
        try:
            line = input("hub> " if not pending else "...> ")
        except EOFError:
            typer.echo()
            return
        stripped = line.strip()
        if not pending and stripped in (".quit", ".exit", "\\q"):
            return
        if not pending and stripped == ".tables":
            typer.echo("\n".join(views_of(role)) or "(no views: nothing landed you may read)")
            continue
        pending.append(line)
        if stripped.endswith(";"):
            _run(role, "\n".join(pending), output_format, output)
            pending = []


def _emit(table, output_format: OutputFormat, output: Path | None) -> None:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if output_format is OutputFormat.parquet:
        pq.write_table(table, output)
        typer.echo(f"wrote {table.num_rows} rows to {output}", err=True)
        return
    if output_format is OutputFormat.csv:
        if output:
            pa_csv.write_csv(table, output)
        else:
            sink = sys.stdout.buffer
            pa_csv.write_csv(table, sink)
            sink.flush()
        return
    if output_format is OutputFormat.json:
        import orjson

        text = orjson.dumps(table.to_pylist(), default=str, option=orjson.OPT_INDENT_2).decode()
        _write_text(text, output)
        return
    _print_table(table)


def _write_text(text: str, output: Path | None) -> None:
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)


def _print_table(table) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = Table(*table.column_names)
    for row in table.to_pylist():
        shown.add_row(*("NULL" if v is None else str(v) for v in row.values()))
    Console().print(shown)
    typer.echo(f"({table.num_rows} rows)", err=True)


# --- audit ----------------------------------------------------------------------------------------

def audit(
    role: str | None = typer.Option(None, "--role", help="only this role's queries (department id, admin, leadership)"),
    limit: int = typer.Option(50, help="newest first, at most this many"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """The audit trail of analyst queries: who, when, SQL, allowed or refused and why, rows, duration."""
    from catalog.db import session_scope
    from catalog.grants import list_audit

    with session_scope() as session:
        rows = [{
            "id": e.id, "asked_at": e.asked_at.isoformat(), "role": e.role, "user": e.user_name, "channel": e.channel,
            "allowed": e.allowed, "rows": e.rows, "truncated": e.truncated, "duration_ms": e.duration_ms,
            "sql": e.sql_text, "reason": e.reason,
        } for e in list_audit(session, role=role, limit=limit)]
    _print_rows(rows, as_json)


def _print_rows(rows: list[dict], as_json: bool) -> None:
    if as_json:
        import orjson

        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.console import Console
    from rich.table import Table

    if not rows:
        typer.echo("(none)")
        return
    shown = Table(*rows[0].keys())
    for row in rows:
        shown.add_row(*("" if v is None else str(v) for v in row.values()))
    Console().print(shown)
