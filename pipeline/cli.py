"""The `hub` command: every step of the pipeline by hand, the same library calls the DAGs make.

The composition: each package contributes its own sub-commands and this module mounts them (one
explicit list, no discovery). Heavy libraries load inside the commands, so `hub --help` stays quick.
"""

from __future__ import annotations

import json
import os
import sys
import time

import typer
from rich.console import Console

from catalog import accounts_cli, objections_cli, service_cli
from catalog import cli as catalog_cli
from catalog.lineage import Storage, use_storage
from catalog.streams import read_status
from connectors import cli as connectors_cli
from hub import broker
from hub.errors import HubError
from pipeline import layout, streams_cli
from quality import cli as quality_cli
from synthetic import cli as sources_cli
from warehouse import cli as warehouse_cli
from warehouse.access import cli as access_cli

app = typer.Typer(
    help="Shunde data hub: sources → Kafka → lake/warehouse, catalogue and coverage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
kafka_app = typer.Typer(
    help="The Kafka cluster: a local broker, or the one in HUB_KAFKA_BOOTSTRAP.", no_args_is_help=True
)
app.add_typer(kafka_app, name="kafka")
console = Console(stderr=True, soft_wrap=True)


@kafka_app.command("up")
def kafka_up() -> None:
    """Start the local broker (a no-op when it runs, or when HUB_KAFKA_BOOTSTRAP is set)."""
    console.print(broker.up())


@kafka_app.command("down")
def kafka_down() -> None:
    """Stop the local broker cleanly; topics and data stay in var/kafka."""
    console.print(broker.down())


@kafka_app.command("status")
def kafka_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Running or stopped, the version and the topics."""
    state = broker.status()
    if as_json:
        print(json.dumps(state, ensure_ascii=False, indent=2))
    else:
        colour = "green" if state["state"] == "running" else "red"
        console.print(
            f"[{colour}]{state['state']}[/] {state['version'] or ''} at {state['bootstrap']} ({state['managed']})"
        )
        if state["pid"]:
            console.print(f"pid {state['pid']}, log {state['log']}")
        console.print(f"{len(state['topics'])} topics" + (": " + ", ".join(state["topics"]) if state["topics"] else ""))
    raise typer.Exit(0 if state["state"] == "running" else 1)


@kafka_app.command("logs")
def kafka_logs(lines: int = typer.Option(50, "-n"), follow: bool = typer.Option(False, "-f", "--follow")) -> None:
    """Show the end of the local broker's log."""
    log = broker.layout().server_log
    if not log.exists():
        raise HubError(f"no broker log at {log}: run `hub kafka up` first")
    os.execvp("tail", ["tail", f"-n{lines}", *(["-f"] if follow else []), str(log)])


@kafka_app.command("tool", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def kafka_tool(
    ctx: typer.Context, name: str = typer.Argument(..., help="e.g. kafka-topics, kafka-console-consumer")
) -> None:
    """Run one of Kafka's own CLI tools, e.g. `hub kafka tool kafka-topics --bootstrap-server 127.0.0.1:9092 --list`."""
    command = broker.tool_command(name, list(ctx.args))
    os.execvp(command[0], command)


flow_app = typer.Typer(help="The ingest DAGs' steps by hand (what each Airflow task calls).", no_args_is_help=True)
app.add_typer(flow_app, name="flow")


@flow_app.command("run")
def flow_run(
    target: str = typer.Argument(..., help="a domain (population, legal_entity, …) or one bound resource id"),
) -> None:
    """connect → land → quality gate → stage for each bound resource of TARGET, then sync the catalogue."""
    from pipeline import flow  # loads DuckDB, Kafka clients and the gate: not at `hub --help`

    resources = layout.bound_resources(target) or ([target] if target in layout.all_bound_resources() else [])
    if not resources:
        raise HubError(f"{target!r} is neither a domain ({', '.join(layout.DOMAIN_TITLES)}) nor a bound resource id")
    # A 实时 resource's connector already runs under the streams supervisor (and holds its lock).
    streamed = set(layout.realtime_resources()) if read_status()["supervisor"]["state"] == "running" else set()
    for resource_id in resources:
        if resource_id in streamed:
            console.print(f"{resource_id}: its stream delivers continuously (`hub streams status`); landing only")
        else:
            flow.connect(resource_id)
        loaded = flow.load(resource_id)
        landed, staged = loaded["landed"], loaded["staged"]
        console.print(
            f"{resource_id}: {landed['rows']} rows landed, {landed['dlq_rows']} to the DLQ, "
            f"{staged['quarantined_rows']} quarantined, {staged['merged_rows']} merged into staging"
        )
    console.print(f"marts: {', '.join(flow.refresh_marts()) or 'none yet'}")
    console.print(f"catalogue: {flow.sync_catalogue()['applied']}")


@flow_app.command("snapshot")
def flow_snapshot() -> None:
    """Apply pending catalogue events, take today's coverage snapshot and render the report (coverage_daily)."""
    from pipeline import flow  # loads DuckDB, Kafka clients and the gate: not at `hub --help`

    flow.sync_catalogue()
    print(json.dumps(flow.snapshot(), ensure_ascii=False, indent=2))
    console.print(f"report: {flow.render_report()['folder']}")


@app.command("demo")
def demo(
    once: bool = typer.Option(False, "--once", help="exit after the flow instead of keeping the UIs up"),
    scale: str = typer.Option("small", "--scale", help="size of the synthetic sources: small | medium | full"),
    simulate_days: int = typer.Option(
        0, "--simulate", help="instead of one run through Airflow, simulate N days (see `hub simulate`)"
    ),
) -> None:
    """The main job: catalogue, sources, every ingest DAG through Airflow, coverage and the report."""
    from pipeline.demo import demo as run_demo  # the demo's console and subprocess set-up: only for `hub demo`

    run_demo(once=once, scale=scale, simulate_days=simulate_days)


@app.command("simulate")
def simulate(
    days: int = typer.Option(..., "--days", min=1, help="how many simulated days"),
    scale: str = typer.Option("tiny", "--scale", help="size of the synthetic sources: tiny | small"),
    start: str = typer.Option(None, "--start", help="the first simulated day (ISO date; default the scenario's)"),
) -> None:
    """Run the platform over N simulated days against stepping stand-ins; one snapshot per day."""
    from datetime import date

    from pipeline import simulate as simulation  # the flows (DuckDB, Kafka clients, the gate)

    try:
        first = date.fromisoformat(start) if start else simulation.DEFAULT_START
    except ValueError:
        raise HubError(f"--start {start!r} is not an ISO date (2026-09-23)") from None
    started = time.perf_counter()
    simulation.simulate(days, scale, first, report=_print_day)
    console.print(f"simulated {days} days in {time.perf_counter() - started:.0f} s; `hub coverage` shows the trend")


def _print_day(result) -> None:
    failed = f", [red]{len(result.failed)} failed[/] ({', '.join(sorted(result.failed))})" if result.failed else ""
    seconds = " ".join(f"{phase} {value:.0f} s" for phase, value in result.seconds.items())
    console.print(
        f"{result.day}  ran {len(result.ran):>3}{failed}  coverage {result.aggregated}/{result.total} "
        f"= {result.ratio:.1%}  [dim]{seconds}[/]"
    )


def _mount_packages() -> None:
    """Packages contribute their own sub-commands; one explicit list, no discovery."""
    app.add_typer(catalog_cli.app, name="catalog")
    app.command("coverage")(catalog_cli.coverage)
    service_cli.register(app, catalog_cli.app)
    app.add_typer(sources_cli.app, name="seed")
    app.add_typer(sources_cli.sources_app, name="sources")
    app.command("connect")(connectors_cli.connect)
    app.add_typer(streams_cli.app, name="streams")
    app.add_typer(warehouse_cli.app, name="warehouse")
    app.add_typer(quality_cli.app, name="quality")
    quality_cli.app.command("check")(warehouse_cli.quality_check)  # the gate's storage is the warehouse's
    quality_cli.app.command("quarantine")(warehouse_cli.quarantine)  # the warehouse keeps the quarantine zone
    app.command("sql")(access_cli.sql)
    accounts_cli.register(app)  # hub account …, hub grant …
    app.add_typer(objections_cli.app, name="objection")
    app.command("audit")(access_cli.audit)


def _wire_storage() -> None:
    """The catalogue service's lineage view asks the warehouse where a resource's rows are."""
    use_storage(
        Storage(
            lake_folder=lambda resource: _warehouse_lineage().lake_folder(resource),
            marts_reading=lambda resource: _warehouse_lineage().marts_reading(resource),
        )
    )


def _warehouse_lineage():
    from warehouse import lineage  # loads DuckDB and pyarrow (lake, marts): only when a page asks

    return lineage


def _wire_workspace() -> None:
    """The catalogue service's analyst workspace runs its SQL in the warehouse's sandbox."""
    from pipeline import workspace  # light: the warehouse's access layer loads when a query runs

    workspace.wire()


def main() -> None:
    _mount_packages()
    _wire_storage()
    _wire_workspace()
    try:
        app()
    except HubError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(2)
