"""The Kafka client interface's contract (hub/kafka_api.py), run against the real broker once per
backend (confluent-kafka and kafka-python): what the hub relies on, whichever client serves it."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from hub import broker
from hub.kafka_clients import (
    KafkaError,
    OffsetAndMetadata,
    TopicPartition,
    ensure_topics,
    list_topics,
    make_admin,
    make_consumer,
    make_producer,
)
from hub.settings import get_settings

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")


def _messages(n: int, prefix: str = "k") -> list[tuple[bytes, bytes, list]]:
    return [
        (f"{prefix}{i:05d}".encode(), f'{{"n": {i}, "名称": "记录{i}"}}'.encode(), [("hub-n", str(i).encode())])
        for i in range(n)
    ]


def _read(topic: str, group_id: str | None = None, **overrides) -> list:
    """Every record of `topic` up to its end offsets (poll's per-partition shape)."""
    consumer = make_consumer(group_id=group_id, **overrides)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        found, deadline = [], time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, "the end offsets were not reached within 60 s"
            for tp, records in consumer.poll(timeout_ms=500).items():
                assert all(r.topic == tp.topic and r.partition == tp.partition for r in records)
                found += records
        return found
    finally:
        consumer.close()


def test_keys_values_and_headers_come_back_exactly_and_a_key_keeps_its_partition(kafka_backend, unique_topic):
    ensure_topics([unique_topic], partitions=3)
    producer = make_producer()
    sent = _messages(3_000)
    batch = producer.send_batch(unique_topic, sent)
    again = [producer.send(unique_topic, key=k, value=v, headers=h) for k, v, h in sent[:300]]
    producer.flush()
    producer.close()
    assert (batch.sent, batch.delivered, batch.failed) == (3_000, 3_000, 0)
    assert all(d.succeeded() and not d.failed() and d.exception is None for d in again)

    records = _read(unique_topic)
    assert sorted((r.key, r.value, list(r.headers)) for r in records) == sorted(sent + sent[:300])
    partitions_of_key: dict[bytes, set[int]] = {}
    for r in records:
        partitions_of_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(p) == 1 for p in partitions_of_key.values())  # one key, one partition: its order holds
    assert len({r.partition for r in records}) == 3
    assert all(isinstance(r.timestamp, int) and r.timestamp > 1_600_000_000_000 for r in records)


def test_poll_batch_returns_the_raw_records_as_columns(kafka_backend, unique_topic):
    ensure_topics([unique_topic], partitions=2)
    producer = make_producer()
    producer.send_batch(unique_topic, _messages(2_500))
    producer.send(unique_topic, key=None, value=b"no key, no headers")
    producer.flush()
    consumer = make_consumer(group_id=None)
    try:
        partitions = [TopicPartition(unique_topic, p) for p in (0, 1)]
        consumer.assign(partitions)
        rows, deadline = [], time.monotonic() + 60
        while len(rows) < 2_501 and time.monotonic() < deadline:
            batch = consumer.poll_batch(1_000, 0.5)
            if batch is None:
                continue
            assert batch.topic == unique_topic and len(batch) <= 1_000
            columns = (batch.partitions, batch.offsets, batch.timestamps, batch.keys, batch.values, batch.headers)
            assert {len(c) for c in columns} == {len(batch)}
            rows += list(zip(*columns))
            assert all(consumer.position(TopicPartition(unique_topic, p)) == o for p, o in batch.next_offsets().items())
        assert consumer.poll_batch(1_000, 0.2) is None  # the end: nothing more, and no error
    finally:
        consumer.close()
    assert len(rows) == 2_501
    assert sorted(r[3] for r in rows if r[3] is not None) == [k for k, _, _ in _messages(2_500)]
    bare = next(r for r in rows if r[3] is None)
    assert bare[4] == b"no key, no headers" and bare[5] == []
    for p in (0, 1):  # offsets ascend within a partition, without gaps
        offsets = [r[1] for r in rows if r[0] == p]
        assert offsets == list(range(len(offsets)))


