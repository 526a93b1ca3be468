"""`hub streams up|status|down|run|catch-up`: the long-running connectors of the 实时 resources."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from catalog import reader
from catalog.streams import read_status
from hub.errors import HubError
from pipeline import layout

console = Console(stderr=True, soft_wrap=True)
app = typer.Typer(
    help="Long-running connectors of the 实时 resources, supervised: restarts with backoff, health, lag.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _configure_logging() -> None:
    import logging

    from rich.logging import RichHandler

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(message)s",
            handlers=[RichHandler(console=console, show_path=False, markup=False)],
        )
        logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python narrates metadata at INFO


@app.command("up")
def up(
    resource: list[str] = typer.Option(
        None, "--resource", "-r", help="supervise only these (default: every bound 实时 resource, re-read every 30 s)"
    ),
    poll: float = typer.Option(5.0, "--poll", help="seconds between a stream's passes"),
) -> None:
    """Run the supervisor in the foreground until SIGTERM or Ctrl-C (which stop every stream cleanly)."""
    from pipeline import streams  # Kafka clients: not at `hub --help`

    _configure_logging()
    known = layout.realtime_resources(reader.catalogue())
    unknown = [r for r in resource or [] if r not in layout.all_bound_resources(reader.catalogue())]
    if unknown:
        raise HubError(f"not bound resources of the catalogue: {', '.join(unknown)}; the 实时 ones: {', '.join(known)}")
    console.print(
        f"supervising {len(resource or known)} streams; status: `hub streams status` or {streams.status_path()}"
    )
    try:
        streams.Supervisor(list(resource) if resource else None, poll_seconds=poll).run()
    except streams.SupervisorRunning as exc:
        raise HubError(str(exc)) from None
    console.print("streams supervisor stopped")


@app.command("run")
def run(
    resource_id: str = typer.Argument(..., help="a bound resource id"),
    poll: float = typer.Option(5.0, "--poll", help="seconds between passes"),
) -> None:
    """One stream in the foreground (what the supervisor starts per resource): the connector, followed."""
    from pipeline import streams  # Kafka clients: not at `hub --help`

    _configure_logging()
    # SIGTERM ends the stream like Ctrl-C: the connector flushes, saves its state and exits.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    raise typer.Exit(streams.run_stream(resource_id, poll_seconds=poll))


@app.command("status")
def status(
    as_json: bool = typer.Option(False, "--json"),
    check: bool = typer.Option(
        False, "--check", help="print nothing; exit 0 only while the supervisor runs (a container healthcheck)"
    ),
) -> None:
    """Per stream: running/pid, last delivered, records delivered, restarts, last error, landing lag."""
    document = read_status()
    # A stream in backoff (its source is down) is shown, not a reason to call the supervisor unhealthy.
    healthy = document["supervisor"]["state"] == "running"
    if as_json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    elif not check:
        _print_status(document)
    raise typer.Exit(0 if healthy or not check else 1)


def _print_status(document: dict) -> None:
    supervisor = document["supervisor"]
    console.print(
        f"supervisor: {supervisor['state']}"
        + (f", pid {supervisor['pid']}" if supervisor.get("pid") else "")
        + (
            f", heartbeat {supervisor['heartbeat_age_s']} s ago"
            if supervisor.get("heartbeat_age_s") is not None
            else ""
        )
        + f" ({supervisor['status_file']})"
    )
    if not document["streams"]:
        console.print("no streams: start the supervisor with `hub streams up` (it runs every bound 实时 resource)")
        return
    table = Table(title_justify="left")
    for column in ("stream", "state", "pid", "last delivered", "delivered", "dlq", "restarts", "lag", "last error"):
        table.add_column(
            column, justify="right" if column in ("pid", "delivered", "dlq", "restarts", "lag") else "left"
        )
    for row in document["streams"]:
        lag = "?" if row.get("lag") is None else f"{row['lag']:,}"
        table.add_row(
            row["resource"],
            row["state"] + (f" (restart in {row['next_start_in_s']} s)" if row.get("next_start_in_s") else ""),
            str(row.get("pid") or ""),
            _local(row.get("last_delivered_at")),
            f"{row.get('records_delivered') or 0:,}",
            f"{row.get('dlq_records') or 0:,}",
            str(row.get("restarts", 0)),
            lag,
            escape((row.get("last_error") or "")[:80]),
        )
    console.print(table)


def _local(moment: str | None) -> str:
    """An ISO time as Beijing time, to the second."""
    if not moment:
        return "never"
    from datetime import datetime

    from hub.timezone import LOCAL_TZ

    return datetime.fromisoformat(moment).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


@app.command("down")
def down(timeout: float = typer.Option(40.0, "--timeout", help="seconds to wait for it to stop")) -> None:
    """Stop the supervisor of this hub home (SIGTERM: it stops every stream cleanly)."""
    supervisor = read_status()["supervisor"]
    pid = supervisor.get("pid")
    if supervisor["state"] not in ("running", "stale") or not pid:
        console.print(f"no streams supervisor runs ({supervisor['state']})")
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        console.print(f"the supervisor (pid {pid}) is gone already")
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read_status()["supervisor"]["state"] == "stopped":
            console.print(f"stopped the streams supervisor (pid {pid})")
            return
        time.sleep(0.5)
    raise HubError(f"the supervisor (pid {pid}) did not stop within {timeout:.0f} s; see `hub streams status`")


@app.command("catch-up")
def catch_up() -> None:
    """One pass of every 实时 connector (what the streams do continuously), e.g. when no supervisor runs."""
    from connectors.runner import resolve_targets, run_resources  # Kafka and the source kinds: only here

    _configure_logging()
    catalogue = reader.catalogue()
    resources = [r for rid in layout.realtime_resources(catalogue) for r in resolve_targets(catalogue, rid)]
    reports = run_resources(resources, progress=sys.stderr.isatty())
    for report in reports:
        outcome = "ok" if report.ok else f"{report.error_kind}: {report.error}"
        console.print(f"{report.resource}: {report.produced:,} records, {report.dlq:,} to the DLQ — {escape(outcome)}")
    if any(not report.ok for report in reports):
        raise typer.Exit(1)
