"""Connector throughput per source kind, against a bare produce loop of the very same pre-encoded
messages (key, value, headers) with the fast backend (confluent-kafka), in the same run, with the same
producer settings; the kafka-python backend's figures are printed beside (its connector and its bare
send loop). For every kind the source's own ceiling is printed too: the source read, conformed and
encoded with no Kafka at all (the most the connector could do, however fast Kafka is).

The sources are the synthetic departments' systems, seeded at the chosen scale into a throwaway
HUB_VAR_DIR (one core resource per kind). Each connector writes to a topic of its own (a renamed
copy of the resource), so the bench never touches the demo's topics; its topics are deleted after.

    .venv/bin/python bench/connectors.py [--scale medium] [--kinds sql,sql-py,file,http,mqtt] [--repeat 3]
                                         [--backends confluent,kafka-python] [--keep]

`sql-py` is the SQL kind's baseline in the same run: the same table with `conform_in_database: false`,
every row conformed in Python instead of by SQLite.

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
    if kind == "sql-py":
        config.update(conform_in_database=False)
    binding = resource.binding.model_copy(update={"config": config})
    return resource.model_copy(
        update={"id": f"bench_{kind.replace('-', '_')}_{uuid.uuid4().hex[:8]}", "binding": binding}
    )


def read_messages(topic: str) -> list[tuple[bytes, bytes, list]]:
    from hub.kafka_clients import TopicPartition, make_consumer

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


def use_backend(backend: str) -> None:
    os.environ["HUB_KAFKA_CLIENT"] = backend
    from hub.settings import reset_settings

    reset_settings()


def bare_send(messages: list[tuple[bytes, bytes, list]], backend: str) -> tuple[str, float, float]:
    """(topic, wall seconds, CPU seconds) of a plain produce loop + flush of `messages` on a fresh topic,
    with the hub's producer settings: librdkafka's own Producer (no hub code at all), or KafkaProducer.send."""
    from hub.kafka_clients import ensure_topics, make_producer

    topic = f"bench.bare.{uuid.uuid4().hex[:8]}"
    ensure_topics([topic])
    if backend == "confluent":
        from confluent_kafka import Producer

        from hub.kafka_confluent import PRODUCER_DEFAULTS
        from hub.settings import get_settings

        native = Producer({**PRODUCER_DEFAULTS, "bootstrap.servers": get_settings().kafka_bootstrap})
        started, cpu_started = time.perf_counter(), time.process_time()
        for n, (key, value, headers) in enumerate(messages):
            while True:
                try:
                    native.produce(topic, value, key, headers=headers)
                    break
                except BufferError:
                    native.poll(0.05)
            if n % 1000 == 0:
                native.poll(0)
        native.flush()
        return topic, time.perf_counter() - started, time.process_time() - cpu_started
    producer = make_producer()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        for key, value, headers in messages:
            producer.send(topic, key=key, value=value, headers=headers)
        producer.flush()
        return topic, time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        producer.close()


def source_ceiling(kind: str, resource) -> float:
    """Records/s of reading the source, conforming and encoding, with no Kafka (MQTT: acked at once)."""
    from connectors.base import Conformed, SourceRecord
    from connectors.kinds import make_source
    from connectors.records import RecordBuilder

    copy = bench_copy(resource, kind)
    source = make_source(copy)
    if kind == "mqtt":
        from synthetic.publisher import publish

        source.prepare()
        publish(everything=True)
    builder = RecordBuilder(copy, f"{copy.binding.system}.{source.object_name}")
    count, started = 0, time.perf_counter()
    try:
        for item in source.read({}):
            if type(item) is Conformed:  # rows the source's database conformed: only the envelope is left
                builder.encode_conformed(item)
                count += len(item)
            elif type(item) is SourceRecord:
                try:
                    builder.encode(item)
                except Exception:  # a row for the DLQ: read all the same
                    pass
                count += 1
            if kind == "mqtt" and item.position is not None:
                source.delivered(item.position)
    finally:
        source.close()
    seconds = time.perf_counter() - started - (MQTT_IDLE_S if kind == "mqtt" else 0)
    return count / seconds if seconds > 0 else 0.0


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


def bench_kind(kind: str, resource, repeat: int, backend: str) -> dict:
    """Median records/s of `repeat` connector passes and of as many bare send loops of their messages,
    both on `backend`."""
    use_backend(backend)
    connector_rates, bare_rates, connector_cpu, bare_cpu, bench_topics, messages = [], [], [], [], [], None
    for _ in range(repeat):
        report, seconds, cpu, made = connector_run(kind, resource)
        bench_topics += made
        connector_rates.append(report.produced / seconds)
        connector_cpu.append(cpu / report.produced * 1e6)
        messages = messages or read_messages(made[0])
        bare_topic, bare_seconds, bare_cpu_s = bare_send(messages, backend)
        bench_topics.append(bare_topic)
        bare_rates.append(len(messages) / bare_seconds)
        bare_cpu.append(bare_cpu_s / len(messages) * 1e6)
    ceiling = statistics.median(source_ceiling(kind, resource) for _ in range(repeat))
    return {
        "kind": kind,
        "backend": backend,
        "resource": resource.id,
        "records": report.produced,
        "dlq": report.dlq,
        "connector_rate": statistics.median(connector_rates),
        "bare_rate": statistics.median(bare_rates),
        "connector_cpu_us": statistics.median(connector_cpu),
        "bare_cpu_us": statistics.median(bare_cpu),
        "ceiling": ceiling,
        "runs": [round(r) for r in connector_rates],
        "topics": bench_topics,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=("tiny", "small", "medium", "full"))
    parser.add_argument("--kinds", default="sql,sql-py,file,http,mqtt", help="sql-py: the SQL kind conformed in Python")
    parser.add_argument("--repeat", type=int, default=3, help="passes per kind; medians are printed")
    parser.add_argument("--sql-resource", default=RESOURCES["sql"], help="the SQL resource to read")
    parser.add_argument("--backends", default="confluent,kafka-python", help="Kafka client backends, fast first")
    parser.add_argument("--keep", action="store_true", help="keep the bench topics and the seeded sources")
    args = parser.parse_args()
    RESOURCES["sql"] = args.sql_resource
    RESOURCES["sql-py"] = RESOURCES["sql"]  # the SQL kind's baseline: every row conformed in Python
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
            for backend in args.backends.split(","):
                results.append(bench_kind(kind, by_id[RESOURCES[kind]], args.repeat, backend))
    finally:
        for stop in stoppers:
            stop()
        if not args.keep:
            _cleanup(workdir, [t for r in results for t in r["topics"]])
    print(
        f"\nscale {args.scale}, median of {args.repeat} run(s), load average {load_before:.1f} → "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print_table(results)


def print_table(results: list[dict]) -> None:
    print(
        "connector = read + conform + key + encode + send + flush + state; bare = produce loop of the same "
        "encoded messages (confluent: librdkafka's Producer itself)"
    )
    print("ratio = connector / bare confluent (the fast backend's bare loop, same kind, same run)")
    print("cpu µs/rec = this process's CPU time per record (the MQTT broker and the video service run apart)")
    print("source ceiling = the source read + conformed + encoded with no Kafka")
    print(
        f"{'kind':<7}{'backend':<14}{'records':>9}{'dlq':>5}{'connector rec/s':>17}{'bare rec/s':>12}"
        f"{'ratio':>7}{'cpu µs/rec':>12}{'bare cpu µs':>12}{'source ceiling':>16}  runs"
    )
    fast_bare = {r["kind"]: r["bare_rate"] for r in results if r["backend"] == "confluent"}
    for r in results:
        bare = fast_bare.get(r["kind"], r["bare_rate"])
        ceiling = f"{r['ceiling']:>16,.0f}" if r["ceiling"] else f"{'':>16}"
        print(
            f"{r['kind']:<7}{r['backend']:<14}{r['records']:>9,}{r['dlq']:>5,}{r['connector_rate']:>17,.0f}"
            f"{r['bare_rate']:>12,.0f}{r['connector_rate'] / bare:>7.2f}"
            f"{r['connector_cpu_us']:>12.1f}{r['bare_cpu_us']:>12.1f}{ceiling}  {r['runs']}"
        )
    print("goal: ratio >= 0.5 on the confluent rows (HTTP, MQTT: or the connector near its source ceiling)")


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
