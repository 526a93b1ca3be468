"""Connector throughput per source kind, against a bare kafka-python send loop of the very same
pre-encoded messages (key, value, headers), in the same run, through the same producer settings.

The sources are the synthetic departments' systems, seeded at the chosen scale into a throwaway
HUB_VAR_DIR (one core resource per kind). Each connector writes to a topic of its own (a renamed
copy of the resource), so the bench never touches the demo's topics; its topics are deleted after.

    .venv/bin/python bench/connectors.py [--scale medium] [--kinds sql,file,http,mqtt] [--repeat 3] [--keep]

The connector's rate counts everything it does: reading the source, conforming, keying, encoding,
sending, flushing and saving state. MQTT: all seeded IoT telemetry waits in the connector's
session before it starts (one subscription to every telemetry topic), and the idle wait that ends
its read (idle_s) is not counted. Services run on free ports, so a running demo is not disturbed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESOURCES = {"sql": "resident_population", "file": "buildings", "http": "camera_status", "mqtt": "smoke_alarms"}
# IoT resources are small (a few thousand messages at medium scale): the MQTT bench seeds all of
# them and reads every telemetry topic through one subscription with the smoke alarms' items.
MQTT_FILTER = "sd/+/+/+/telemetry"
MQTT_IDLE_S = 0.5


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare_environment(workdir: Path, kinds: list[str]) -> list:
    """Point the hub at `workdir` and at free ports (a running demo is left alone), start the MQTT
    broker / video service the kinds need; returns the functions that stop them."""
    os.environ["HUB_VAR_DIR"] = str(workdir)
    os.environ["HUB_MQTT_PORT"] = str(free_port())
    os.environ["HUB_VIDEO_URL"] = f"http://127.0.0.1:{free_port()}"
    os.environ["HUB_VIDEO_FAULT_RATE"] = "0"  # measure throughput, not the 503 drill (tests do that)
    from hub.settings import reset_settings

    reset_settings()
    stoppers = []
    if "mqtt" in kinds:
        from synthetic import mosquitto

        print(mosquitto.up())
        stoppers.append(mosquitto.down)
    if "http" in kinds:
        from synthetic import services

        print(services.video_up())
        stoppers.append(services.video_down)
    return stoppers


def seed_sources(scale: str, kinds: list[str]) -> None:
    from synthetic.generate import bound_resources, seed

    wanted = {RESOURCES[kind] for kind in kinds if kind != "mqtt"}
    if "mqtt" in kinds:
        wanted |= {r.id for r in bound_resources() if r.binding.kind == "mqtt"}
    started = time.perf_counter()
    manifest = seed(scale, only=wanted)
    counts = ", ".join(f"{rid} {entry['records']:,}" for rid, entry in manifest["resources"].items())
    print(f"seeded at scale {scale} in {time.perf_counter() - started:.1f} s: {counts}")


def bench_copy(resource, kind: str):
    """The resource under a bench-only id (so its topics are the bench's own), same source binding."""
    config = dict(resource.binding.config)
    if kind == "mqtt":
        config.update(idle_s=MQTT_IDLE_S, topic_filter=MQTT_FILTER)
    binding = resource.binding.model_copy(update={"config": config})
    return resource.model_copy(update={"id": f"bench_{kind}_{uuid.uuid4().hex[:8]}", "binding": binding})


def read_messages(topic: str) -> list[tuple[bytes, bytes, list]]:
    from kafka import TopicPartition

    from hub.kafka_clients import make_consumer

    consumer = make_consumer(group_id=None)
    try:
        assigned = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(assigned)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(assigned)
        found = []
        while any(consumer.position(tp) < ends[tp] for tp in assigned):
            for batch in consumer.poll(timeout_ms=1000).values():
                found.extend((m.key, m.value, list(m.headers)) for m in batch)
        return found
    finally:
        consumer.close()


def bare_send(messages: list[tuple[bytes, bytes, list]]) -> tuple[str, float, float]:
    """(topic, wall seconds, CPU seconds) of a plain send loop + flush of `messages` on a fresh topic,
    with the same producer settings."""
    from hub.kafka_clients import ensure_topics, make_producer

    topic = f"bench.bare.{uuid.uuid4().hex[:8]}"
    ensure_topics([topic])
    producer = make_producer()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        for key, value, headers in messages:
            producer.send(topic, key=key, value=value, headers=headers)
        producer.flush()
        return topic, time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        producer.close()


def connector_run(kind: str, resource) -> tuple[object, float, list[str]]:
    """One connector pass over the whole source under a fresh id: (report, seconds, its topics)."""
    from catalog.derive import topics
    from connectors.kinds import make_source
    from connectors.runner import run_resources

    copy = bench_copy(resource, kind)
    if kind == "mqtt":
        from synthetic.publisher import publish

        source = make_source(copy)
        source.prepare()  # the persistent session exists before the sensors publish
        source.close()
        publish(everything=True)
    cpu_started = time.process_time()
    [report] = run_resources([copy], progress=False)
    cpu = time.process_time() - cpu_started
    if not report.ok:
        raise SystemExit(f"{kind}: the connector failed: {report.error}")
    return report, report.seconds - (MQTT_IDLE_S if kind == "mqtt" else 0), cpu, list(topics(copy))


def bench_kind(kind: str, resource, repeat: int) -> dict:
    """Median records/s of `repeat` connector passes and of as many bare send loops of their messages."""
    connector_rates, bare_rates, connector_cpu, bare_cpu, bench_topics, messages = [], [], [], [], [], None
    for _ in range(repeat):
        report, seconds, cpu, made = connector_run(kind, resource)
        bench_topics += made
        connector_rates.append(report.produced / seconds)
        connector_cpu.append(cpu / report.produced * 1e6)
        messages = messages or read_messages(made[0])
        bare_topic, bare_seconds, bare_cpu_s = bare_send(messages)
        bench_topics.append(bare_topic)
        bare_rates.append(len(messages) / bare_seconds)
        bare_cpu.append(bare_cpu_s / len(messages) * 1e6)
    return {
        "kind": kind,
        "resource": resource.id,
        "records": report.produced,
        "dlq": report.dlq,
        "connector_rate": statistics.median(connector_rates),
        "bare_rate": statistics.median(bare_rates),
        "connector_cpu_us": statistics.median(connector_cpu),
        "bare_cpu_us": statistics.median(bare_cpu),
        "topics": bench_topics,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=("tiny", "small", "medium", "full"))
    parser.add_argument("--kinds", default="sql,file,http,mqtt")
    parser.add_argument("--repeat", type=int, default=3, help="passes per kind; medians are printed")
    parser.add_argument("--sql-resource", default=RESOURCES["sql"], help="the SQL resource to read")
    parser.add_argument("--keep", action="store_true", help="keep the bench topics and the seeded sources")
    args = parser.parse_args()
    RESOURCES["sql"] = args.sql_resource
    kinds = [k for k in args.kinds.split(",") if k]
    from hub import broker

    print(broker.up())
    workdir = Path(tempfile.mkdtemp(prefix="bench-connectors-"))
    stoppers = prepare_environment(workdir, kinds)
    results = []
    load_before = os.getloadavg()[0]
    try:
        from catalog.spec import load_catalogue

        seed_sources(args.scale, kinds)
        by_id = {r.id: r for r in load_catalogue(Path(__file__).resolve().parents[1] / "catalog" / "seed").resources}
        for kind in kinds:
            results.append(bench_kind(kind, by_id[RESOURCES[kind]], args.repeat))
    finally:
        for stop in stoppers:
            stop()
        if not args.keep:
            _cleanup(workdir, [t for r in results for t in r["topics"]])
    print(
        f"\nscale {args.scale}, median of {args.repeat} run(s), load average {load_before:.1f} → "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        "connector = read + conform + key + encode + send + flush + state; bare = send loop of the same encoded messages"
    )
    print("cpu µs/rec = this process's CPU time per record (the MQTT broker and the video service run apart);")
    print("cpu ratio = bare / connector CPU per record: the connector's own cost, less sensitive to a busy machine")
    print(
        f"{'kind':<6}{'resource':<22}{'records':>10}{'dlq':>6}{'connector rec/s':>17}{'bare rec/s':>12}{'ratio':>7}"
        f"{'cpu µs/rec':>12}{'bare cpu µs':>12}{'cpu ratio':>10}"
    )
    for r in results:
        print(
            f"{r['kind']:<6}{r['resource']:<22}{r['records']:>10,}{r['dlq']:>6,}{r['connector_rate']:>17,.0f}"
            f"{r['bare_rate']:>12,.0f}{r['connector_rate'] / r['bare_rate']:>7.2f}"
            f"{r['connector_cpu_us']:>12.1f}{r['bare_cpu_us']:>12.1f}{r['bare_cpu_us'] / r['connector_cpu_us']:>10.2f}"
        )
    print("goal: ratio >= 0.7")


def _cleanup(workdir: Path, bench_topics: list[str]) -> None:
    from hub.kafka_clients import make_admin

    shutil.rmtree(workdir, ignore_errors=True)
    if bench_topics:
        admin = make_admin()
        try:
            admin.delete_topics(bench_topics)
        except Exception as exc:  # a bench leaves topics behind rather than hide its figures
            print(f"could not delete the bench topics: {exc}")
        finally:
            admin.close()


if __name__ == "__main__":
    main()
