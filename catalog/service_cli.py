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
    out: Annotated[
        Optional[Path], typer.Option("--out", help="folder for the files; default var/reports/<date>")
    ] = None,  # noqa: UP007 (typer needs Optional)
    as_of: Annotated[
        Optional[str], typer.Option("--as-of", help="ISO date or time, as `hub coverage --as-of`; default now")
    ] = None,  # noqa: UP007
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="print the PDF with headless Chromium")] = True,
) -> None:
    """The leadership report: HTML and PDF (summary page plus appendix), the gap list as XLSX, coverage.json."""
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


def register(app: typer.Typer, catalog_app: typer.Typer) -> None:
    """Mount `serve` as `hub catalog serve` and `report` as `hub report`."""
    catalog_app.command("serve")(serve)
    app.command("report")(report)
