"""Mixed batches: bad records scattered among many good ones, over several partitions and polls.

Landing decodes each chunk in bulk; only the failing records take the slow path. Whatever their
position in a poll or a chunk, every good record lands once, every bad one is in hub.dlq.<resource>
with its reason and its own partition/offset, repairs are counted on the landed rows only, and the
committed offsets are the ends of what was read.
"""

from __future__ import annotations

import random
from datetime import timedelta

import orjson
import pyarrow.parquet as pq
import pytest
from kafka import TopicPartition
from test_landing_poison import GOOD, T0, _read_all, headers, make_resource

from catalog import derive
from catalog.spec import Resource
from hub.envelope import Record, encode
from hub.kafka_clients import RecordBatch, ensure_topics, make_consumer, make_producer
from hub.topics import landing_group
from warehouse import batches, decode, lake, landing
from warehouse.errors import WarehouseError

CREATED: list[str] = []
BAD = {  # value (None: a tombstone), header overrides, a phrase of the DLQ reason
    "not_json": (b"{gmsfhm: 1", {}, "not JSON"),
    "wrong_type": (orjson.dumps({**GOOD, "hs": "three"}), {}, "item hs"),
    "bad_date": (orjson.dumps({**GOOD, "csrq": "1990/2/30"}), {}, "item csrq"),
    "bad_op": (orjson.dumps(GOOD), {"op": b"merge"}, "hub-op"),
    "tombstone": (None, {}, "no value"),
}


@pytest.fixture(scope="module", autouse=True)
def _drop_topics():
    yield
    from kafka_kit import drop_resource_topics

    drop_resource_topics(CREATED)


def _resource() -> Resource:
    resource = make_resource("t_mixed")
    CREATED.append(resource.id)
    return resource


@pytest.mark.kafka
def test_bad_records_scattered_among_good_ones_each_go_their_own_way(kafka_bootstrap, hub_env, monkeypatch):
    monkeypatch.setattr(landing, "CHUNK_BYTES", 40_000)  # several chunks (files) per partition …
    monkeypatch.setattr(landing, "POLL_RECORDS", 170)  # … of several polls each
    resource = _resource()
    topic, dlq = derive.topics(resource)
    ensure_topics([topic], partitions=3)
    rng = random.Random(13)
    # kafka-python places records on named partitions (the one interface leaves partitioning to the key)
    producer = make_producer(backend="kafka-python")
    good_keys, bad_keys, repaired = set(), {}, 0
    for n in range(3000):
        partition = n % 3
        if rng.random() < 0.03:
            name = rng.choice(sorted(BAD))
            value, overrides, phrase = BAD[name]
            key = f"bad-{n}-{name}"
            bad_keys[key] = phrase
            producer.send(
                topic, key=key.encode(), value=value, headers=headers(resource, **overrides), partition=partition
            )
            continue
        row = {**GOOD, "gmsfhm": f"44060619900101{n:04d}"}
        if n % 97 == 0:  # a date format the date_iso rule repairs
            row["csrq"], repaired = "1990/1/1", repaired + 1
        good_keys.add(row["gmsfhm"])
        key, value, hdrs = encode(
            Record(key=row["gmsfhm"].encode(), value=row, resource=resource.id, event_time=T0 + timedelta(seconds=n))
        )
        producer.send(topic, key=key, value=value, headers=hdrs, partition=partition)
    producer.flush()
    producer.close()

    result = landing.land(resource.id, catalogue=[resource])

    assert (result.rows, result.dlq_rows) == (len(good_keys), len(bad_keys))
    assert result.repairs == {"date_iso": repaired}
    assert len(result.files) > 3  # the chunks were cut inside polls, bad records on both sides of cuts
    landed = [pq.read_table(lake.absolute(path)) for path in result.files]
    landed_keys = [key for table in landed for key in table.column("gmsfhm").to_pylist()]
    assert sorted(landed_keys) == sorted(good_keys)  # each good record once
    letters = {letter["key"]: letter for letter in _read_all(dlq)}
    assert set(letters) == set(bad_keys)
    for key, phrase in bad_keys.items():
        assert phrase in letters[key]["reason"], (key, letters[key]["reason"])
    # Committed offsets: the end of every partition (good and bad records alike were read).
    consumer = make_consumer(group_id=landing_group(resource.id))
    tps = [TopicPartition(topic, p) for p in range(3)]
    ends = consumer.end_offsets(tps)
    assert {tp.partition: consumer.committed(tp) for tp in tps} == {tp.partition: ends[tp] for tp in tps}
    consumer.close()


