"""Landing throughput against a bare consumer, in the same run, on the configured broker.

Fills a fresh topic with N realistic records of one resource (the seed's household_population
items under a throw-away id), then measures, each in its own child process (peak RSS of each):
  (a) a bare kafka-python consume with the hub's consumer settings — read each value, nothing else;
  (b) a bare confluent-kafka (librdkafka) consume with the same fetch sizes — the same;
  (b') the same reading each record's headers too: what any landing must read. confluent-kafka
      builds the headers' Python list of (str, bytes) tuples with the GIL held, so in one process
      this, not (b), is the ceiling of land();
  (c) land() with the configured client: Kafka → decode → Parquet, then (d) the quality gate on the
      landed rows and (e) update_staging into DuckDB, each timed apart.
Prints records/s of each, land / bare confluent (target ≥ 0.5), gate records/s (target ≥ 200 k);
`--json` prints one JSON line. The lake and warehouse go to a temp folder; the topic is deleted at
the end (--keep to keep it).

    .venv/bin/python bench/landing.py --records 500000 [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource as rusage
import shutil
import statistics
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
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643


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
    """Produce records [start, stop) through hub.envelope with confluent-kafka (the fill is not measured)."""
    resource_json, start, stop = args
    from confluent_kafka import Producer

    from catalog import derive
    from catalog.spec import Resource
    from hub.envelope import Record, encode
    from hub.settings import get_settings

    resource = Resource.model_validate_json(resource_json)
    topic, _ = derive.topics(resource)
    fingerprint = derive.schema_fingerprint(resource)
    moment = datetime(2026, 11, 23, tzinfo=timezone.utc)
    producer = Producer(
        {
            "bootstrap.servers": get_settings().kafka_bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "compression.type": "lz4",
            "batch.size": 512 * 1024,
        }
    )
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
        while True:
            try:
                producer.produce(topic, value=body, key=key, headers=headers)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120):
        raise SystemExit("fill: records still undelivered after 120 s")
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


# --- the measured phases, each run in a child process --------------------------------------------


def phase_bare_kafka_python(topic: str) -> dict:
    """kafka-python with the hub's consumer settings: iterate the values, nothing else."""
    from kafka import TopicPartition

    from hub.kafka_clients import make_consumer

    consumer = make_consumer(group_id=None)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(partitions)
    total, seen = sum(ends.values()), 0
    started, cpu = time.perf_counter(), time.process_time()
    while seen < total:
        for records in consumer.poll(timeout_ms=1000, max_records=20_000).values():
            for record in records:
                record.value
            seen += len(records)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    consumer.close()
    return {"records": seen, "seconds": seconds, "cpu": cpu}


