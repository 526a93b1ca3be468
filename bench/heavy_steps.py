"""The steps that hold the most rows at once, each alone on a kept bench folder: seconds and peak RSS.

On the folder `bench/e2e.py` left (default var/bench-e2e-full), each step runs in a fresh process:
  conflicts — the 一数一源 check over the whole warehouse (warehouse.conflicts.compute, read only);
  gate      — the quality gate over every landed file of RESOURCE (default: the one with most rows);
  stage     — the merge of the gate's passed rows into an empty staging table;
  docs      — the Data Docs validation of that gate run (warehouse.gate_docs, the page left unbuilt).
The gate, the merge and the docs run on a scratch copy of the resource's landed files and the
catalogue, so the kept folder is not changed. Target: every process ≤ 2 GiB at full scale.

    .venv/bin/python bench/heavy_steps.py [--var var/bench-e2e-full] [--resource electricity_readings] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource as rlimit
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the hub's packages before bench/quality.py

STEPS = ("conflicts", "gate", "stage", "docs")


def run_step(step: str, resource_id: str) -> dict:
    """One step in this process (the child): what it did, its seconds and this process's peak RSS."""
    from hub import clock
    from warehouse import conflicts, gate, gate_docs, lake, store
    from warehouse.gate_docs import _batch_and_history

    started = time.perf_counter()
    if step == "conflicts":
        figures, _ = conflicts.compute()
        detail = figures["overall"]
    elif step == "gate":
        checked = gate.check(resource_id, {}, docs="later", publish=False)
        detail = {"rows": checked.rows, "passed": checked.passed_rows}
    elif step == "stage":
        detail = {"merged": store.update_staging(resource_id)}
    else:
        from quality.judge import document_run

        job = json.loads(gate_docs.pending()[0].read_text())
        resource = lake.resolve_resource(resource_id)
        batch, history, label = _batch_and_history(resource, [lake.absolute(f) for f in job["files"]], [])
        document_run(resource, batch, history, run_name=job["run_id"], run_time=clock.now(), build=False, markers=label)
        detail = {"documented_rows": batch.num_rows, **label}
    peak = rlimit.getrusage(rlimit.RUSAGE_SELF).ru_maxrss / 1024
    return {"step": step, "seconds": round(time.perf_counter() - started, 1), "peak_mb": round(peak), **detail}


def largest(var: Path) -> str:
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    for path in (var / "lake").glob("[!_]*/*/dt=*/*.parquet"):
        rows[path.parts[-3]] = rows.get(path.parts[-3], 0) + pq.ParquetFile(path).metadata.num_rows
    return max(rows, key=rows.get)


def scratch_copy(var: Path, resource_id: str) -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="heavy-steps-"))
    shutil.copy2(var / "catalog.db", scratch / "catalog.db")
    shutil.copytree(var / "catalog", scratch / "catalog")
    for folder in (var / "lake").glob(f"[!_]*/{resource_id}"):
        shutil.copytree(folder, scratch / "lake" / folder.parent.name / resource_id)
    return scratch


def child(step: str, resource_id: str, var: Path) -> dict:
    env = {**os.environ, "HUB_VAR_DIR": str(var)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, "--resource", resource_id],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", type=Path, default=Path("var/bench-e2e-full"))
    parser.add_argument("--resource")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_step(args.child, args.resource), ensure_ascii=False))
        return
    var = args.var.resolve()
    resource_id = args.resource or largest(var)
    scratch = scratch_copy(var, resource_id)
    try:
        results = [child("conflicts", resource_id, var)]
        results += [child(step, resource_id, scratch) for step in ("gate", "stage", "docs")]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        print(json.dumps({"var": str(var), "resource": resource_id, "steps": results}, ensure_ascii=False, indent=1))
        return
    print(f"{var} — {resource_id}")
    for result in results:
        extra = ", ".join(f"{k} {v}" for k, v in result.items() if k not in ("step", "seconds", "peak_mb"))
        print(f"  {result['step']:<9} {result['seconds']:>7.1f} s  peak {result['peak_mb']:>6,} MB  ({extra})")


if __name__ == "__main__":
    main()
