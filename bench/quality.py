"""Benchmark: validating population rows with the quality rules, vectorised alone vs through the GX suite.

Builds N resident_population rows as landing writes them (the catalogue's Arrow schema), a few
percent of them defective (bad ID check characters, values outside their set, broken regexes,
missing phones, placeholder dates, damaged names), then in the same process times
  (a) quality.plan.evaluate on the Arrow table: the vectorised rules alone;
  (b) quality.suites.validate on the pandas frame: the Great Expectations suite (docs off),
and checks both flag the same rows. Prints rows/s of each and the ratio (median of --repeat runs).

    .venv/bin/python bench/quality.py --rows 1000000 [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def resident_ids(rows: int) -> np.ndarray:
    """`rows` distinct valid GB 11643 IDs (Shunde, births from 1950), built with numpy."""
    index = np.arange(rows, dtype=np.int64)
    births = np.datetime64("1950-01-01") + (index // 900).astype("timedelta64[D]")
    ymd = births.astype("datetime64[D]").astype(str)
    digits17 = np.char.add(
        np.char.add("440606", np.char.replace(ymd, "-", "")), np.char.zfill((index % 900 + 100).astype(str), 3)
    )
    block = np.frombuffer(digits17.astype("S17").tobytes(), dtype=np.uint8).reshape(rows, 17) - ord("0")
    checks = CHECK[(block.astype(np.int64) @ WEIGHTS) % 11]
    return np.char.add(digits17, checks.view("S1").astype(str))


def population(rows: int, rng: np.random.Generator) -> pa.Table:
    from catalog import derive
    from catalog.selection import SEED_DIR
    from catalog.spec import load_catalogue

    resource = next(r for r in load_catalogue(SEED_DIR).resources if r.id == "resident_population")
    ids = resident_ids(rows)
    bad = rng.random(rows)
    flip = np.flatnonzero(bad < 0.004)  # 0.4 % with a wrong check character
    ids[flip] = [v[:17] + ("0" if v[17] != "0" else "1") for v in ids[flip]]
    births = np.datetime64("1950-01-01") + (np.arange(rows) // 900).astype("timedelta64[D]")
    births = np.where(bad > 0.995, np.datetime64("1970-01-01"), births)
    phones = np.char.add("138", np.char.zfill((np.arange(rows) % 10**8).astype(str), 8)).astype(object)
    phones[(bad > 0.9) & (bad <= 0.96)] = None
    names = np.where(bad < 0.001, "张?", np.array(["张三", "李四", "王小明", "陈大文"])[np.arange(rows) % 4])
    columns = {
        "gmsfhm": ids,
        "xm": names,
        "xb": np.where((bad > 0.5) & (bad < 0.501), "9", "1"),
        "mz": np.full(rows, "01"),
        "csrq": births,
        "hh": np.char.add("4406", np.char.zfill((np.arange(rows) // 3).astype(str), 8)),
        "yhzgx": np.where(np.arange(rows) % 3 == 0, "02", "20"),
        "hjdz_xzqh": np.full(rows, "440606101001"),
        "hjdz": np.full(rows, "广东省佛山市顺德区大良街道"),
        "jzdz": np.full(rows, "广东省佛山市顺德区容桂街道"),
        "hyzk": np.full(rows, "20"),
        "hklb": np.full(rows, "1"),
        "rklx": np.full(rows, "户籍"),
        "lxdh": phones,
        "zxbz": np.full(rows, "0"),
    }
    moment = datetime(2026, 11, 1, tzinfo=timezone.utc)
    schema = derive.arrow_schema(resource)
    arrays = []
    for field in schema:
        if field.name in columns:
            arrays.append(pa.array(columns[field.name], type=field.type))
        elif field.name == "_offset":
            arrays.append(pa.array(np.arange(rows), type=field.type))
        elif field.name in ("_partition",):
            arrays.append(pa.array(np.zeros(rows, dtype=np.int32), type=field.type))
        elif pa.types.is_timestamp(field.type):
            arrays.append(pa.array(np.full(rows, np.datetime64(moment.replace(tzinfo=None), "us")), type=field.type))
        elif field.name == "_op":
            arrays.append(pa.array(np.full(rows, "upsert"), type=field.type))
        else:
            arrays.append(pa.nulls(rows, type=field.type))
    return resource, pa.Table.from_arrays(arrays, schema=schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ["HUB_VAR_DIR"] = tempfile.mkdtemp(prefix="hub-bench-quality-")
    from quality import suites
    from quality.plan import evaluate, plan_checks

    resource, table = population(args.rows, np.random.default_rng(7))
    frame = table.to_pandas()
    checks = plan_checks(resource)
    vectorised, through_gx, flagged = [], [], {}
    for _ in range(args.repeat):
        started = time.perf_counter()
        verdicts = evaluate(checks, table)
        vectorised.append(time.perf_counter() - started)
        started = time.perf_counter()
        run = suites.validate(resource, frame, table=table, docs=False)
        through_gx.append(time.perf_counter() - started)
        flagged = {name: int(mask.sum()) for name, mask in verdicts.masks.items() if mask.any()}
        agree = all((run.masks[name] == verdicts.masks[name]).all() for name in verdicts.masks)
    fast, slow = statistics.median(vectorised), statistics.median(through_gx)
    result = {
        "rows": args.rows,
        "checks": len(checks),
        "repeat": args.repeat,
        "vectorised_rows_per_s": round(args.rows / fast),
        "gx_rows_per_s": round(args.rows / slow),
        "ratio_gx_over_vectorised": round(fast / slow, 3),
        "vectorised_s": round(fast, 2),
        "gx_s": round(slow, 2),
        "agree": agree,
        "failing_rows_by_check": flagged,
        "load_average": round(os.getloadavg()[0], 1),
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"{args.rows:,} resident_population rows, {len(checks)} checks, median of {args.repeat}")
    print(
        f"(a) vectorised rules (quality.plan.evaluate)  {result['vectorised_rows_per_s']:>12,} rows/s  ({fast:.2f} s)"
    )
    print(f"(b) Great Expectations suite (docs off)       {result['gx_rows_per_s']:>12,} rows/s  ({slow:.2f} s)")
    print(
        f"ratio b/a {result['ratio_gx_over_vectorised']:.2f}; same rows flagged: {agree}; load average {result['load_average']}"
    )
    print("failing rows by check: " + ", ".join(f"{k} {v:,}" for k, v in sorted(flagged.items())))


if __name__ == "__main__":
    main()
