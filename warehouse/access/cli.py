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
    role: str | None = typer.Option(
        None,
        "--as",
        help="platform admins only: query as this department (audited as such); default: your own department",
    ),
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


def _run(
    role: str, statement: str, output_format: OutputFormat, output: Path | None, *, in_shell: bool = False
) -> bool:
    from warehouse.access.audit import run_query

    try:
        outcome = run_query(role, statement)
    except KeyboardInterrupt:  # audited as interrupted by run_query; say so and stop cleanly
        typer.secho("interrupted: the query was stopped (audited)", fg=typer.colors.YELLOW, err=True)
        if in_shell:
            return False  # back to the prompt, as psql does
        raise typer.Exit(130) from None
    if not outcome.allowed:
        label = "refused" if outcome.status == "refused" else outcome.status
        message = outcome.reason if (outcome.reason or "").startswith(label) else f"{label}: {outcome.reason}"
        typer.secho(message, fg=typer.colors.RED, err=True)
        return False
    _emit(outcome.table, output_format, output)
    from warehouse.access.objection_flags import notices

    for notice in notices(statement):
        typer.secho(notice, fg=typer.colors.YELLOW, err=True)
    if outcome.truncated:
        typer.secho(f"(cut at {outcome.rows} rows: HUB_QUERY_ROW_LIMIT)", fg=typer.colors.YELLOW, err=True)
    return True


def _run_file(role: str, file: Path, output_format: OutputFormat, output: Path | None) -> bool:
    from warehouse.access.audit import record_refusal
    from warehouse.access.statement import QueryRefused, split_statements

    script = file.read_text(encoding="utf-8")
    try:
        statements = [statement.query for statement in split_statements(script)]
    except QueryRefused as refused:
        record_refusal(role, script, f"{refused} (the whole script {file.name} was refused)")
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
        except KeyboardInterrupt:  # Ctrl-C at the prompt drops the statement being typed
            typer.echo()
            pending = []
            continue
        stripped = line.strip()
        if not pending and stripped in (".quit", ".exit", "\\q"):
            return
        if not pending and stripped == ".tables":
            typer.echo("\n".join(views_of(role)) or "(no views: nothing landed you may read)")
            continue
        pending.append(line)
        if stripped.endswith(";"):
            _run(role, "\n".join(pending), output_format, output, in_shell=True)
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
    from rich.text import Text

    # Text objects, never markup strings: a value such as '[/bold]' or '[link=…]' shows as typed.
    shown = Table()
    for name in table.column_names:
        shown.add_column(Text(name))
    for row in table.to_pylist():
        shown.add_row(*(Text("NULL" if v is None else str(v)) for v in row.values()))
    Console().print(shown)
    typer.echo(f"({table.num_rows} rows)", err=True)


# --- audit ----------------------------------------------------------------------------------------


def audit(
    role: str | None = typer.Option(None, "--role", help="only this role's queries (department id, admin, leadership)"),
    limit: int = typer.Option(50, help="newest first, at most this many"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """The audit trail of analyst queries: who, when, SQL, how it ended and why, grants used, rows, duration."""
    from catalog.db import session_scope
    from catalog.grants import list_audit, shown_status
    from hub import clock
    from hub.settings import get_settings

    now = clock.now()
    stale_after = get_settings().query_timeout_s + 60  # no query runs longer: its `hub sql` died
    with session_scope() as session:
        rows = [
            {
                "id": e.id,
                "asked_at": e.asked_at.isoformat(),
                "user": e.user_name,
                "user_role": e.user_role,
                "role": e.role,
                "channel": e.channel,
                "status": shown_status(e, now, stale_after),
                "allowed": e.allowed,
                "grants": e.grant_ids,
                "rows": e.rows,
                "truncated": e.truncated,
                "duration_ms": e.duration_ms,
                "sql": e.sql_text,
                "reason": e.reason,
            }
            for e in list_audit(session, role=role, limit=limit)
        ]
    _print_rows(rows, as_json)


def _print_rows(rows: list[dict], as_json: bool) -> None:
    if as_json:
        import orjson

        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not rows:
        typer.echo("(none)")
        return
    shown = Table()
    for key in rows[0]:
        shown.add_column(Text(key))
    for row in rows:
        shown.add_row(*(Text("" if v is None else str(v)) for v in row.values()))
    Console().print(shown)