def _producer_ids(topic: str) -> list[str]:
    """The producer ids the broker keeps state for on partition 0 (idempotent producers only)."""
    lay = broker.layout()
    command = broker.java_command(
        lay,
        "org.apache.kafka.tools.TransactionsCommand",
        "--bootstrap-server",
        get_settings().kafka_bootstrap,
        "describe-producers",
        "--topic",
        topic,
        "--partition",
        "0",
    )
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    return [line.split()[0] for line in out.splitlines()[1:] if line.split() and line.split()[0].isdigit()]


def test_the_producer_is_idempotent_so_acks_are_all(kafka_backend, unique_topic):
    # The broker keeps producer state only for idempotent producers, and both clients refuse
    # idempotence without acks=all: a producer id on the partition proves both settings took.
    ensure_topics([unique_topic], partitions=1)
    producer = make_producer()
    producer.send_batch(unique_topic, _messages(10))
    producer.flush()
    producer.close()
    assert len(_producer_ids(unique_topic)) == 1

    plain = make_producer(enable_idempotence=False, acks=1)  # the control: the check can fail
    other = f"{unique_topic}.plain"
    ensure_topics([other], partitions=1)
    plain.send(other, value=b"x")
    plain.flush()
    plain.close()
    assert _producer_ids(other) == []


def test_a_refused_record_fails_its_delivery_and_flush_still_returns(kafka_backend, unique_topic):
    ensure_topics([unique_topic], partitions=1, **{"max.message.bytes": "2000"})
    producer = make_producer()
    ok = producer.send(unique_topic, value=b"small")
    producer.flush(timeout=60)
    too_big = producer.send(unique_topic, value=os.urandom(50_000))  # random: lz4 cannot shrink it under the limit
    producer.flush(timeout=60)
    # A refused record may take its batch-mates down with it (librdkafka sends them as one request):
    # each is then reported failed, never silently dropped.
    batch = producer.send_batch(unique_topic, [(b"a", os.urandom(50_000), None), (b"b", b"small", None)])
    producer.flush(timeout=60)
    producer.close()
    assert ok.succeeded()
    assert too_big.failed() and isinstance(too_big.exception, KafkaError)
    assert batch.sent == 2 and batch.complete and batch.failed >= 1
    assert isinstance(batch.first_error, KafkaError)


def _write_aborted_between(topic: str, committed_before: int, aborted: int, committed_after: int) -> None:
    """Committed, aborted (a transaction rolled back), committed records, on partition 0."""
    from confluent_kafka import Producer

    bootstrap = get_settings().kafka_bootstrap
    transactional = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex}"})
    transactional.init_transactions(30)
    for count, commit, label in ((committed_before, True, "c1"), (aborted, False, "ab"), (committed_after, True, "c2")):
        transactional.begin_transaction()
        for i in range(count):
            transactional.produce(topic, value=f"{label}-{i}".encode(), partition=0)
        transactional.flush()
        (transactional.commit_transaction if commit else transactional.abort_transaction)(30)


def test_read_committed_skips_an_aborted_transaction_and_still_reaches_the_end(kafka_backend, unique_topic):
    ensure_topics([unique_topic], partitions=1)
    _write_aborted_between(unique_topic, 5, 7, 3)
    values = [r.value.decode() for r in _read(unique_topic)]
    assert values == [f"c1-{i}" for i in range(5)] + [f"c2-{i}" for i in range(3)]
    # the control: read_uncommitted does see the rolled-back records, so the check above can fail
    assert (
        sum(v.startswith(b"ab-") for v in (r.value for r in _read(unique_topic, isolation_level="read_uncommitted")))
        == 7
    )