def phase_bare_confluent(topic: str, *, with_headers: bool = False) -> dict:
    """confluent-kafka (librdkafka) straight, the same fetch sizes and isolation: read each value
    (and, `with_headers`, its headers too: what any landing must read, the floor of its cost)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from hub.settings import get_settings

    consumer = Consumer(
        {
            "bootstrap.servers": get_settings().kafka_bootstrap,
            "group.id": f"bench-bare-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "fetch.max.bytes": 64 << 20,
            "max.partition.fetch.bytes": 16 << 20,
        }
    )
    partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    total = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    seen = 0
    started, cpu = time.perf_counter(), time.process_time()
    while seen < total:
        for message in consumer.consume(num_messages=20_000, timeout=1.0):
            if message.error() is None:
                message.value()
                if with_headers:
                    message.headers()
                seen += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    consumer.close()
    return {"records": seen, "seconds": seconds, "cpu": cpu}


def phase_land(resource_json: str) -> dict:
    """land(), then the quality gate, then update_staging, each timed on its own."""
    from catalog.spec import Resource
    from warehouse import gate, landing, store

    resource = Resource.model_validate_json(resource_json)
    cpu = [time.process_time()]
    started = time.perf_counter()
    result = landing.land(resource.id, catalogue=[resource])
    landed = time.perf_counter()
    cpu.append(time.process_time())
    land_peak_mb = _peak_rss_mb()
    judged = gate.check(resource.id, result.to_dict(), catalogue=[resource], docs=False, publish=False)
    gated = time.perf_counter()
    cpu.append(time.process_time())
    store.update_staging(resource.id, result, catalogue=[resource])
    staged = time.perf_counter()
    cpu.append(time.process_time())
    return {
        "records": result.rows + result.dlq_rows,
        "rows": result.rows,
        "dlq": result.dlq_rows,
        "files": len(result.files),
        "gate_rows": judged.rows,
        "land_seconds": landed - started,
        "gate_seconds": gated - landed,
        "staging_seconds": staged - gated,
        "land_peak_rss_mb": land_peak_mb,
        "land_cpu": cpu[1] - cpu[0],
        "gate_cpu": cpu[2] - cpu[1],
        "staging_cpu": cpu[3] - cpu[2],
    }


def phase_land_kafka_python(resource_json: str) -> dict:
    """land() alone with HUB_KAFKA_CLIENT=kafka-python (set by the parent), into its own lake."""
    from catalog.spec import Resource
    from warehouse import landing

    resource = Resource.model_validate_json(resource_json)
    started, cpu = time.perf_counter(), time.process_time()
    result = landing.land(resource.id, catalogue=[resource])
    return {
        "records": result.rows + result.dlq_rows,
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "files": len(result.files),
    }


PHASES = {
    "bare-kafka-python": phase_bare_kafka_python,
    "bare-confluent": phase_bare_confluent,
    "bare-confluent-headers": lambda topic: phase_bare_confluent(topic, with_headers=True),
    "land": phase_land,
    "land-kafka-python": phase_land_kafka_python,
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


def figures(records: int, bare_kp: dict, kp_rss: float, bare_cf: dict, cf_rss: float, landed: dict, land_rss: float):
    kp_rps = bare_kp["records"] / bare_kp["seconds"]
    cf_rps = bare_cf["records"] / bare_cf["seconds"]
    land_rps = landed["records"] / landed["land_seconds"]
    return {
        "records": records,
        "bare_kafka_python_rps": round(kp_rps),
        "bare_confluent_rps": round(cf_rps),
        "land_rps": round(land_rps),
        "land_vs_confluent": round(land_rps / cf_rps, 3),
        "land_vs_kafka_python": round(land_rps / kp_rps, 3),
        "gate_rps": round(landed["gate_rows"] / landed["gate_seconds"]) if landed["gate_seconds"] else None,
        "staging_rps": round(landed["rows"] / landed["staging_seconds"]) if landed["staging_seconds"] else None,
        "land_seconds": round(landed["land_seconds"], 2),
        "gate_seconds": round(landed["gate_seconds"], 2),
        "staging_seconds": round(landed["staging_seconds"], 2),
        "files": landed["files"],
        "peak_rss_mb": {
            "bare_kafka_python": round(kp_rss, 1),
            "bare_confluent": round(cf_rss, 1),
            "land_alone": round(landed["land_peak_rss_mb"], 1),
            "land_gate_staging": round(land_rss, 1),
        },
        # Records per CPU second (all threads of the process): steadier than wall time on a shared machine.
        "per_cpu_second": {
            "bare_kafka_python": round(bare_kp["records"] / bare_kp["cpu"]),
            "bare_confluent": round(bare_cf["records"] / bare_cf["cpu"]),
            "land": round(landed["records"] / landed["land_cpu"]),
            "gate": round(landed["gate_rows"] / landed["gate_cpu"]) if landed["gate_cpu"] else None,
            "staging": round(landed["rows"] / landed["staging_cpu"]) if landed["staging_cpu"] else None,
        },
        "load_average": os.getloadavg()[0],
        "cores": os.cpu_count(),
    }


def one_run(resource, work: Path, run: int) -> dict:
    """Every measured phase once, each land() into a fresh lake and warehouse from offset 0."""
    from catalog import derive

    topic = derive.topics(resource)[0]
    forget_landing_group(resource.id)
    env = {
        **os.environ,
        "HUB_LAKE_DIR": str(work / f"lake-{run}"),
        "HUB_WAREHOUSE_PATH": str(work / f"warehouse-{run}.duckdb"),
    }
    bare_kp, kp_rss = run_child("bare-kafka-python", topic, env)
    bare_cf, cf_rss = run_child("bare-confluent", topic, env)
    bare_cfh, _ = run_child("bare-confluent-headers", topic, env)
    landed, land_rss = run_child("land", resource.model_dump_json(), env)
    env_kp = {
        **env,
        "HUB_KAFKA_CLIENT": "kafka-python",
        "HUB_LAKE_DIR": str(work / f"lake-kp-{run}"),
        "HUB_WAREHOUSE_PATH": str(work / f"warehouse-kp-{run}.duckdb"),
    }
    forget_landing_group(resource.id)
    landed_kp, land_kp_rss = run_child("land-kafka-python", resource.model_dump_json(), env_kp)
    result = figures(bare_cf["records"], bare_kp, kp_rss, bare_cf, cf_rss, landed, land_rss)
    kp_land_rps = landed_kp["records"] / landed_kp["seconds"]
    cfh_rps = bare_cfh["records"] / bare_cfh["seconds"]
    result.update(
        land_kafka_python_rps=round(kp_land_rps),
        bare_confluent_headers_rps=round(cfh_rps),
        land_vs_confluent_headers=round(result["land_rps"] / cfh_rps, 3),
    )
    result["peak_rss_mb"]["land_kafka_python"] = round(land_kp_rss, 1)
    result["per_cpu_second"]["land_kafka_python"] = round(landed_kp["records"] / landed_kp["cpu"])
    return result


def forget_landing_group(resource_id: str) -> None:
    """Delete the resource's landing group: its commits from an earlier land() would start this one at the end."""
    from hub.kafka_clients import make_admin
    from hub.topics import landing_group

    admin = make_admin()
    try:
        group = landing_group(resource_id)
        if group in set(admin.list_groups()):
            admin.delete_groups([group])
    finally:
        admin.close()


