"""Kill the flow of one resource at random points and compare what it leaves with an uninterrupted run.

A run is the `hub flow run RESOURCE` steps (connect → land → gate → stage) in a child process forked
from a server that imported the pipeline once, so a kill costs the work it interrupts, not Python's
start-up. The child notes each step in a file before starting it; the parent reads the last note
when it sends SIGKILL, which tells in which step the kill landed.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

STEPS = ("connect", "land", "gate", "stage")
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(
    ["pipeline.flow", "warehouse.gate", "warehouse.landing", "warehouse.store", "connectors.runner", "quality.suites"]
)


@dataclass
class Home:
    """A hub home: its own var dir and its own broker, so two runs of the same resources never meet."""

    var: Path
    env: dict[str, str]

    def hub(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "hub"), *args],
            env=self.env,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_var(home: Home, var: Path) -> Home:
    """The same broker, another var dir (an empty lake, warehouse and connector state)."""
    return Home(var, {**home.env, "HUB_VAR_DIR": str(var)})


def make_home(var: Path, ports: list[int], kafka_libs: Path) -> Home:
    # The test session's topic prefix stays: names built here (dropping topics) and in the runs agree.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "AIRFLOW")) or k == "HUB_TOPIC_PREFIX"}
    env.update(
        HUB_VAR_DIR=str(var),
        HUB_KAFKA_PORT=str(ports[0]),
        HUB_KAFKA_CONTROLLER_PORT=str(ports[1]),
        HUB_KAFKA_LIBS_DIR=str(kafka_libs),
        AIRFLOW_HOME=str(var / "airflow"),
    )
    return Home(var, env)


def copy_sources(seeded: Home, other: Home) -> None:
    """The seeded source systems and the loaded catalogue (its database and snapshot) of `seeded`."""
    shutil.copytree(seeded.var / "sources", other.var / "sources")
    shutil.copytree(seeded.var / "catalog", other.var / "catalog")
    shutil.copyfile(seeded.var / "catalog.db", other.var / "catalog.db")


def _run_steps(env: dict[str, str], resource_id: str, marks: str) -> None:
    """The steps of `hub flow run RESOURCE` (the gate without Data Docs: rendering is not judging)."""
    os.environ.update(env)
    from hub import settings
    from pipeline import flow
    from warehouse import gate

    settings.reset_settings()

    def note(step: str) -> None:
        with open(marks, "a", encoding="utf-8") as handle:
            handle.write(step + "\n")

    note("connect")
    flow.connect(resource_id)
    note("land")
    landed = flow.land(resource_id)
    note("gate")
    checked = gate.check(resource_id, landed, docs=False).to_dict()
    note("stage")
    flow.stage(resource_id, landed, checked)
    note("done")


def run_flow(
    home: Home, resource_id: str, *, kill_in: str | None = None, after: float = 0.0, timeout: float = 300
) -> str:
    """One run of the resource's flow in `home`; with `kill_in`, SIGKILL it `after` seconds into
    that step. Returns the step the run was in when it ended ("done" if it finished)."""
    marks = home.var / f".marks-{time.monotonic_ns()}"
    child = _CONTEXT.Process(target=_run_steps, args=(home.env, resource_id, str(marks)))
    child.start()
    try:
        deadline = time.monotonic() + timeout
        if kill_in is not None:
            while child.is_alive() and kill_in not in _marks(marks) and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(after)
            if child.is_alive():
                child.kill()
        child.join(max(0.0, deadline - time.monotonic()))
        assert not child.is_alive(), f"the flow of {resource_id} did not end within {timeout} s"
        seen = _marks(marks)
        if child.exitcode not in (0, -9):
            raise AssertionError(f"the flow of {resource_id} failed (exit {child.exitcode}) in {seen[-1:]}")
        return seen[-1] if seen else "start"
    finally:
        if child.is_alive():
            child.kill()
        marks.unlink(missing_ok=True)


def _marks(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return []


@dataclass
class KillReport:
    kills: Counter = field(default_factory=Counter)  # step the run was in when killed
    finished_early: int = 0  # runs that ended before the kill came
    episodes: int = 0


def kill_in_episodes(
    fresh_home, resource_id: str, durations: dict[str, float], check, *, kills: int, seed: int, max_episodes: int
) -> KillReport:
    """Episodes until `kills` kills landed: each starts from an empty hub (`fresh_home()`), kills
    runs aimed at 2-4 steps in pipeline order (a random moment within the step's duration in an
    uninterrupted run), lets a last run finish, then calls `check(home)`. Aiming in order keeps
    work for every kill: a run killed in `land` leaves landing (and what follows) to the next."""
    chooser = random.Random(seed)
    report = KillReport()
    while sum(report.kills.values()) < kills and report.episodes < max_episodes:
        home = fresh_home()
        report.episodes += 1
        for step in sorted(chooser.sample(STEPS, chooser.randint(2, len(STEPS))), key=STEPS.index):
            ended_in = run_flow(home, resource_id, kill_in=step, after=chooser.uniform(0, durations[step]))
            if ended_in == "done":
                report.finished_early += 1
            else:
                report.kills[ended_in] += 1
        assert run_flow(home, resource_id) == "done"
        check(home)
    return report


def drop_topics(home: Home, resource_id: str) -> None:
    """Delete the resource's topics and landing group from the home's broker (a fresh start)."""
    from types import SimpleNamespace

    from kafka import KafkaAdminClient

    from catalog import derive
    from hub.topics import landing_group

    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{home.env['HUB_KAFKA_PORT']}")
    try:
        doomed = [t for t in derive.topics(SimpleNamespace(id=resource_id)) if t in set(admin.list_topics())]
        if landing_group(resource_id) in {group["group_id"] for group in admin.list_groups()}:
            admin.delete_groups([landing_group(resource_id)])
        if doomed:
            admin.delete_topics(doomed)
        deadline = time.monotonic() + 30
        while set(doomed) & set(admin.list_topics()) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        admin.close()


def timed_run(home: Home, resource_id: str) -> dict[str, float]:
    """An uninterrupted run, timing each step from the child's notes (for aiming kills)."""
    marks = home.var / ".timed-marks"
    child = _CONTEXT.Process(target=_run_steps, args=(home.env, resource_id, str(marks)))
    started: dict[str, float] = {}
    child.start()
    while child.is_alive():
        for step in _marks(marks):
            started.setdefault(step, time.monotonic())
        time.sleep(0.005)
    child.join()
    assert child.exitcode == 0, f"the uninterrupted flow of {resource_id} failed (exit {child.exitcode})"
    ended = time.monotonic()
    for step in _marks(marks):
        started.setdefault(step, ended)
    marks.unlink(missing_ok=True)
    order = [*STEPS, "done"]
    durations = {step: max(0.05, started[order[n + 1]] - started[step]) for n, step in enumerate(STEPS)}
    print(f"{resource_id}: uninterrupted run, seconds per step {durations}")
    return durations


def staging_digest(home: Home, resource_id: str, columns: list[str]) -> tuple[int, int, str]:
    """Row count, distinct keys and a hash over every staged row's catalogue items."""
    connection = duckdb.connect(str(home.var / "warehouse.duckdb"), read_only=True)
    try:
        items = ", ".join(f'"{c}"' for c in columns)
        rows, digest = connection.execute(
            f'SELECT count(*), coalesce(sum(hash({items})), 0)::VARCHAR FROM staging."{resource_id}"'
        ).fetchone()
        distinct = connection.execute(
            f'SELECT count(*) FROM (SELECT DISTINCT {items} FROM staging."{resource_id}")'
        ).fetchone()[0]
    finally:
        connection.close()
    return rows, distinct, digest


def zone_rows(home: Home, zone: str, resource) -> list[tuple]:
    """Every row of a gate zone as (partition, offset, key-or-rules…) tuples, for comparisons."""
    files = sorted(str(p) for p in (home.var / "lake" / zone / resource.domain / resource.id).glob("dt=*/*.parquet"))
    if not files:
        return []
    connection = duckdb.connect()
    try:
        cursor = connection.execute("SELECT * FROM read_parquet($files, union_by_name = true)", {"files": files})
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        connection.close()
