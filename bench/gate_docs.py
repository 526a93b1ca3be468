"""What Data Docs cost a quality task: the gate building its page itself vs noting it for one build later.

Fills a topic with N household_population records (bench/landing.py's fill), lands them once, then,
each in a fresh process on a copy of that lake (as an Airflow task would start):
  (a) gate.check(docs=True) — GX loaded, the suite run, the result stored and the site rendered in the task;
  (b) gate.check(docs="later") — what an ingest DAG's quality task does now;
  (c) gate_docs.build() over the run (b) noted — the DAG run's one data_docs task (its fixed part, GX's
      start-up, is paid once per DAG run; its per-run part is the suite and the page of each gate run).
Prints the wall seconds of each (medians of --repeat runs) and the saving per quality task.

    .venv/bin/python bench/gate_docs.py --records 5000 [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from landing import bench_resource, fill, forget_landing_group  # noqa: E402  (bench/landing.py)


def phase(name: str, resource_json: str) -> dict:
    from catalog.spec import Resource
    from warehouse import gate, gate_docs, landing

    resource = Resource.model_validate_json(resource_json)
    started = time.perf_counter()
    if name == "land":
        landing.land(resource.id, catalogue=[resource])
    elif name == "gate-docs":
        gate.check(resource.id, catalogue=[resource], docs=True, publish=False)
    elif name == "gate-later":
        gate.check(resource.id, catalogue=[resource], docs="later", publish=False)
    elif name == "build":
        gate_docs.build(catalogue=[resource])
    return {"seconds": time.perf_counter() - started}


def child(name: str, resource_json: str, var: Path) -> float:
    env = {**os.environ, "HUB_VAR_DIR": str(var), "HUB_LAKE_DIR": str(var / "lake")}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, resource_json], env=env, check=True, capture_output=True, text=True
    ).stdout
    json.loads(out.strip().splitlines()[-1])
    return time.perf_counter() - started  # the process's whole life: interpreter, imports, work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phase")
    parser.add_argument("argument", nargs="?")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.argument)))
        return
    from catalog import derive
    from hub.kafka_clients import make_admin

    work = Path(tempfile.mkdtemp(prefix="hub-bench-docs-"))
    resource = bench_resource(f"bench_docs_{uuid.uuid4().hex[:8]}")
    rj = resource.model_dump_json()
    now, later, build = [], [], []
    try:
        fill(resource, args.records, 1)
        child("land", rj, work / "landed")
        for run in range(args.repeat):
            for name, into in (("gate-docs", now), ("gate-later", later)):
                var = work / f"{name}-{run}"
                shutil.copytree(work / "landed", var)
                into.append(child(name, rj, var))
            build.append(child("build", rj, work / f"gate-later-{run}"))
    finally:
        forget_landing_group(resource.id)
        admin = make_admin()
        admin.delete_topics([t for t in derive.topics(resource) if t in set(admin.list_topics())])
        admin.close()
        shutil.rmtree(work, ignore_errors=True)
    a, b, c = statistics.median(now), statistics.median(later), statistics.median(build)
    print(f"{args.records:,} records, medians of {args.repeat} runs, each a fresh process (wall s, start-up included)")
    print(f"(a) quality task building its Data Docs page   {a:6.1f} s")
    print(f"(b) quality task noting it (docs='later')      {b:6.1f} s   saves {a - b:.1f} s per quality task")
    print(f"(c) the data_docs task building that page      {c:6.1f} s   (one task per DAG run, for all its gates)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
