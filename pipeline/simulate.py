"""`hub simulate`: the platform over N simulated days, with the one clock pinned to each day.

Day d (1..N), clock at 10:00 Beijing time on `start + d - 1`:

1. the stand-in source systems move one day on (`hub seed --step d --step-hours 24`: births, deaths,
   moves, registrations and cancellations, meter reads, camera and sensor events; the sensors
   publish), and the scenario's incidents happen there (`hub sources outage|restore|bad-batch|correct`);
2. the scenario's late bindings are made through the catalogue's API path, and its share requests
   asked and answered by the departments' users (accounts `sim.<department>.<role>`);
3. every bound resource that is due by its update cycle (pipeline/cycles.py) runs connect → land →
   quality gate → stage, in this process (the same functions the ingest DAGs call); then the marts
   are refreshed and the catalogue applies the events;
4. at 10:30 the daily job stores the day's immutable coverage snapshot.

The stand-ins run as `hub` subprocesses (product code never imports synthetic/), which read the
pinned time from HUB_CLOCK_AT. After the last day the leadership report is rendered, so its trend
shows the N days. Run it on a fresh hub home (HUB_VAR_DIR): history is never rewritten.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import yaml

from catalog import reader
from catalog.selection import SEED_DIR
from hub import clock
from hub.errors import HubError
from hub.settings import get_settings
from hub.timezone import LOCAL_TZ
from pipeline import cycles
from pipeline.scenario import DEFAULT, DEFAULT_START, LateBinding, Scenario, ShareRequest

HUB = str(Path(sys.executable).parent / "hub")
RUN_AT = day_time(10, 0)  # the schedules' slot (Beijing time; its UTC date is the same day)
SNAPSHOT_AT = day_time(10, 30)  # the daily job, after the day's runs
SCALES = ("tiny", "small")


class SimulationError(HubError):
    """The simulation cannot start or go on; the message says what to do."""


@dataclass
class DayResult:
    day: date
    ran: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    aggregated: int = 0
    total: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.aggregated / self.total if self.total else 0.0


def at(day: date, moment: day_time) -> datetime:
    return datetime.combine(day, moment, tzinfo=LOCAL_TZ)


def _hub(*args: str) -> str:
    """A `hub` subprocess (the stand-ins, Kafka); it inherits HUB_CLOCK_AT from the pinned clock."""
    run = subprocess.run([HUB, *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise SimulationError(f"`hub {' '.join(args)}` failed: {(run.stderr or run.stdout).strip()[-2000:]}")
    return run.stderr + run.stdout


def source_catalogue(scenario: Scenario) -> Path:
    """The catalogue the stand-ins are built from: the seed, plus the scenario's late bindings (the
    departments' systems hold those tables before the hub is bound to them)."""
    folder = get_settings().var_dir / "simulation" / "source-catalogue"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(SEED_DIR, folder)
    for late in scenario.late_bindings:
        _add_binding(folder, late)
    return folder


