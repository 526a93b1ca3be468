"""Replay a night's batch tasks on N free slots: how long the ingest would take in Airflow's own
order and longest-chain-first (pipeline/task_costs.py), with each task taking the seconds Airflow
recorded for it.

The durations come from a run's Airflow database (e.g. the one `bench/e2e.py --scheduler` leaves in
its var folder). The replay is list scheduling with fixed durations: it shows what the order alone
decides where slots are not bound by cores (a worker pool). On a machine whose cores are saturated,
durations stretch with what runs beside them and the replay does not apply.

    .venv/bin/python bench/schedule_replay.py var/bench-e2e-full/airflow/airflow.db [--slots 6,8,10]
"""

from __future__ import annotations

import argparse
import heapq
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.task_costs import weight  # noqa: E402

AIRFLOW_CONNECT, AIRFLOW_LOAD = 4, 3  # Airflow's downstream weights: connect → load → marts → sync


def chains(airflow_db: Path) -> list[tuple[str, float, float]]:
    """(resource, connect seconds, load seconds) of every batch resource of the database's runs, in
    Airflow's tie-break order among equal weights (its runs' logical dates, then the task's id)."""
    with sqlite3.connect(airflow_db) as db:
        rows = db.execute(
            "SELECT t.task_id, t.duration FROM task_instance t JOIN dag_run r ON r.dag_id = t.dag_id "
            "AND r.run_id = t.run_id WHERE t.state = 'success' AND t.dag_id LIKE 'ingest%' "
            "AND t.dag_id NOT LIKE '%realtime' AND (t.task_id LIKE '%.connect' OR t.task_id LIKE '%.load') "
            "ORDER BY r.logical_date, r.start_date, t.task_id"
        ).fetchall()
    seconds: dict[str, dict[str, float]] = {}
    for task_id, duration in rows:
        resource, step = task_id.rsplit(".", 1)
        seconds.setdefault(resource, {})[step] = duration
    return [(r, s["connect"], s["load"]) for r, s in seconds.items() if {"connect", "load"} <= s.keys()]


def replay(tasks: list[tuple[str, float, float]], slots: int, longest_first: bool) -> float:
    """Seconds until the last load ends, each free slot taking the heaviest ready task (ties: queue order)."""

    def priority(connect: float, load: float, step: str) -> int:
        if not longest_first:
            return AIRFLOW_CONNECT if step == "connect" else AIRFLOW_LOAD
        return weight(connect + load) if step == "connect" else weight(load)

    ready = [(-priority(c, lo, "connect"), order, "connect") for order, (_, c, lo) in enumerate(tasks)]
    heapq.heapify(ready)
    running: list[tuple[float, int, str]] = []
    now = end = 0.0
    while ready or running:
        while ready and len(running) < slots:
            _, order, step = heapq.heappop(ready)
            _, connect, load = tasks[order]
            heapq.heappush(running, (now + (connect if step == "connect" else load), order, step))
        now, order, step = heapq.heappop(running)
        end = max(end, now)
        if step == "connect":
            _, connect, load = tasks[order]
            heapq.heappush(ready, (-priority(connect, load, "load"), order, "load"))
    return end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("airflow_db", type=Path)
    parser.add_argument("--slots", default="6,8,10", help="slot counts to replay (comma-separated)")
    args = parser.parse_args()
    tasks = chains(args.airflow_db)
    total = sum(c + lo for _, c, lo in tasks)
    longest = max(tasks, key=lambda t: t[1] + t[2])
    print(
        f"{len(tasks)} batch resources, {total:,.0f} task-seconds; longest chain {longest[0]} {longest[1] + longest[2]:,.0f} s"
    )
    for slots in map(int, args.slots.split(",")):
        airflow, lpt = replay(tasks, slots, False), replay(tasks, slots, True)
        print(
            f"{slots:3d} slots: Airflow's order {airflow:7.0f} s, longest first {lpt:7.0f} s "
            f"({airflow / lpt:.2f} ×), bound {max(total / slots, longest[1] + longest[2]):7.0f} s"
        )


if __name__ == "__main__":
    main()