@pytest.mark.kafka
def test_a_decode_failing_in_the_middle_fails_the_load_and_the_next_load_lands_every_record_once(
    kafka_bootstrap, hub_env, monkeypatch
):
    """Polls are decoded side by side (decoder threads) and added in order by the writer: a decoder's
    error fails the load at once and nothing is committed; the next run lands every record once."""
    monkeypatch.setattr(landing, "CHUNK_BYTES", 20_000)  # files are written before the failing poll
    monkeypatch.setattr(landing, "POLL_RECORDS", 100)
    resource = _resource()
    topic, _ = derive.topics(resource)
    ensure_topics([topic], partitions=3)
    producer = make_producer(backend="kafka-python")
    keys = set()
    for n in range(1500):
        row = {**GOOD, "gmsfhm": f"44060619900101{n:04d}"}
        keys.add(row["gmsfhm"])
        key, value, hdrs = encode(Record(key=row["gmsfhm"].encode(), value=row, resource=resource.id, event_time=T0))
        producer.send(topic, key=key, value=value, headers=hdrs, partition=n % 3)
    producer.flush()
    producer.close()
    decode_values, calls = decode.decode_values, []

    def failing_at_the_seventh_poll(values, items):
        calls.append(len(values))
        if len(calls) == 7:
            raise RuntimeError("decoder failed")
        return decode_values(values, items)

    monkeypatch.setattr(decode, "decode_values", failing_at_the_seventh_poll)
    with pytest.raises(WarehouseError, match="decoder failed") as failed:
        landing.land(resource.id, catalogue=[resource])
    assert failed.value.kind == "fatal"  # our own failure, not the source's or the broker's
    consumer = make_consumer(group_id=landing_group(resource.id))
    tps = [TopicPartition(topic, p) for p in range(3)]
    assert [consumer.committed(tp) for tp in tps] == [None, None, None]
    consumer.close()
    assert len(calls) < 15  # the load stopped at the failure, it did not decode the topic to its end

    monkeypatch.setattr(decode, "decode_values", decode_values)
    landing.land(resource.id, catalogue=[resource])
    # The files the failed load renamed before the failure stay (the next load starts after them,
    # as after a kill); with the next load's, every record is in the lake once.
    files = lake.list_files(resource)
    landed = [key for file in files for key in pq.read_table(file.path).column("gmsfhm").to_pylist()]
    assert sorted(landed) == sorted(keys)


def test_the_raw_record_view_splits_a_poll_by_partition_and_cuts_it_at_the_end_snapshot():
    # Partition 0 in two runs around partition 1 (interleaved), partition 2 not due any more.
    parts = [0, 0, 1, 1, 1, 0, 0, 2]
    offs = [10, 11, 5, 6, 7, 12, 13, 40]
    batch = RecordBatch(
        "t",
        partitions=parts,
        offsets=offs,
        timestamps=[0] * 8,
        keys=[f"k{p}-{o}".encode() for p, o in zip(parts, offs)],
        values=[b"{}"] * 8,
        headers=[[]] * 8,
    )
    taken = batches.split(batch, {0: 13, 1: 99})
    assert set(taken) == {0, 1}
    assert taken[0].offsets == [10, 11, 12] and taken[0].keys == [b"k0-10", b"k0-11", b"k0-12"]
    assert taken[1].offsets == [5, 6, 7] and taken[1].values == [b"{}"] * 3 and taken[1].headers == [[]] * 3
    assert batches.split(batch, {0: 10}) == {}  # nothing below the stop
    one = RecordBatch(
        "t",
        partitions=[2, 2],
        offsets=[1, 2],
        timestamps=[0, 0],
        keys=[None, None],
        values=[b"{}", b"{}"],
        headers=[[], []],
    )
    assert batches.split(one, {2: 2})[2].offsets == [1]
