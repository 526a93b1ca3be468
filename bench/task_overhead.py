"""The fixed cost of an Airflow task before it does any work: the interpreter and the imports of its step.

Each ingest task runs one function of pipeline.flow, which imports only what that step calls. For
each step, a fresh interpreter imports those modules (as the task would) and reports wall and CPU
seconds; `python -c pass` is the floor. Beside it, the same imports in a task forked from a process that
preloaded them, as Airflow's scheduler does (pipeline/task_preload.py). With `--airflow DAG_ID TASK_ID`, also the wall time of
`airflow tasks test` of that task (Airflow's own start-up included; the task should be cheap,
e.g. an ingest DAG's refresh_marts). With `--airflow-db PATH`, the task durations per step that
Airflow recorded in that DB (e.g. after the demo). Then `-X importtime` names the heaviest imports of a step.

    .venv/bin/python bench/task_overhead.py [--repeat 3] [--top 8] [--airflow ingest_population refresh_marts]
        [--airflow-db var/airflow/airflow.db]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = {  # the modules each pipeline.flow step imports inside itself
    "(interpreter only)": [],
    "connect": ["pipeline.flow", "connectors.runner"],
    "land": ["pipeline.flow", "warehouse.landing"],
    "quality": ["pipeline.flow", "warehouse.gate"],
    "stage": ["pipeline.flow", "warehouse.events", "warehouse.landing", "warehouse.store"],
    "load (land, quality, stage in one task)": [
        "pipeline.flow",
        "warehouse.landing",
        "warehouse.gate",
        "warehouse.events",
        "warehouse.store",
    ],
    "sync_catalogue": ["pipeline.flow", "catalog.events"],
    "everything (before: flow imported every step)": [
        "connectors.runner",
        "warehouse.gate",
        "warehouse.store",
        "warehouse.events",
        "warehouse.marts",
        "catalog.events",
        "catalog.snapshots",
        "catalog.report.render",
    ],
}
PROBE = """
import importlib, json, resource, sys, time
started = time.perf_counter()
for name in sys.argv[1:]:
    importlib.import_module(name)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime,
                  "rss_mb": usage.ru_maxrss / 1024, "gx": "great_expectations" in sys.modules}))
"""


def probe(modules: list[str]) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=True, cwd=REPO)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_wall"] = time.perf_counter() - started
    return result


FORKED = """
import importlib, json, os, sys, time
from pipeline.task_preload import preload
preload()  # as Airflow's scheduler does (pipeline/airflow_settings/airflow_local_settings.py)
read, write = os.pipe()
started = time.perf_counter()
if os.fork() == 0:  # the task, forked as the LocalExecutor forks it
    for name in sys.argv[1:]:
        importlib.import_module(name)
    os.write(write, str(time.perf_counter() - started).encode())
    os._exit(0)
os.wait()
print(json.dumps({"forked_wall": float(os.read(read, 64))}))
"""


def forked(modules: list[str]) -> float:
    """Wall seconds from fork to the step's modules imported, in a child of a preloaded process."""
    out = subprocess.run([sys.executable, "-c", FORKED, *modules], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])["forked_wall"]


def task_durations(airflow_db: Path) -> dict[str, dict]:
    """Per step (connect, land, quality, stage, …): how many task instances ran and their median
    and total duration, as Airflow recorded them (e.g. the demo's var/airflow/airflow.db)."""
    import sqlite3

    durations: dict[str, list[float]] = {}
    connection = sqlite3.connect(airflow_db)
    try:
        for task_id, duration in connection.execute(
            "SELECT task_id, duration FROM task_instance WHERE duration IS NOT NULL"
        ):
            durations.setdefault(task_id.rsplit(".", 1)[-1], []).append(float(duration))
    finally:
        connection.close()
    return {
        step: {"tasks": len(d), "median_s": round(statistics.median(d), 2), "total_s": round(sum(d), 1)}
        for step, d in sorted(durations.items())
    }


def heaviest(modules: list[str], top: int) -> list[tuple[float, str]]:
    code = "; ".join(f"import {name}" for name in modules) or "pass"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, cwd=REPO)
    found = {}
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].strip()
            if "." not in name:  # top-level packages only: where the time goes, not every submodule
                found[name] = max(found.get(name, 0), int(parts[1]) / 1e6)
    return sorted(((seconds, name) for name, seconds in found.items()), reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--airflow", nargs=2, metavar=("DAG_ID", "TASK_ID"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--airflow-db", type=Path, help="also: task durations per step in this Airflow DB")
    args = parser.parse_args()
    figures = {}
    for step, modules in STEPS.items():
        runs = [probe(modules) for _ in range(args.repeat)]
        figures[step] = {
            "process_wall_s": round(statistics.median(r["process_wall"] for r in runs), 2),
            "cpu_s": round(statistics.median(r["cpu"] for r in runs), 2),
            "rss_mb": round(max(r["rss_mb"] for r in runs)),
            "imports_gx": any(r["gx"] for r in runs),
            "forked_from_preloaded_s": round(statistics.median(forked(modules) for _ in range(args.repeat)), 3),
            "heaviest": [(name, round(seconds, 2)) for seconds, name in heaviest(modules, args.top)] if modules else [],
        }
    if args.airflow:
        sys.path.insert(0, str(REPO))
        from pipeline.airflow_local import airflow

        started = time.perf_counter()
        airflow("tasks", "test", *args.airflow, capture=True)
        figures["airflow tasks test " + " ".join(args.airflow)] = {
            "process_wall_s": round(time.perf_counter() - started, 2)
        }
    if args.airflow_db:
        figures["task durations in " + str(args.airflow_db)] = task_durations(args.airflow_db)
    figures["load_average"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"median of {args.repeat} fresh interpreters; load average {figures['load_average']:.1f} on {os.cpu_count()} cores"
    )
    for step, result in figures.items():
        if not isinstance(result, dict):
            continue
        if "process_wall_s" not in result:  # task durations from an Airflow DB
            print(f"  {step}:")
            for name, of in result.items():
                print(
                    f"      {name:<20} {of['tasks']:>4} tasks  median {of['median_s']:>6.2f} s  total {of['total_s']:>7.1f} s"
                )
            continue
        line = f"  {step:<48} {result['process_wall_s']:>6.2f} s wall"
        if "cpu_s" in result:
            line += f"  {result['cpu_s']:>5.2f} s CPU  {result['rss_mb']:>4} MB  GX loaded: {result['imports_gx']}"
            line += f"  forked from the preloaded scheduler: {result['forked_from_preloaded_s']:.3f} s"
        print(line)
        if result.get("heaviest"):
            print("      heaviest imports (cumulative s): " + ", ".join(f"{n} {s}" for n, s in result["heaviest"]))


if __name__ == "__main__":
    main()
