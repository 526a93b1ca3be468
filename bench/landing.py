"""Landing throughput against a bare consumer, in the same run, on the configured broker.

Fills a fresh topic with N realistic records of one resource (the seed's household_population
items under a throw-away id), then measures, each in its own child process:
  (a) a bare kafka-python consume of the topic with the hub's consumer settings — iterate the
      values, nothing else;
  (b) our land() end to end: Kafka → decode → Parquet in the lake → update_staging in DuckDB.
Prints records/s of each, the ratio b/a and the peak RSS of (b); `--json` prints one JSON line.
The lake and warehouse go to a temp folder; the topic is deleted at the end (--keep to keep it).

    .venv/bin/python bench/landing.py --records 1000000 [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource as rusage
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SURNAMES = "陈李黄梁何张吴罗郭冯周潘麦谭卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂"
TOWNS = [
    "440606003",
    "440606004",
    "440606005",
    "440606006",
    "440606101",
    "440606102",
    "440606103",
    "440606104",
    "440606105",
    "440606106",
]
TOWN_NAMES = [
    "伦教街道",
    "勒流街道",
    "大良街道",
    "容桂街道",
    "陈村镇",
    "北滘镇",
    "乐从镇",
    "龙江镇",
    "杏坛镇",
    "均安镇",
]
WEIGHTS = (7, 9, 10, 8, 8, 4, 2, 1, 3, 5, 7, 9, 10, 8, 4, 2, 1)


def bench_resource(resource_id: str):
    from catalog.spec import load_catalogue
    from hub.settings import REPO_ROOT

    seed = next(r for r in load_catalogue(REPO_ROOT / "catalog" / "seed").resources if r.id == "household_population")
    return seed.model_copy(update={"id": resource_id, "binding": None})


def person(n: int) -> dict:
    """A household_population row: a distinct, valid-shaped ID (check digit), name, addresses."""
    town = n % 10
    birth = datetime(1940, 1, 1) + timedelta(days=n % 29000)
    body = f"440606{birth:%Y%m%d}{n // 29000 % 1000:03d}"  # distinct for n < 29 million
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]
    return {
        "gmsfhm": body + check,
        "xm": SURNAMES[n % 15] + GIVEN[(n // 15) % 21] + GIVEN[(n // 7) % 21][: n % 2],
        "xb": "1" if n // 29000 % 2 else "2",
        "mz": "01",
        "csrq": birth.date().isoformat(),
        "hh": f"4406{n // 3:08d}",
        "yhzgx": "02",
        "hjdz_xzqh": f"{TOWNS[town]}{n % 199 + 1:03d}",
        "hjdz": f"广东省佛山市顺德区{TOWN_NAMES[town]}东乐路{n % 400 + 1}号",
        "jzdz": f"广东省佛山市顺德区{TOWN_NAMES[town]}新桂路{n % 300 + 1}号{n % 30 + 1}座{n % 2000 + 101}房",
        "hyzk": "20",
        "hklb": "1",
        "rklx": "户籍",
        "lxdh": f"13{n % 10}{(n * 7) % 100_000_000:08d}",
        "qrrq": "2010-06-01",
        "zxbz": "0",
        "updated_at": "2026-11-23T08:00:00+08:00",
    }


def fill_part(args) -> int:
    resource_json, start, stop = args
    from catalog import derive
    from catalog.spec import Resource
    from hub.envelope import Record, encode
    from hub.kafka_clients import make_producer

    resource = Resource.model_validate_json(resource_json)
    topic, _ = derive.topics(resource)
    fingerprint = derive.schema_fingerprint(resource)
    moment = datetime(2026, 11, 23, tzinfo=timezone.utc)
    producer = make_producer()
    for n in range(start, stop):
        value = person(n)
        key, body, headers = encode(
            Record(
                key=value["gmsfhm"].encode(),
                value=value,
                resource=resource.id,
                event_time=moment,
                source="population_db",
                schema=fingerprint,
            )
        )
        producer.send(topic, key=key, value=body, headers=headers)
    producer.flush()
    producer.close()
    return stop - start


def fill(resource, records: int, workers: int) -> float:
    from catalog import derive
    from hub.kafka_clients import ensure_topics

    ensure_topics([derive.topics(resource)[0]], partitions=3)
    step = -(-records // workers)
    parts = [(resource.model_dump_json(), s, min(records, s + step)) for s in range(0, records, step)]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        assert sum(pool.map(fill_part, parts)) == records
    return time.perf_counter() - started


# --- the two measured phases, each run in a child process -------------------------------------


def phase_bare(topic: str) -> dict:
    from kafka import TopicPartition

    from hub.kafka_clients import make_consumer

    consumer = make_consumer(group_id=None)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(partitions)
    total, seen = sum(ends.values()), 0
    started = time.perf_counter()
    while seen < total:
        for records in consumer.poll(timeout_ms=1000, max_records=20_000).values():
            for record in records:
                record.value
            seen += len(records)
    seconds = time.perf_counter() - started
    consumer.close()
    return {"records": seen, "seconds": seconds}


def phase_land(resource_json: str) -> dict:
    from catalog.spec import Resource
    from warehouse import gate, landing, store

    resource = Resource.model_validate_json(resource_json)
    started = time.perf_counter()
    result = landing.land(resource.id, catalogue=[resource])
    landed = time.perf_counter()
    land_peak_mb = _peak_rss_mb()
    # The quality gate sits between landing and staging; it is timed apart (bench/quality.py measures
    # it) so that land + stage stays comparable with the bare consumer.
    gate.check(resource.id, result.to_dict(), catalogue=[resource], docs=False, publish=False)
    gated = time.perf_counter()
    store.update_staging(resource.id, result, catalogue=[resource])
    seconds = time.perf_counter() - started - (gated - landed)
    return {
        "records": result.rows + result.dlq_rows,
        "rows": result.rows,
        "dlq": result.dlq_rows,
        "files": len(result.files),
        "seconds": seconds,
        "land_seconds": landed - started,
        "gate_seconds": gated - landed,
        "staging_seconds": seconds - (landed - started),
        "land_peak_rss_mb": land_peak_mb,
    }


def _peak_rss_mb() -> float:
    return rusage.getrusage(rusage.RUSAGE_SELF).ru_maxrss / 1024


def run_child(phase: str, argument: str, env: dict) -> tuple[dict, float]:
    """Run a phase in a child process; returns its JSON result (plus the child's CPU seconds) and
    its peak RSS in MB."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--phase", phase, argument], env=env, stdout=subprocess.PIPE, text=True
    )
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{phase} phase failed (exit {child.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result, usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--workers", type=int, default=2, help="producer processes for the fill")
    parser.add_argument("--keep", action="store_true", help="keep the topic and the temp lake")
    parser.add_argument("--phase", choices=["bare", "land"], help=argparse.SUPPRESS)
    parser.add_argument("argument", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase_bare(args.argument) if args.phase == "bare" else phase_land(args.argument)))
        return

    from catalog import derive
    from hub import broker
    from hub.kafka_clients import make_admin

    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    say(broker.up())
    work = Path(tempfile.mkdtemp(prefix="hub-bench-landing-"))
    env = {**os.environ, "HUB_LAKE_DIR": str(work / "lake"), "HUB_WAREHOUSE_PATH": str(work / "warehouse.duckdb")}
    resource = bench_resource(f"bench_landing_{uuid.uuid4().hex[:8]}")
    topic = derive.topics(resource)[0]
    try:
        fill_s = fill(resource, args.records, args.workers)
        say(f"filled {topic} with {args.records:,} records in {fill_s:.1f} s")
        bare, bare_rss = run_child("bare", topic, env)
        landed, land_rss = run_child("land", resource.model_dump_json(), env)
        load = os.getloadavg()[0]
    finally:
        if not args.keep:
            admin = make_admin()
            existing = set(admin.list_topics())
            admin.delete_topics([t for t in derive.topics(resource) if t in existing])
            admin.close()
            shutil.rmtree(work, ignore_errors=True)
    bare_rps, land_rps = bare["records"] / bare["seconds"], landed["records"] / landed["seconds"]
    peak_rss_mb = round(land_rss, 1)
    if args.json:
        print(
            json.dumps(
                {
                    "records": args.records,
                    "bare_consume_rps": round(bare_rps),
                    "land_rps": round(land_rps),
                    "ratio": round(land_rps / bare_rps, 3),
                    "peak_rss_mb": peak_rss_mb,
                    "bare_peak_rss_mb": round(bare_rss, 1),
                    "land_seconds": round(landed["land_seconds"], 2),
                    "staging_seconds": round(landed["staging_seconds"], 2),
                    "files": landed["files"],
                    "gate_seconds_not_in_ratio": round(landed["gate_seconds"], 2),
                    "cpu_ratio": round(bare["cpu_seconds"] / landed["cpu_seconds"], 3),
                    "land_only_peak_rss_mb": round(landed["land_peak_rss_mb"], 1),
                    "load_average": load,
                }
            )
        )
        return
    print(
        f"{args.records:,} records of {resource.id} (household_population items), "
        f"peak RSS of self {rusage.getrusage(rusage.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    print(f"(a) bare kafka-python consume  {bare_rps:>12,.0f} records/s   peak RSS {bare_rss:,.0f} MB")
    print(
        f"(b) land() → Parquet + staging {land_rps:>12,.0f} records/s   peak RSS {peak_rss_mb:,.0f} MB "
        f"(land alone {landed['land_peak_rss_mb']:,.0f} MB)  "
        f"(land {landed['land_seconds']:.1f} s + staging {landed['staging_seconds']:.1f} s, {landed['files']} files; "
        f"the quality gate between them, not counted: {landed['gate_seconds']:.1f} s)"
    )
    print(f"ratio b/a {land_rps / bare_rps:.2f}  (goal ≥ 0.8); peak RSS {peak_rss_mb:,.0f} MB (goal < 1536 MB)")
    print(
        f"CPU seconds: bare {bare['cpu_seconds']:.1f}, land incl. the gate {landed['cpu_seconds']:.1f} (ratio {bare['cpu_seconds'] / landed['cpu_seconds']:.2f}); "
        f"load average {load:.1f} on {os.cpu_count()} cores — other processes lower both wall-clock figures"
    )


if __name__ == "__main__":
    main()