def _add_binding(folder: Path, late: LateBinding) -> None:
    for path in sorted((folder / "resources").glob("*.yaml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        for entry in entries:
            if entry.get("id") == late.resource:
                if entry.get("binding"):
                    raise SimulationError(
                        f"scenario: {late.resource} is bound already; a late binding needs an unbound entry"
                    )
                entry["binding"] = late.binding
                path.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")
                return
    raise SimulationError(f"scenario: no catalogue entry {late.resource!r} to bind")


def bind(late: LateBinding) -> None:
    """Give the entry its binding the way `PUT /api/resources/ID` does: checked, applied as a
    resource.updated event, published to hub.events, committed (the DAG snapshot follows)."""
    from catalog.db import session_scope  # SQLAlchemy and the service's entry model: only when binding
    from catalog.service.errors import ApiError
    from catalog.service.writes import ResourceEntry, publish_event, save_entry

    entry = reader.resolve(late.resource)
    body = {**entry.model_dump(mode="json"), "binding": late.binding}
    with session_scope() as session:
        try:
            event = save_entry(session, ResourceEntry.model_validate(body), now=clock.now(), update=True)
        except ApiError as exc:
            raise SimulationError(f"binding {late.resource}: {exc}") from None
        if event:
            publish_event(event)


def _user(session, department: str, role: str):
    """The department's simulated user in `role`, made on first use."""
    from catalog import accounts

    name = f"sim.{department}.{role}"
    try:
        account = accounts.find_account(session, name)
    except accounts.AuthError:
        account = accounts.add_account(session, name, department=department, role=role, created_by="hub simulate")
    return accounts.identity_of(account)


def share_requests(day_number: int, scenario: Scenario, asked: dict[ShareRequest, int]) -> None:
    """The day's share requests (an analyst of the asking department) and answers (a steward of
    the owner), through the approval flow the CLI and the service use."""
    from catalog import approvals
    from catalog.db import session_scope
    from catalog.identity import ANALYST, STEWARD

    for wish in scenario.requests_on(day_number):
        with session_scope() as session:
            request = approvals.request_grant(
                session,
                _user(session, wish.department, ANALYST),
                resource=wish.resource,
                purpose="人口服务事项核验（模拟）",
                valid_until=clock.now() + timedelta(days=365),
            )
            asked[wish] = request.id
            approvals.publish_recorded(session)  # on hub.events before it commits, as the CLI does
    for wish in scenario.answers_on(day_number):
        with session_scope() as session:
            owner = reader.resolve(wish.resource).provider
            approvals.approve(session, _user(session, owner, STEWARD), asked[wish], reason="同意，按目录条件使用")
            approvals.publish_recorded(session)


def _check_fresh_history(start: date) -> None:
    from sqlalchemy import func, select

    from catalog.db import session_scope
    from catalog.models import CoverageSnapshot

    with session_scope() as session:
        latest = session.scalar(select(func.max(CoverageSnapshot.snapshot_date)))
    if latest is not None and latest >= start:
        raise SimulationError(
            f"the catalogue already holds a coverage snapshot for {latest}, on or after --start {start}: "
            f"snapshots are immutable, so simulate in a fresh hub home (HUB_VAR_DIR) or start after {latest}"
        )


def prepare(scale: str, start: date, scenario: Scenario, seed: int = 7) -> Path:
    """Kafka, the catalogue, the stand-ins at step 0 (the day before `start`), the sensors' sessions."""
    if scale not in SCALES:
        raise SimulationError(f"--scale {scale!r}: a simulation runs at {' or '.join(SCALES)}")
    catalogue = source_catalogue(scenario)
    _hub("kafka", "up")
    with clock.frozen_at(at(start - timedelta(days=1), RUN_AT)):
        _hub("catalog", "load", str(SEED_DIR), "--publish")
        _check_fresh_history(start)
        base = clock.local_now().isoformat()
        _hub(
            "seed",
            "--scale",
            scale,
            "--seed",
            str(seed),
            "--catalogue",
            str(catalogue),
            "--as-of",
            base,
            "--step-hours",
            "24",
            "--quiet",
        )
        _hub("sources", "up")
        _hub("connect", "iot", "--prepare")  # MQTT sessions first, so the broker keeps what sensors send
        _hub("sources", "publish")
    return catalogue


def step_sources(day_number: int, scale: str, scenario: Scenario, catalogue: Path, seed: int = 7) -> None:
    """The stand-ins' day: back from an outage, one step of new and changed records, incidents."""
    where = ("--catalogue", str(catalogue))
    for department in scenario.outages_ending(day_number):
        _hub("sources", "restore", department, *where)
    skip = [arg for dept in sorted(scenario.down_on(day_number)) for arg in ("--skip-department", dept)]
    clean = () if scenario.step_defects else ("--clean",)
    _hub("seed", "--scale", scale, "--seed", str(seed), "--step", str(day_number - 1), *where, *skip, *clean, "--quiet")
    for department in scenario.outages_starting(day_number):
        _hub("sources", "outage", department, *where)
    for batch in scenario.corrections_on(day_number):
        _hub("sources", "correct", batch.resource, *where)
    for batch in scenario.bad_batches_on(day_number):
        _hub("sources", "bad-batch", batch.resource, "--rows", str(batch.rows), *where)
    _hub("sources", "publish")


def due_resources(day: date, last_success: dict[str, date]) -> list[str]:
    """The bound resources in force that run on `day` (pipeline/cycles.py), in id order."""
    entries = [r for r in reader.in_force(reader.catalogue()) if r.binding is not None]
    return sorted(r.id for r in entries if cycles.is_due(r.update_cycle, day, last_success.get(r.id)))


def run_resource(resource_id: str) -> None:
    """connect, then load (land → quality gate → stage), as an ingest DAG's task group does. The gate renders no
    Data Docs page per simulated run (the slowest part of it; `hub quality docs` renders them after)."""
    from pipeline import flow  # DuckDB, Kafka clients and the gate: loaded once, on the first day

    flow.connect(resource_id)
    flow.load(resource_id, docs=False)


@dataclass
class Progress:
    """What the simulation carries from day to day."""

    last_success: dict[str, date] = field(default_factory=dict)  # resource → the last day it ran
    asked: dict[ShareRequest, int] = field(default_factory=dict)  # the scenario's requests → their ids


def simulate_day(
    day_number: int, day: date, scale: str, scenario: Scenario, catalogue: Path, progress: Progress
) -> DayResult:
    from pipeline import flow  # DuckDB, Kafka clients and the gate

    result = DayResult(day)
    with clock.frozen_at(at(day, RUN_AT)):
        started = time.perf_counter()
        if day_number > 1:
            step_sources(day_number, scale, scenario, catalogue)
        for late in scenario.bindings_on(day_number):
            bind(late)
        share_requests(day_number, scenario, progress.asked)
        result.seconds["sources"] = time.perf_counter() - started
        started = time.perf_counter()
        with reader.held():  # the day's entries do not change while its flows run
            for resource_id in due_resources(day, progress.last_success):
                try:
                    run_resource(resource_id)
                except HubError as exc:
                    result.failed[resource_id] = str(exc).splitlines()[0][:200]
                    continue
                result.ran.append(resource_id)
                progress.last_success[resource_id] = day
        flow.refresh_marts()
        flow.sync_catalogue()
        result.seconds["flows"] = time.perf_counter() - started
    with clock.frozen_at(at(day, SNAPSHOT_AT)):
        started = time.perf_counter()
        flow.sync_catalogue()
        document = flow.snapshot()
        result.seconds["snapshot"] = time.perf_counter() - started
    result.aggregated, result.total = document["overall"]["aggregated"], document["overall"]["total"]
    return result


def simulate(
    days: int,
    scale: str = "tiny",
    start: date = DEFAULT_START,
    scenario: Scenario = DEFAULT,
    report: Callable[[DayResult], None] | None = None,
) -> list[DayResult]:
    """Run `days` simulated days from `start`; returns what each day ran and its coverage."""
    if days < 1:
        raise SimulationError(f"--days {days}: simulate at least one day")
    catalogue = prepare(scale, start, scenario)
    progress = Progress()
    results = []
    for day_number in range(1, days + 1):
        result = simulate_day(day_number, start + timedelta(days=day_number - 1), scale, scenario, catalogue, progress)
        results.append(result)
        if report:
            report(result)
    with clock.frozen_at(at(results[-1].day, SNAPSHOT_AT)):
        from pipeline import flow  # the report renderer (HTML, PDF, XLSX)

        flow.render_report()
    return results
