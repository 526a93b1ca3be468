"""Benchmark: the row-set checks and text_intact at gate scale, rows/s each (median of --repeat runs).

meters     11/12 N readings (N/12 meters, months 2–12) shuffled, month 1 staged as history
geometry   N WKT points and N/5 five-vertex polygons (EPSG:4490)
gcj02      N points against their EPSG:4547 survey
text       N distinct Chinese addresses, 0.3 % garbled (UTF-8 read as GBK)

  .venv/bin/python bench/rowchecks.py --rows 1000000 [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quality import geo  # noqa: E402
from quality.plan import ROW_CHECKS  # noqa: E402
from quality.text import intact_text_mask  # noqa: E402

METER = {"meter": "meter_id", "time": "reading_time", "value": "cumulative_value", "event": "meter_event"}


def meter_tables(rows: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """Months 2–12 of rows/12 meters, shuffled (the batch), and month 1 of each (staged history)."""
    meters = max(1, rows // 12)
    ids = np.repeat(np.char.zfill(np.arange(meters).astype(str), 12), 12)
    month = np.tile(np.arange(12), meters)
    times = np.datetime64("2025-01-10T01:30", "ms") + (month * 30).astype("timedelta64[D]")
    values = np.cumsum(rng.lognormal(np.log(300), 0.3, meters * 12).reshape(meters, 12), axis=1).ravel()
    table = pa.table(
        {
            "meter_id": ids,
            "reading_time": pa.array(times).cast(pa.timestamp("ms", "Asia/Shanghai")),
            "cumulative_value": values,
            "meter_event": pa.nulls(len(ids), pa.string()),
        }
    )
    batch = table.filter(pa.array(month > 0))
    return batch.take(rng.permutation(batch.num_rows)), table.filter(pa.array(month == 0))


def geometry_table(rows: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    lons, lats = rng.uniform(112.96, 113.41, rows), rng.uniform(22.64, 23.05, rows)
    points = pa.table(
        {
            "geometry": [f"POINT ({x!r} {y!r})" for x, y in zip(lons.tolist(), lats.tolist())],
            "crs": ["EPSG:4490"] * rows,
        }
    )
    polygons = [
        f"POLYGON (({x!r} {y!r}, {x + 5e-4!r} {y!r}, {x + 5e-4!r} {y + 4e-4!r}, {x!r} {y + 4e-4!r}, {x!r} {y!r}))"
        for x, y in zip(lons[: rows // 5].tolist(), lats[: rows // 5].tolist())
    ]
    return points, pa.table({"geometry": polygons, "crs": ["EPSG:4490"] * len(polygons)})


def gcj_table(rows: int, rng: np.random.Generator) -> pa.Table:
    lons, lats = rng.uniform(112.96, 113.41, rows), rng.uniform(22.64, 23.05, rows)
    xs, ys = geo.project_4547(lons, lats)
    shifted = rng.random(rows) < 0.1
    gcj_lons, gcj_lats = geo.wgs84_to_gcj02(lons, lats)
    return pa.table(
        {"lon": np.where(shifted, gcj_lons, lons), "lat": np.where(shifted, gcj_lats, lats), "x": xs, "y": ys}
    )


def addresses(rows: int, rng: np.random.Generator) -> pa.Array:
    roads = ["新桂路", "德和路", "南国路", "凤山路", "容奇大道", "伦教大道", "碧桂路", "顺峰路"]
    towns = ["大良街道", "容桂街道", "伦教街道", "勒流街道", "陈村镇", "北滘镇", "乐从镇", "龙江镇"]
    texts = [f"广东省佛山市顺德区{towns[i % 8]}{roads[i // 8 % 8]}{i}号" for i in range(rows)]
    for i in rng.choice(rows, rows * 3 // 1000, replace=False).tolist():
        texts[i] = (texts[i] + "座").encode("utf-8").decode("gbk", errors="replace")
    return pa.array(texts)


def timed(run, repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    later, staged = meter_tables(args.rows, rng)
    points, polygons = geometry_table(args.rows, rng)
    survey, texts = gcj_table(args.rows, rng), addresses(args.rows, rng)
    geometry = {"geometry": "geometry", "crs": "crs"}
    cases = {
        **{
            name: (later.num_rows, lambda name=name: ROW_CHECKS[name].mask(later, METER, {}, staged))
            for name in ("meter_rollback", "meter_spike", "meter_stuck")
        },
        "geometry_in_box (points)": (
            points.num_rows,
            lambda: ROW_CHECKS["geometry_in_box"].mask(points, geometry, {}, None),
        ),
        "geometry_in_box (polygons)": (
            polygons.num_rows,
            lambda: ROW_CHECKS["geometry_in_box"].mask(polygons, geometry, {}, None),
        ),
        "gcj02_shift": (
            survey.num_rows,
            lambda: ROW_CHECKS["gcj02_shift"].mask(survey, {"lon": "lon", "lat": "lat", "x": "x", "y": "y"}, {}, None),
        ),
        "text_intact": (len(texts), lambda: intact_text_mask(texts)),
    }
    figures = {
        name: {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}
        for name, (rows, run) in cases.items()
        for seconds in [timed(run, args.repeat)]
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    for name, figure in figures.items():
        print(f"{name:28s} {figure['rows']:>10,} rows  {figure['seconds']:7.3f} s  {figure['rows_per_s']:>12,} rows/s")


if __name__ == "__main__":
    main()
