"""The catalogue consumer against the real broker: hub.events → database, replayable from offset 0."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from catalog.db import make_engine, migrate, session_factory
from catalog.events import consume
from catalog.models import ConnectorRun
from catalog.store import dump_state, load_catalogue_into
from hub.events import make_event, publish_events
from hub.kafka_clients import ensure_topics, make_producer

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


def test_consuming_twice_from_the_beginning_rebuilds_the_same_state(events_topic, tmp_path, small_catalogue, evidence_events, t0):
    loaded = _session_run(f"sqlite:///{tmp_path}/loaded.db", lambda s: load_catalogue_into(s, small_catalogue, now=t0 - timedelta(days=1)))
    everything = loaded.events + evidence_events
    publish_events(everything, topic=events_topic)
    producer = make_producer()
    producer.send(events_topic, key=b"hjrk_jbxx", value=b"{not json")  # must be skipped, not fatal
    producer.flush()
    producer.close()
    group = f"hub-catalog-test-{uuid.uuid4().hex[:8]}"

    first_url = f"sqlite:///{tmp_path}/first.db"
    stats = consume(url=first_url, topic=events_topic, group_id=group)
    assert (stats.applied, stats.rejected, stats.undecodable) == (len(everything), 0, 1)
    assert consume(url=first_url, topic=events_topic, group_id=group).messages == 0  # offsets were committed
    first = _session_run(first_url, dump_state)

    again = consume(url=first_url, topic=events_topic, group_id=group, from_beginning=True)
    assert (again.applied, again.duplicate) == (0, len(everything))
    assert _session_run(first_url, dump_state) == first

    second_url = f"sqlite:///{tmp_path}/second.db"
    consume(url=second_url, topic=events_topic, group_id=f"{group}-2", from_beginning=True)
    assert _session_run(second_url, dump_state) == first


def test_follow_applies_events_as_they_arrive(events_topic, tmp_path, small_catalogue, t0):
    url = f"sqlite:///{tmp_path}/follow.db"
    loaded = _session_run(url, lambda s: load_catalogue_into(s, small_catalogue, now=t0))
    publish_events(loaded.events, topic=events_topic)
    stop = threading.Event()
    worker = threading.Thread(
        target=consume, kwargs=dict(follow=True, url=url, topic=events_topic, group_id=f"follow-{uuid.uuid4().hex[:8]}",
                                    poll_timeout_ms=200, stop=stop.is_set),
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
