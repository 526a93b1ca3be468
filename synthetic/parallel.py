"""`hub seed` over several processes. Resources that write the same file (a department database,
an HTTP platform's store, the IoT outbox) form one group, seeded in catalogue order by one
process, so every file is written exactly as a single process writes it: the same bytes whatever
the number of workers. Every random stream is private to its resource, so groups may run in any
order. The registers that read one shared stream (people, market entities) live in one database
each, so a group also generates its stream once (synthetic.replay).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

Progress = Callable[[str, int, float], None]

#: Rough cost of the heavy resources, in seconds of a full-scale seed (bench/seed.py --scale full),
#: where a generated resource takes about five: the heavy groups start first so that no worker is
#: left with one long group at the end. A wrong hint costs balance, never correctness.
COST_HINTS = {
    "standard_addresses": 195.0,
    "buildings": 180.0,
    "electricity_readings": 160.0,
    "water_readings": 160.0,
    "household_population": 145.0,
    "resident_population": 80.0,
    "gas_readings": 70.0,
    "migrant_registration": 57.0,
    "land_parcels": 43.0,
    "subsistence_allowance": 24.0,
    "water_accounts": 23.0,
    "individual_businesses": 23.0,
    "electricity_accounts": 20.0,
    "camera_devices": 18.0,
    "market_entities": 10.0,
    "camera_status": 10.0,
    "manhole_covers": 9.0,
}
GENERATED_COST = 5.0


def default_workers(scale: str) -> int:
    """One process at tiny and small (seconds: not worth starting more), else up to two."""
    return 1 if scale in ("tiny", "small") else min(2, os.cpu_count() or 1)


def output_of(resource) -> str:
    """The file (or set of files) a resource writes, as a group key."""
    binding = resource.binding
    if binding.kind in ("sql", "http"):
        return f"{binding.kind}:{binding.system}"
    if binding.kind == "mqtt":
        return "mqtt"  # one outbox for every sensor resource
    return f"file:{binding.config.get('pattern')}"


def groups(resources: list) -> list[list[str]]:
    """Resource ids by output, each group in the given order, heaviest group first."""
    by_output: dict[str, list[str]] = {}
    for resource in resources:
        by_output.setdefault(output_of(resource), []).append(resource.id)
    return sorted(by_output.values(), key=lambda ids: -sum(COST_HINTS.get(i, GENERATED_COST) for i in ids))


def run(seed_group: Callable, job, resources: list, previous: dict, workers: int | None, progress: Progress | None):
    """(id, manifest entry) of every resource, in the given order; `seed_group(job, ids, previous,
    progress)` seeds one group in the calling process (a module-level function: workers import it).
    Workers are spawned, so a script calling `seed` with more than one must do so under
    `if __name__ == "__main__":` (the `hub` CLI and bench/seed.py do)."""
    workers = default_workers(job.scale) if workers is None else max(1, workers)
    planned = groups(resources)
    if workers == 1 or len(planned) == 1:
        done = seed_group(job, [r.id for r in resources], previous, progress)
        return [(resource_id, entry) for resource_id, entry, _seconds in done]
    entries: dict[str, dict] = {}
    # spawn, not fork: a parent with threads (Kafka clients, Airflow) must not be copied mid-state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(planned)), mp_context=context) as pool:
        futures = [pool.submit(seed_group, job, ids, {i: previous[i] for i in ids if i in previous}) for ids in planned]
        try:
            for future in as_completed(futures):
                for resource_id, entry, seconds in future.result():
                    entries[resource_id] = entry
                    if progress:
                        progress(resource_id, entry["records"], seconds)
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return [(r.id, entries[r.id]) for r in resources]
