"""Benchmark: how fast `hub seed` generates and writes the synthetic sources, per scale.

    .venv/bin/python bench/seed.py                    # small, then medium
    .venv/bin/python bench/seed.py --scale full       # Shunde-sized (long: millions of rows)
    .venv/bin/python bench/seed.py --scale small --top 10
    .venv/bin/python bench/seed.py --scale medium --workers 1   # one process (default: 2 above small)

Runs in a temporary HUB_VAR_DIR (nothing of the demo is touched) and prints records, seconds
and records/s per resource and in total, the load average before and after (other work shares
the cores) and the peak RSS of this process and of the largest worker. A benchmark, not a test:
it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(scale: str, seed_value: int, top: int, workers: int | None) -> None:
    from hub.settings import reset_settings
    from synthetic.generate import seed

    timings: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory(prefix=f"hub-bench-seed-{scale}-") as folder:
        os.environ["HUB_VAR_DIR"] = folder
        reset_settings()
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        manifest = seed(
            scale,
            seed_value,
            progress=lambda rid, records, seconds: timings.append((rid, records, seconds)),
            workers=workers,
        )
        elapsed = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6
    records = sum(entry["records"] for entry in manifest["resources"].values())
    print(
        f"\nscale {scale}: {len(timings)} resources, {records:,} records in {elapsed:.1f} s "
        f"= {records / elapsed:,.0f} records/s, {size_mb:,.0f} MB on disk"
    )
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"  peak RSS {own_mb:,.0f} MB (this process), {worker_mb:,.0f} MB (largest worker, 0 if none); "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"  {'resource':<32} {'records':>10} {'seconds':>8} {'records/s':>11}")
    for rid, count, seconds in sorted(timings, key=lambda t: -t[2])[:top]:
        print(f"  {rid:<32} {count:>10,} {seconds:>8.2f} {count / max(seconds, 1e-9):>11,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="append", choices=("tiny", "small", "medium", "full"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=12, help="slowest resources to list")
    parser.add_argument("--workers", type=int, help="processes (default: hub seed's, by scale)")
    args = parser.parse_args()
    for scale in args.scale or ["small", "medium"]:
        run(scale, args.seed, args.top, args.workers)


if __name__ == "__main__":
    main()
