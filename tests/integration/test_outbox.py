"""The outbox on the real broker: a kept event survives a failed send and the next flush sends it."""

from __future__ import annotations

import socket
import uuid

import orjson
import pytest
from kafka import TopicPartition

from hub import outbox
from hub import settings as hub_settings
from hub.events import ConnectorProduced, LandingCompleted
from hub.kafka_clients import ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.kafka


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed when the block ends: nothing listens there


def _read(topic: str) -> list[dict]:
    consumer = make_consumer(group_id=None)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    found = []
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        for records in consumer.poll(timeout_ms=2000).values():
            found += [orjson.loads(record.value) for record in records]
    consumer.close()
    return found


def test_a_kept_event_survives_a_failed_send_and_the_next_flush_sends_it(
    kafka_bootstrap, hub_env, monkeypatch, kafka_backend
):
    topic = f"test.outbox.{uuid.uuid4().hex[:12]}"
    ensure_topics([topic], partitions=1)
    events = [
        ConnectorProduced.build("hjrk_jbxx", records=5, source="population_db"),
        LandingCompleted.build("hjrk_jbxx", id=f"load-{uuid.uuid4().hex[:6]}", load_id="l-1", rows=5),
        ConnectorProduced.build("ldrk_jbxx", records=0, error="source down"),
    ]
    for event in events:
        outbox.keep(event, topic)
    outbox.keep(events[1], topic)  # kept twice (a step re-run): still one event, in its first place
    assert [e["id"] for e in outbox.kept(topic)] == [e.id for e in events]

    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", f"127.0.0.1:{_closed_port()}")
    hub_settings.reset_settings()
    # kafka-python must not wait for the version probe or for metadata; librdkafka never blocks a send.
    blocking = {"api_version": (3, 7), "max_block_ms": 2000} if kafka_backend == "kafka-python" else {}
    unreachable = make_producer(request_timeout_ms=2000, delivery_timeout_ms=3000, **blocking)
    try:
        with pytest.raises(outbox.OutboxError, match="stay in") as failed:
            outbox.flush(unreachable, topic)
    finally:
        unreachable.close(timeout=0)  # else it retries the closed port for the rest of the run
    assert failed.value.kind == "retriable"
    assert [e["id"] for e in outbox.kept(topic)] == [e.id for e in events]  # nothing lost
    assert _read_with(kafka_bootstrap, monkeypatch, topic) == []

    assert outbox.flush(topic=topic) == 3
    assert outbox.kept(topic) == []
    assert _read(topic) == [event.wire() for event in events]  # in the order kept
    assert outbox.flush(topic=topic) == 0


def _read_with(bootstrap: str, monkeypatch, topic: str) -> list[dict]:
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", bootstrap)
    hub_settings.reset_settings()
    return _read(topic)


def test_keep_refuses_an_event_that_does_not_fit_its_model(hub_env):
    bad = {
        "id": "x",
        "type": "connector.produced",
        "ts": "2026-05-01T08:00:00+00:00",
        "resource": "r",
        "version": 2,
        "payload": {"produced": 3},
    }
    with pytest.raises(ValueError, match="payload.records"):
        outbox.keep(bad)
    assert outbox.kept() == []
