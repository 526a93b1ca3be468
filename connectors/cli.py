"""`hub connect <resource|domain|all> [--follow]`: run connectors by hand, as the ingest DAGs do.

Also runnable on its own: `python -m connectors.cli connect <target>`.
"""

from __future__ import annotations

import logging
import signal
import sys

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from catalog import reader
from hub.errors import HubError

console = Console(stderr=True, soft_wrap=True)
app = typer.Typer(help="Source connectors: sources → Kafka.", no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _group() -> None:
    """Source connectors: sources → Kafka."""


def _interrupt(signum, frame):
    # SIGTERM (Airflow, systemd, `kill`) ends a run like Ctrl-C: flush, save state, exit.
    raise KeyboardInterrupt


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(message)s",
            handlers=[RichHandler(console=console, show_path=False, markup=False)],
        )
        # kafka-python narrates every metadata refresh at INFO; its warnings still show.
        logging.getLogger("kafka").setLevel(logging.WARNING)


@app.command("connect")
def connect(
    target: str = typer.Argument(..., help="a resource id, a domain (population, gis, …) or 'all'"),
    follow: bool = typer.Option(False, "--follow", help="keep reading new data until interrupted"),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="stop each resource after N records (state is saved)"
    ),
    poll: float = typer.Option(5.0, "--poll", help="seconds between passes with --follow"),
    prepare: bool = typer.Option(
        False, "--prepare", help="only create the MQTT sessions, so the broker keeps what sensors publish"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show progress bars"),
    checkpoint_every: int = typer.Option(
        20_000,
        "--checkpoint-every",
        min=1,
        help="records between flush + state save (smaller: less to re-read after a crash)",
    ),
) -> None:
    """Read what is new in the sources of TARGET and produce it to hub.raw.<resource>."""
    from connectors.runner import connect as run_target  # Kafka, SQLAlchemy, httpx: not at `hub` start-up
    from connectors.runner import resolve_targets

    _configure_logging()
    signal.signal(signal.SIGTERM, _interrupt)
    if prepare:
        _prepare(resolve_targets(reader.catalogue(), target))
        return
    try:
        reports = run_target(
            target, follow=follow, limit=limit, progress=progress, poll_seconds=poll, checkpoint_every=checkpoint_every
        )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted:[/] delivered records are saved in the state; rerun to go on")
        raise typer.Exit(130)
    _print_summary(reports)
    if any(not report.ok for report in reports):
        raise typer.Exit(1)


def _prepare(resources) -> None:
    from connectors.kinds import make_source  # every kind's client library: not at `hub` start-up

    for resource in resources:
        source = make_source(resource)
        if hasattr(source, "prepare"):
            source.prepare()
            console.print(f"{resource.id}: session ready on {source.object_name}")
        source.close()


def _print_summary(reports) -> None:
    table = Table(title="connectors", title_justify="left")
    for column in ("resource", "produced", "dlq", "seconds", "rec/s", "status"):
        table.add_column(column, justify="right" if column in ("produced", "dlq", "seconds", "rec/s") else "left")
    for report in reports:
        rate = (report.produced + report.dlq) / report.seconds if report.seconds else 0
        status = "[green]ok[/]" if report.ok else f"[red]{report.error_kind}[/]: {report.error}"
        table.add_row(
            report.resource, f"{report.produced:,}", f"{report.dlq:,}", f"{report.seconds:.1f}", f"{rate:,.0f}", status
        )
    console.print(table)


def main() -> None:
    try:
        app()
    except HubError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
