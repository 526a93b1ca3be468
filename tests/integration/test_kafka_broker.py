"""The hub against a real Apache Kafka broker: topics, keyed records with headers, restarts."""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timezone

import pytest

from hub import broker, kafka_clients
from hub.envelope import Record, decode, encode
from hub.kafka_clients import ensure_topics, list_topics, make_consumer, make_producer
from hub.settings import get_settings, reset_settings

pytestmark = pytest.mark.kafka


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def private_broker(tmp_path_factory):
    """A broker of this module's own (own ports, own var dir): restarting it must not pull the shared
    broker from under a demo or another test run on the machine."""
    patch = pytest.MonkeyPatch()
    patch.setenv("HUB_VAR_DIR", str(tmp_path_factory.mktemp("private-broker")))
    patch.setenv("HUB_KAFKA_PORT", str(_free_port()))
    patch.setenv("HUB_KAFKA_CONTROLLER_PORT", str(_free_port()))
    patch.setenv("HUB_KAFKA_HEAP", "512m")
    patch.delenv("HUB_KAFKA_BOOTSTRAP", raising=False)
    reset_settings()
    try:
        print(broker.up())
        yield get_settings().kafka_bootstrap
    finally:
        kafka_clients.close_shared_producer(kafka_clients.SWITCH_FLUSH_S)  # before its broker goes
        print(broker.down())
        patch.undo()
        reset_settings()


def produce_keyed(topic: str, count: int, start: int = 0, producer=None) -> None:
    owned = producer is None
    producer = producer or make_producer()
    moment = datetime.now(timezone.utc)
    futures = []
    for n in range(start, start + count):
        record = Record(
            key=f"k{n:07d}".encode(),
            value={"n": n, "名称": f"记录{n}"},
            resource="test_resource",
            event_time=moment,
            source="test",
            schema="v1",
        )
        key, value, headers = encode(record)
        futures.append(producer.send(topic, key=key, value=value, headers=headers))
    producer.flush()
    failed = [f.exception for f in futures if f.failed()]
    assert not failed, f"{len(failed)} of {count} sends failed, the first: {failed[0]!r}"
    if owned:
        producer.close()


def read_all(topic: str, expected: int, timeout_s: float = 60.0) -> list[Record]:
    """Every record in `topic`, polling until `expected` arrived or nothing more comes."""
    consumer = make_consumer(topic, group_id=None)
    records: list[Record] = []
    idle_polls = 0
    try:
        while len(records) < expected or idle_polls < 2:
            batch = consumer.poll(timeout_ms=1000)
            messages = [m for part in batch.values() for m in part]
            idle_polls = 0 if messages else idle_polls + 1
            records += [decode(m.key, m.value, m.headers) for m in messages]
            if idle_polls > timeout_s:
                break
    finally:
        consumer.close()
    return records


def test_topics_are_created_once(kafka_bootstrap, unique_topic):
    assert ensure_topics([unique_topic, unique_topic], partitions=3) == [unique_topic]
    assert ensure_topics([unique_topic]) == []
    assert unique_topic in list_topics()


def test_ten_thousand_keyed_records_with_headers_come_back_exactly(kafka_bootstrap, unique_topic):
    ensure_topics([unique_topic], partitions=3)
    produce_keyed(unique_topic, 10_000)
    records = read_all(unique_topic, 10_000)
    assert sorted(r.key for r in records) == [f"k{n:07d}".encode() for n in range(10_000)]
    assert all(r.value["名称"] == f"记录{r.value['n']}" and r.resource == "test_resource" for r in records)
    assert {r.op for r in records} == {"upsert"}


def test_consumers_commit_only_when_told(kafka_bootstrap, unique_topic):
    ensure_topics([unique_topic], partitions=1)
    produce_keyed(unique_topic, 100)
    group = f"group-{unique_topic}"
    first = make_consumer(unique_topic, group_id=group)
    seen = sum(len(p) for p in first.poll(timeout_ms=10_000).values())
    first.close(autocommit=False)
    again = make_consumer(unique_topic, group_id=group)
    batch = again.poll(timeout_ms=10_000)
    assert seen > 0 and sum(len(p) for p in batch.values()) > 0  # nothing was committed: read again
    again.commit()
    again.close()


def test_broker_restart_while_producing_loses_nothing(private_broker, unique_topic):
    ensure_topics([unique_topic], partitions=3)
    producer = make_producer(delivery_timeout_ms=600_000)  # a JVM restart on a busy 2-core runner may take minutes
    total, half = 20_000, 10_000
    produce_keyed(unique_topic, half, producer=producer)
    restarted = threading.Event()

    def restart():
        print(broker.down())
        print(broker.up())
        restarted.set()

    restarter = threading.Thread(target=restart)
    restarter.start()
    produce_keyed(unique_topic, total - half, start=half, producer=producer)  # sent while the broker is away
    restarter.join()
    producer.close()
    assert restarted.is_set()
    keys = [r.key for r in read_all(unique_topic, total)]
    assert set(keys) == {f"k{n:07d}".encode() for n in range(total)}, "a record was lost"
    assert len(keys) == total, "idempotent producer wrote a record twice"


def test_down_then_up_keeps_topics_and_data(private_broker, unique_topic):
    ensure_topics([unique_topic], partitions=2)
    produce_keyed(unique_topic, 500)
    assert "stopped" in broker.down()
    assert broker.status()["state"] == "stopped"
    assert "started" in broker.up()
    assert unique_topic in list_topics()
    assert len(read_all(unique_topic, 500)) == 500
    assert "already running" in broker.up()