def medians(runs: list[dict]) -> dict:
    """The median of every figure over the runs (nested dicts alike); a single run as it is."""
    out: dict = {}
    for name, first in runs[0].items():
        values = [run[name] for run in runs]
        if isinstance(first, dict):
            out[name] = medians(values)
        elif isinstance(first, (int, float)) and all(isinstance(v, (int, float)) for v in values):
            middle = statistics.median(values)
            out[name] = round(middle, 3) if isinstance(middle, float) else middle
        else:
            out[name] = first
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3, help="measured runs over the one fill; medians printed")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--workers", type=int, default=2, help="producer processes for the fill")
    parser.add_argument("--keep", action="store_true", help="keep the topic and the temp lake")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("argument", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.argument)))
        return

    from catalog import derive
    from hub import broker
    from hub.kafka_clients import make_admin

    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    say(broker.up())
    work = Path(tempfile.mkdtemp(prefix="hub-bench-landing-"))
    resource = bench_resource(f"bench_landing_{uuid.uuid4().hex[:8]}")
    topic = derive.topics(resource)[0]
    runs = []
    load_before = os.getloadavg()[0]
    try:
        fill_s = fill(resource, args.records, args.workers)
        say(f"filled {topic} with {args.records:,} records in {fill_s:.1f} s")
        for run in range(args.repeat):
            runs.append(one_run(resource, work, run))
            say(f"run {run + 1}/{args.repeat}: {json.dumps(runs[-1])}")
    finally:
        if not args.keep:
            admin = make_admin()
            existing = set(admin.list_topics())
            admin.delete_topics([t for t in derive.topics(resource) if t in existing])
            admin.close()
            shutil.rmtree(work, ignore_errors=True)
    result = medians(runs)
    result.update(repeats=len(runs), load_average_at_start=load_before)
    if args.json:
        print(json.dumps(result))
        return
    report(args.records, resource.id, result)


def report(records: int, resource_id: str, result: dict) -> None:
    rss = result["peak_rss_mb"]
    print(f"medians of {result['repeats']} runs, each phase in its own process")
    print(f"{records:,} records of {resource_id} (household_population items), one topic of 3 partitions")
    print(
        f"(a) bare kafka-python consume {result['bare_kafka_python_rps']:>10,} rec/s  peak RSS {rss['bare_kafka_python']:,.0f} MB"
    )
    print(
        f"(b) bare confluent consume    {result['bare_confluent_rps']:>10,} rec/s  peak RSS {rss['bare_confluent']:,.0f} MB"
    )
    print(
        f"(b') … reading headers too   {result['bare_confluent_headers_rps']:>10,} rec/s  "
        f"(what any landing must read: {result['bare_confluent_headers_rps'] / result['bare_confluent_rps']:.2f} × (b))"
    )
    print(
        f"(c) land() → Parquet          {result['land_rps']:>10,} rec/s  peak RSS {rss['land_alone']:,.0f} MB "
        f"({result['land_seconds']:.1f} s, {result['files']} files; HUB_KAFKA_CLIENT default)"
    )
    print(
        f"    land / bare confluent {result['land_vs_confluent']:.2f} (target ≥ 0.5), "
        f"/ (b') {result['land_vs_confluent_headers']:.2f}, / kafka-python {result['land_vs_kafka_python']:.2f}"
    )
    print(
        f"(c') land() over kafka-python {result['land_kafka_python_rps']:>10,} rec/s  "
        f"peak RSS {rss['land_kafka_python']:,.0f} MB"
    )
    print(
        f"(d) quality gate              {result['gate_rps'] or 0:>10,} rec/s  "
        f"({result['gate_seconds']:.1f} s; target ≥ 200 k)"
    )
    print(
        f"(e) update_staging            {result['staging_rps'] or 0:>10,} rec/s  ({result['staging_seconds']:.1f} s); "
        f"peak RSS of land+gate+staging {rss['land_gate_staging']:,.0f} MB"
    )
    per_cpu = result["per_cpu_second"]
    print(
        "records per CPU second (steadier on a shared machine): "
        + ", ".join(f"{name} {rate:,}" for name, rate in per_cpu.items() if rate)
    )
    print(
        f"load average {result['load_average_at_start']:.1f} at start, {result['load_average']:.1f} (median) "
        f"during the runs, on {result['cores']} cores — other processes lower every figure"
    )


if __name__ == "__main__":
    main()
