"""`hub catalog serve` (the catalogue service) and `hub report` (the leadership report).

pipeline/cli.py mounts them with `register(app, catalog_app)`; heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from catalog.cli import parse_as_of

err = Console(stderr=True, soft_wrap=True)


def serve(
    host: Annotated[str, typer.Option("--host", help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port", min=1, max=65535)] = 8000,
) -> None:
    """Serve the dashboard, resources and departments pages, their JSON twins and /catalog.jsonld."""
    import uvicorn  # the web stack: only for `hub catalog serve`

    from catalog.service.app import create_app  # FastAPI + SQLAlchemy: only for `hub catalog serve`

    app = create_app()
    err.print(f"catalogue service on [bold]http://{host}:{port}[/] (JSON under /api, OpenAPI at /openapi.json)")
    uvicorn.run(app, host=host, port=port, log_level="info")


def report(
    ctx: typer.Context,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="folder for the files; default var/reports/<date>")
    ] = None,  # noqa: UP007 (typer needs Optional)
    as_of: Annotated[
        Optional[str], typer.Option("--as-of", help="ISO date or time, as `hub coverage --as-of`; default now")
    ] = None,  # noqa: UP007
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="print the PDF with headless Chromium")] = True,
) -> None:
    """The leadership report: HTML and PDF (summary, path to target, appendix), the gaps as XLSX, coverage.json.
    `hub report send` mails it."""
    if ctx.invoked_subcommand is not None:
        return
    from catalog.report.render import render_report  # matplotlib, openpyxl, SQLAlchemy: only for `hub report`

    files = render_report(out, parse_as_of(as_of) if as_of else None, pdf=pdf)
    for label, path in (
        ("HTML", files.html),
        ("PDF", files.pdf),
        ("XLSX", files.xlsx),
        ("figures", files.coverage_json),
    ):
        if path is not None:
            err.print(f"{label:8} {path}")


def send(
    to: Annotated[Optional[str], typer.Option("--to", help="comma-separated addresses; default HUB_REPORT_TO")] = None,  # noqa: UP007
    folder: Annotated[
        Optional[Path], typer.Option("--folder", help="send this rendered report instead of rendering one now")
    ] = None,  # noqa: UP007
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="ISO date or time to render for; default now")] = None,  # noqa: UP007
) -> None:
    """Render the report (or take --folder) and mail the PDF and the gap workbook through HUB_SMTP_HOST."""
    from catalog.report.deliver import send_report  # the mail and the report stack: only for this command
    from catalog.report.render import render_report
    from hub.errors import HubError

    recipients = [address.strip() for address in to.split(",") if address.strip()] if to else None
    try:
        if folder is None:
            folder = render_report(None, parse_as_of(as_of) if as_of else None).folder
        sent_to = send_report(folder, recipients)
    except HubError as exc:
        err.print(f"[red]report not sent:[/] {exc}")
        raise typer.Exit(1) from None
    err.print(f"sent {folder} to {', '.join(sent_to)}")


def register(app: typer.Typer, catalog_app: typer.Typer) -> None:
    """Mount `serve` as `hub catalog serve`, `report` as `hub report` and `hub report send`."""
    catalog_app.command("serve")(serve)
    report_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
    report_app.callback()(report)
    report_app.command("send")(send)
    app.add_typer(report_app, name="report")
