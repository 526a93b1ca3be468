"""The catalogue consumer against the real broker: hub.events → database, replayable from offset 0."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import orjson
import pytest
from kafka import TopicPartition
from sqlalchemy import func, select

from catalog.db import make_engine, migrate, session_factory
from catalog.events import consume
from catalog.models import AppliedEvent, ConnectorRun
from catalog.store import dump_state, load_catalogue_into
from hub.events import make_event, publish_events
from hub.kafka_clients import ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.kafka


def _session_run(url: str, work):
    engine = make_engine(url)
    migrate(engine=engine)
    try:
        with session_factory(engine)() as session, session.begin():
            return work(session)
    finally:
        engine.dispose()


@pytest.fixture
def events_topic(kafka_bootstrap, unique_topic) -> str:
    # Three partitions, as hub.events may have: per-resource order must survive the keying.
    ensure_topics([unique_topic], partitions=3)
    return unique_topic


def test_consuming_twice_from_the_beginning_rebuilds_the_same_state(
    events_topic, tmp_path, small_catalogue, evidence_events, t0
):
    loaded = _session_run(
        f"sqlite:///{tmp_path}/loaded.db", lambda s: load_catalogue_into(s, small_catalogue, now=t0 - timedelta(days=1))
    )
    everything = loaded.events + evidence_events
    publish_events(everything, topic=events_topic)
    producer = make_producer()
    producer.send(events_topic, key=b"hjrk_jbxx", value=b"{not json")  # must be skipped, not fatal
    producer.flush()
    producer.close()
    group = f"hub-catalog-test-{uuid.uuid4().hex[:8]}"

    first_url = f"sqlite:///{tmp_path}/first.db"
    dlq = f"{events_topic}.dlq"
    stats = consume(url=first_url, topic=events_topic, group_id=group, dlq_topic=dlq)
    assert (stats.applied, stats.rejected, stats.undecodable, stats.dead_lettered) == (len(everything), 0, 1, 1)
    assert consume(url=first_url, topic=events_topic, group_id=group, dlq_topic=dlq).messages == 0  # committed
    first = _session_run(first_url, dump_state)

    again = consume(url=first_url, topic=events_topic, group_id=group, from_beginning=True, dlq_topic=dlq)
    assert (again.applied, again.duplicate) == (0, len(everything))
    assert _session_run(first_url, dump_state) == first

    second_url = f"sqlite:///{tmp_path}/second.db"
    consume(url=second_url, topic=events_topic, group_id=f"{group}-2", from_beginning=True, dlq_topic=dlq)
    assert _session_run(second_url, dump_state) == first


def test_unknown_and_malformed_events_are_dead_lettered_with_the_reason_and_kept_as_rejected(
    events_topic, tmp_path, small_catalogue, t0
):
    url = f"sqlite:///{tmp_path}/dlq.db"
    loaded = _session_run(url, lambda s: load_catalogue_into(s, small_catalogue, now=t0))
    dlq = f"{events_topic}.dlq"
    ensure_topics([dlq], partitions=1)
    good = make_event("connector.produced", "hjrk_jbxx", ts=t0, records=5)
    poison = {
        "unknown-type": {
            "id": "unknown-type",
            "type": "resource.deleted",
            "ts": t0.isoformat(),
            "resource": "hjrk_jbxx",
            "payload": {},
        },
        "synonyms": {**good, "id": "synonyms", "payload": {"produced": 5, "dlq": 0}},  # version 2 with old names
        "future": {**good, "id": "future", "version": 3},
    }
    producer = make_producer()
    for event in [*loaded.events, *poison.values(), good]:
        producer.send(events_topic, key=event["resource"].encode(), value=orjson.dumps(event))
    producer.send(events_topic, key=b"hjrk_jbxx", value=b"[1, 2")
    producer.flush()
    producer.close()

    stats = consume(
        url=url, topic=events_topic, group_id=f"dlq-{uuid.uuid4().hex[:8]}", dlq_topic=dlq, from_beginning=True
    )
    assert (stats.rejected, stats.undecodable, stats.dead_lettered) == (3, 1, 4)
    assert stats.applied == 1 and stats.duplicate == len(loaded.events)

    letters = {}
    for message in read_all(dlq):
        headers = dict(message.headers)
        assert headers["hub-dlq-stage"] == b"catalog" and headers["hub-dlq-origin"].startswith(events_topic.encode())
        letters[message.value] = headers["hub-dlq-reason"].decode()
    reasons = {
        orjson.loads(value)["id"] if value.startswith(b"{") else value: reason for value, reason in letters.items()
    }
    assert "unknown event type 'resource.deleted'" in reasons["unknown-type"]
    assert "payload.records: Field required" in reasons["synonyms"]
    assert "event version 3" in reasons["future"]
    assert reasons[b"[1, 2"].startswith("event is not JSON")

    def kept(session):
        rows = session.scalars(select(AppliedEvent).where(AppliedEvent.outcome == "rejected"))
        return {row.event_id: row.detail for row in rows}

    assert _session_run(url, kept) == {key: reasons[key] for key in poison}


def read_all(topic: str) -> list:
    consumer = make_consumer(group_id=None)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    found = []
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        for records in consumer.poll(timeout_ms=2000).values():
            found += records
    consumer.close()
    return found


def test_follow_applies_events_as_they_arrive(events_topic, tmp_path, small_catalogue, t0):
    url = f"sqlite:///{tmp_path}/follow.db"
    loaded = _session_run(url, lambda s: load_catalogue_into(s, small_catalogue, now=t0))
    publish_events(loaded.events, topic=events_topic)
    stop = threading.Event()
    worker = threading.Thread(
        target=consume,
        kwargs=dict(
            follow=True,
            url=url,
            topic=events_topic,
            group_id=f"follow-{uuid.uuid4().hex[:8]}",
            poll_timeout_ms=200,
            stop=stop.is_set,
            dlq_topic=f"{events_topic}.dlq",
        ),
    )
    worker.start()
    try:
        publish_events([make_event("connector.produced", "hjrk_jbxx", ts=t0, records=5)], topic=events_topic)
        count = lambda s: s.scalar(select(func.count()).select_from(ConnectorRun))  # noqa: E731
        deadline = time.monotonic() + 30
        while _session_run(url, count) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _session_run(url, count) == 1
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
