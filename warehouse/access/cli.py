"""`hub sql` and `hub audit` (mounted by pipeline/cli.py; `hub grant` is catalog.accounts_cli's).

Heavy imports stay inside the commands so `hub --help` stays quick.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".xlsx": "xlsx", ".parquet": "parquet"}


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    line = "line"
    xlsx = "xlsx"
    parquet = "parquet"


SCREEN_MODES = ("table", "csv", "json", "line")


def sql(
    role: str | None = typer.Option(
        None,
        "--as",
        help="platform admins only: query as this department (audited as such); default: your own department",
    ),
    command: str | None = typer.Option(None, "-c", "--command", help="run these statements (';' between) and exit"),
    file: Path | None = typer.Option(None, "-f", "--file", help="run the statements of this file, one call each"),
    output_format: OutputFormat | None = typer.Option(
        None, "--format", help="screen: table, csv, json, line; file: csv (with BOM), json, xlsx, parquet"
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="write every row of the one statement here (format from --format or the suffix)"
    ),
) -> None:
    """Query the warehouse as your department, within its sharing rights; every query is audited.

    On the screen a result stops at HUB_QUERY_ROW_LIMIT rows; a file (-o) gets every row, or the
    command fails and says why. Times are shown in Beijing time with their offset.
    """
    role = _signed_in_role(role, command or (str(file) if file else "(interactive shell)"))
    if output is not None:
        fmt = _file_format(output_format, output)
        raise typer.Exit(0 if _export(role, command, file, fmt, output) else 1)
    mode = (output_format or OutputFormat.table).value
    if mode not in SCREEN_MODES:
        raise typer.BadParameter(f"--format {mode} writes a file: give -o FILE")
    if command is not None:
        raise typer.Exit(0 if _run_script(role, command, mode, "-c") else 1)
    if file is not None:
        raise typer.Exit(0 if _run_script(role, file.read_text(encoding="utf-8"), mode, file.name) else 1)
    from warehouse.access.repl import Shell

    Shell(role, mode, lambda query, shown: _run(role, query, shown, in_shell=True), _history()).loop()


def _history() -> Path:
    from hub.settings import get_settings

    return get_settings().var_dir / "sql_history"


def _file_format(output_format: OutputFormat | None, output: Path) -> str:
    if output_format is not None and output_format.value in ("table", "line"):
        raise typer.BadParameter(
            f"--format {output_format.value} is for the screen: a file is csv, json, xlsx or parquet"
        )
    if output_format is not None:
        return output_format.value
    fmt = SUFFIX_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise typer.BadParameter(f"{output.name}: say --format csv|json|xlsx|parquet (or end the name so)")
    return fmt


def _signed_in_role(requested: str | None, statement: str) -> str:
    """The role to query as, from the caller's identity (catalog.accounts); a refusal is audited there."""
    from catalog.accounts import AuthError, sql_role

    try:
        return sql_role(requested, statement)
    except AuthError as error:
        typer.secho(f"refused: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def _statements(role: str, script: str, where: str) -> list[str] | None:
    """The statements of `script` as DuckDB splits them; None (refusal audited and said) if it does not parse."""
    from warehouse.access.audit import record_refusal
    from warehouse.access.statement import QueryRefused, split_statements

    try:
        return [statement.query for statement in split_statements(script)]
    except QueryRefused as refused:
        record_refusal(role, script, f"{refused} (the whole of {where} was refused)")
        typer.secho(f"refused: {refused}", fg=typer.colors.RED, err=True)
        return None


def _run_script(role: str, script: str, mode: str, where: str) -> bool:
    queries = _statements(role, script, where)
    if queries is None:
        return False
    # Each statement is its own call: checked, run in a fresh role database and audited alone.
    return all([_run(role, query, mode) for query in queries])


def _say_refused(outcome) -> None:
    label = "refused" if outcome.status == "refused" else outcome.status
    message = outcome.reason if (outcome.reason or "").startswith(label) else f"{label}: {outcome.reason}"
    typer.secho(message, fg=typer.colors.RED, err=True)


def _warn(outcome) -> None:
    for warning in outcome.warnings:
        typer.secho(warning, fg=typer.colors.YELLOW, err=True)


def _run(role: str, statement: str, mode: str, *, in_shell: bool = False) -> bool:
    from warehouse.access.audit import run_query
    from warehouse.access.output import render

    try:
        outcome = run_query(role, statement)
    except KeyboardInterrupt:  # audited as interrupted by run_query; say so and stop cleanly
        typer.secho("interrupted: the query was stopped (audited)", fg=typer.colors.YELLOW, err=True)
        if in_shell:
            return False  # back to the prompt, as psql does
        raise typer.Exit(130) from None
    if not outcome.allowed:
        _say_refused(outcome)
        return False
    _warn(outcome)
    typer.echo(render(outcome.table, mode))
    if mode in ("table", "line"):
        typer.echo(f"({outcome.rows} rows)", err=True)
    from warehouse.access.objection_flags import notices

    for notice in notices(statement):
        typer.secho(notice, fg=typer.colors.YELLOW, err=True)
    if outcome.truncated:
        typer.secho(
            f"(cut at {outcome.rows} rows on the screen: HUB_QUERY_ROW_LIMIT; `-o FILE` writes every row)",
            fg=typer.colors.YELLOW,
            err=True,
        )
    return True


def _export(role: str, command: str | None, file: Path | None, fmt: str, output: Path) -> bool:
    """Every row of the one statement into `output`, or nothing and the reason; prints the rows written."""
    from warehouse.access.exports import export_query

    if command is None and file is None:
        raise typer.BadParameter("-o FILE needs the statement: -c 'SELECT …' or -f query.sql")
    script = command if command is not None else file.read_text(encoding="utf-8")
    queries = _statements(role, script, "-c" if command is not None else file.name)
    if queries is None:
        return False
    if len(queries) != 1:
        typer.secho(
            f"refused: -o writes one statement's result, got {len(queries)}: one file per statement",
            fg=typer.colors.RED,
            err=True,
        )
        return False
    try:
        outcome = export_query(role, queries[0], fmt, output)
    except KeyboardInterrupt:
        typer.secho("interrupted: the export was stopped (audited); nothing was written", fg="yellow", err=True)
        raise typer.Exit(130) from None
    if not outcome.allowed:
        _say_refused(outcome)
        return False
    _warn(outcome)
    typer.echo(f"wrote {outcome.row_count:,} rows to {output} ({fmt})", err=True)
    return True


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