def test_offsets_are_committed_only_when_told_with_their_note(kafka_backend, unique_topic):
    ensure_topics([unique_topic], partitions=2)
    producer = make_producer()
    producer.send_batch(unique_topic, _messages(200))
    producer.flush()
    group = f"{get_settings().topic_prefix}contract-{uuid.uuid4().hex[:8]}"
    tps = [TopicPartition(unique_topic, p) for p in (0, 1)]

    first = make_consumer(group_id=group)
    first.assign(tps)
    assert all(first.committed(tp) is None for tp in tps)
    assert sum(len(r) for r in first.poll(timeout_ms=10_000).values()) > 0
    first.close(autocommit=False)

    second = make_consumer(group_id=group)
    second.assign(tps)
    assert all(second.position(tp) == 0 for tp in tps)  # nothing was committed: from the start again
    ends = second.end_offsets(tps)
    notes = {tps[0]: "load-42", tps[1]: ""}  # landing notes its load id; the catalogue's consumer none
    second.commit({tp: OffsetAndMetadata(ends[tp] - 10, notes[tp], -1) for tp in tps})
    second.close()

    third = make_consumer(group_id=group)
    third.assign(tps)
    assert {tp: third.committed(tp) for tp in tps} == {tp: ends[tp] - 10 for tp in tps}
    polled = {}
    while sum(len(r) for r in polled.values()) < 20:
        for tp, records in third.poll(timeout_ms=2_000).items():
            polled.setdefault(tp, []).extend(records)
    assert {tp: [r.offset for r in records] for tp, records in polled.items()} == {
        tp: list(range(ends[tp] - 10, ends[tp])) for tp in tps
    }
    third.close()
    admin = make_admin()
    try:
        assert group in admin.list_groups()
        assert admin.group_offsets(group) == {tp: ends[tp] - 10 for tp in tps}
        admin.delete_groups([group])
        assert group not in admin.list_groups()
    finally:
        admin.close()


def test_seek_replays_and_pause_holds_a_partition_back(kafka_backend, unique_topic):
    ensure_topics([unique_topic], partitions=2)
    producer = make_producer()
    producer.send_batch(unique_topic, _messages(400))
    producer.flush()
    consumer = make_consumer(group_id=None)
    try:
        tps = [TopicPartition(unique_topic, p) for p in (0, 1)]
        consumer.assign(tps)
        assert consumer.beginning_offsets(tps) == {tp: 0 for tp in tps}
        ends = consumer.end_offsets(tps)
        consumer.seek(tps[0], 7)
        consumer.pause(tps[1])
        seen = []
        while consumer.position(tps[0]) < ends[tps[0]]:
            polled = consumer.poll(timeout_ms=1_000)
            assert tps[1] not in polled
            seen += [r.offset for r in polled.get(tps[0], [])]
        assert seen == list(range(7, ends[tps[0]]))
        consumer.seek_to_beginning(tps[0])
        assert consumer.position(tps[0]) == 0
        replayed = []
        while len(replayed) < 3:
            replayed += [r.offset for r in consumer.poll(timeout_ms=1_000, max_records=3).get(tps[0], [])]
        assert replayed[:3] == [0, 1, 2]
        consumer.resume(tps[1])
        resumed = []
        while not resumed:
            resumed = consumer.poll(timeout_ms=1_000).get(tps[1], [])
        assert resumed[0].offset == 0
        consumer.seek_to_end(tps[0])
        assert consumer.position(tps[0]) == ends[tps[0]]
    finally:
        consumer.close()


def test_admin_creates_lists_and_deletes_topics(kafka_backend, unique_topic):
    names = [unique_topic, f"{unique_topic}.dlq"]
    assert ensure_topics(names + names[:1], partitions=2) == names
    assert ensure_topics(names) == []
    assert set(names) <= set(list_topics())
    consumer = make_consumer(group_id=None)
    assert consumer.partitions_for_topic(unique_topic) == {0, 1}
    assert consumer.partitions_for_topic(f"{unique_topic}.never") == set()
    consumer.close()
    admin = make_admin()
    try:
        admin.delete_topics(names)
        deadline = time.monotonic() + 30
        while set(names) & set(admin.list_topics()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not set(names) & set(admin.list_topics())
    finally:
        admin.close()


def test_an_unknown_option_is_refused_with_the_way_out(unique_topic, monkeypatch):
    from hub.errors import ConfigError
    from hub.settings import reset_settings

    monkeypatch.setenv("HUB_KAFKA_CLIENT", "confluent")
    reset_settings()
    with pytest.raises(ConfigError, match="librdkafka's dotted name"):
        make_producer(no_such_option=1)
    monkeypatch.setenv("HUB_KAFKA_CLIENT", "kafka-pithon")
    reset_settings()
    with pytest.raises(Exception, match="HUB_KAFKA_CLIENT"):
        make_producer()
    monkeypatch.delenv("HUB_KAFKA_CLIENT")
    reset_settings()
