"""Typer apps the hub CLI mounts: `hub seed …` (build the synthetic sources) and
`hub sources up|down|status|publish` (run their services, send the IoT outbox)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console

from connectors import systems

console = Console(stderr=True, soft_wrap=True)
app = typer.Typer(
    help="Build the departments' synthetic source systems, deterministically.", pretty_exceptions_enable=False
)
sources_app = typer.Typer(
    help="The synthetic sources' services: video platform API and Mosquitto.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def seed(
    scale: str = typer.Option(
        "small", "--scale", help="small (demo, ~1 min end to end) | medium (10×) | full (Shunde-sized)"
    ),
    seed_value: int = typer.Option(7, "--seed", help="same seed and scale → byte-identical sources"),
    step: int = typer.Option(0, "--step", help="0 builds afresh; K > 0 adds step K's new and changed records"),
    as_of: str = typer.Option(
        None, "--as-of", help="the synthetic 'now' of step 0, ISO-8601 (default 2026-11-20T00:00+08:00)"
    ),
    only: list[str] = typer.Option(None, "--only", help="seed just these resource ids (repeatable)"),
    step_hours: float = typer.Option(
        None, "--step-hours", help="how far each step moves the synthetic clock (set at step 0; default 1)"
    ),
    skip_department: list[str] = typer.Option(
        None, "--skip-department", help="a department whose systems are down: no new records this step (repeatable)"
    ),
    catalogue: Path = typer.Option(
        None, "--catalogue", help="the catalogue folder the stand-ins are built from (default catalog/seed)"
    ),
    clean: bool = typer.Option(
        False, "--clean", help="a later step's new and changed records carry no injected defect (simulations)"
    ),
    workers: int = typer.Option(
        None, "--workers", help="processes building sources side by side (default 1 at tiny/small, else 2)"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Generate every bound resource's source object and write var/sources/manifest.json."""
    from synthetic.generate import seed as run_seed  # numpy, SQLAlchemy, GeoPackage writers: only for `hub seed`

    def progress(resource_id: str, records: int, seconds: float) -> None:
        if not quiet:
            console.print(f"  {resource_id:<34} {records:>10,} records  {seconds:6.2f} s")

    started = time.perf_counter()
    moment = datetime.fromisoformat(as_of) if as_of else None
    manifest = run_seed(
        scale,
        seed_value,
        step,
        as_of=moment,
        catalogue_path=catalogue,
        only=set(only) if only else None,
        skip_departments=set(skip_department or ()),
        step_hours=step_hours,
        clean=clean,
        progress=progress,
        workers=workers,
    )
    total = sum(entry["records"] for entry in manifest["resources"].values())
    console.print(
        f"[green]seeded[/] {len(manifest['resources'])} resources, {total:,} records "
        f"(scale {scale}, seed {seed_value}, step {step}) in {time.perf_counter() - started:.1f} s; "
        f"manifest {systems.manifest_path()}"
    )


@sources_app.command("up")
def sources_up() -> None:
    """Start the video platform API and the Mosquitto broker (no-ops when running)."""
    from synthetic import services  # httpx and the service manager: only for `hub sources`

    for line in services.up():
        console.print(line)


@sources_app.command("down")
def sources_down() -> None:
    """Stop the services `hub sources up` started."""
    from synthetic import services  # httpx and the service manager: only for `hub sources`

    for line in services.down():
        console.print(line)


@sources_app.command("status")
def sources_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Running or stopped, per service; exit 1 unless all run."""
    from synthetic import services  # httpx and the service manager: only for `hub sources`

    states = services.status()
    if as_json:
        print(json.dumps(states, indent=2))
    else:
        for state in states:
            colour = "green" if state["state"] == "running" else "red"
            console.print(
                f"[{colour}]{state['state']:<8}[/] {state['service']:<19} {state['address']} "
                f"pid {state['pid'] or '-'}  log {state['log']}"
            )
    raise typer.Exit(0 if all(s["state"] == "running" for s in states) else 1)


@sources_app.command("publish")
def sources_publish(
    rate: float = typer.Option(None, "--rate", help="messages per second (default: as fast as PUBACKs come)"),
    everything: bool = typer.Option(False, "--all", help="publish the whole outbox again, not only new messages"),
) -> None:
    """Sensors publish the seeded telemetry (QoS 1, waiting for every PUBACK)."""
    from synthetic.publisher import publish  # paho-mqtt: only for `hub sources publish`

    started = time.perf_counter()
    sent = publish(rate, everything=everything)
    console.print(f"published {sent:,} messages in {time.perf_counter() - started:.1f} s")


_CATALOGUE_OPTION = typer.Option(None, "--catalogue", help="the catalogue folder the stand-ins were built from")


@sources_app.command("outage")
def sources_outage(department: str = typer.Argument(...), catalogue: Path = _CATALOGUE_OPTION) -> None:
    """Take a department's database tables down (connectors get "no such table" until `restore`)."""
    from synthetic import incidents  # SQLAlchemy and the catalogue: only for this command

    taken = incidents.outage(department, catalogue)
    console.print(f"[yellow]down[/] {department}: {', '.join(taken) or 'no database table'}")


@sources_app.command("restore")
def sources_restore(department: str = typer.Argument(...), catalogue: Path = _CATALOGUE_OPTION) -> None:
    """Bring a department's tables back after `outage`, with every row they held."""
    from synthetic import incidents  # SQLAlchemy and the catalogue: only for this command

    back = incidents.restore(department, catalogue)
    console.print(f"[green]up[/] {department}: {', '.join(back) or 'nothing was down'}")


@sources_app.command("bad-batch")
def sources_bad_batch(
    resource: str = typer.Argument(...),
    rows: int = typer.Option(10, "--rows", min=1),
    catalogue: Path = _CATALOGUE_OPTION,
) -> None:
    """Rewrite ROWS records of RESOURCE with a value outside an item's value set (until `correct`)."""
    from synthetic import incidents  # SQLAlchemy and the catalogue: only for this command

    done = incidents.bad_batch(resource, rows, catalogue)
    console.print(f"[yellow]bad batch[/] {resource}: {done['rows']} rows with {done['item']} = {done['value']!r}")


@sources_app.command("correct")
def sources_correct(resource: str = typer.Argument(...), catalogue: Path = _CATALOGUE_OPTION) -> None:
    """Rewrite the bad batch's records of RESOURCE with their original values."""
    from synthetic import incidents  # SQLAlchemy and the catalogue: only for this command

    done = incidents.correct(resource, catalogue)
    console.print(f"[green]corrected[/] {resource}: {done['rows']} rows of {done['item']}")
