"""Produce then consume N small JSON records through the hub's factories and through kafka-python's
defaults, in the same run, against the configured broker. Prints records/s and MB/s of each.

    .venv/bin/python bench/kafka_roundtrip.py [--records 1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from hub import broker  # noqa: E402
from hub.kafka_clients import ensure_topics, make_consumer, make_producer  # noqa: E402
from hub.settings import get_settings  # noqa: E402


def messages(count: int) -> list[tuple[bytes, bytes]]:
    """Realistic small records: a meter reading, about 150 bytes of JSON."""
    return [
        (
            f"M{n:011d}".encode(),
            orjson.dumps(
                {
                    "meter_id": f"M{n:011d}",
                    "reading_time": "2026-11-23T08:00:00+08:00",
                    "cumulative_value": n * 0.37,
                    "unit": "kWh",
                    "read_type": "auto",
                }
            ),
        )
        for n in range(count)
    ]


def produce(producer, topic: str, batch: list[tuple[bytes, bytes]]) -> float:
    started = time.perf_counter()
    for key, value in batch:
        producer.send(topic, key=key, value=value)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return elapsed


def consume(consumer, expected: int) -> float:
    started = time.perf_counter()
    seen = 0
    while seen < expected:
        for records in consumer.poll(timeout_ms=2000).values():
            seen += len(records)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def run(label: str, make_p, make_c, batch, payload_mb: float) -> dict:
    topic = f"bench.roundtrip.{uuid.uuid4().hex[:8]}"
    ensure_topics([topic], partitions=3)
    produce_s = produce(make_p(), topic, batch)
    consume_s = consume(make_c(topic), len(batch))
    return {"label": label, "produce_s": produce_s, "consume_s": consume_s, "n": len(batch), "mb": payload_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(broker.up())
    bootstrap = get_settings().kafka_bootstrap
    batch = messages(args.records)
    payload_mb = sum(len(k) + len(v) for k, v in batch) / 1e6
    contenders = {
        "hub factories": (make_producer, lambda t: make_consumer(t, group_id=None)),
        "kafka-python defaults": (
            lambda: KafkaProducer(bootstrap_servers=bootstrap),
            lambda t: KafkaConsumer(t, bootstrap_servers=bootstrap, auto_offset_reset="earliest"),
        ),
    }
    results: dict[str, list[dict]] = {label: [] for label in contenders}
    for _ in range(args.repeat):
        for label, (make_p, make_c) in contenders.items():
            results[label].append(run(label, make_p, make_c, batch, payload_mb))
    print(f"{args.records:,} records, {payload_mb:.1f} MB of key+value, median of {args.repeat} run(s)")
    print(f"{'client':<24}{'produce rec/s':>16}{'produce MB/s':>14}{'consume rec/s':>16}{'consume MB/s':>14}")
    medians = {}
    for label, runs in results.items():
        p = statistics.median(r["produce_s"] for r in runs)
        c = statistics.median(r["consume_s"] for r in runs)
        medians[label] = (p, c)
        n = args.records
        print(f"{label:<24}{n / p:>16,.0f}{payload_mb / p:>14.1f}{n / c:>16,.0f}{payload_mb / c:>14.1f}")
    (hp, hc), (dp, dc) = medians["hub factories"], medians["kafka-python defaults"]
    print(f"ratio hub/defaults: produce {dp / hp:.2f}x, consume {dc / hc:.2f}x")


if __name__ == "__main__":
    main()
