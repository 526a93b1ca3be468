"""A test session on the shared broker writes only under its own prefix (HUB_TOPIC_PREFIX): a demo
running on the same machine sees none of its events on `hub.events` and none of its consumer groups."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import TopicPartition

from hub.events import make_event, publish_events
from hub.kafka_clients import ensure_topics, make_admin, make_consumer
from hub.settings import get_settings
from hub.topics import EVENTS, catalog_group, events_topic

pytestmark = pytest.mark.kafka


def _end_offsets(topic: str) -> dict[int, int]:
    """End offset per partition of `topic`, or {} when it does not exist (it is not created here)."""
    consumer = make_consumer(group_id=None)
    try:
        numbers = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, number) for number in sorted(numbers)]
        return {tp.partition: end for tp, end in consumer.end_offsets(partitions).items()} if partitions else {}
    finally:
        consumer.close()


def _keys_since(topic: str, start: dict[int, int]) -> list[bytes]:
    """Keys of every message on `topic` after the offsets in `start` (partitions new since then from 0)."""
    ends = _end_offsets(topic)
    consumer = make_consumer(group_id=None)
    keys = []
    try:
        partitions = [TopicPartition(topic, p) for p in ends if ends[p] > start.get(p, 0)]
        if not partitions:
            return []
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start.get(tp.partition, 0))
        remaining = sum(ends[tp.partition] - start.get(tp.partition, 0) for tp in partitions)
        deadline = time.monotonic() + 30
        while remaining > 0 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                keys += [message.key for message in records]
                remaining -= len(records)
    finally:
        consumer.close()
    return keys


def test_events_of_a_prefixed_session_never_reach_the_unprefixed_topic(kafka_bootstrap, hub_env):
    from catalog.events import consume

    prefix = get_settings().topic_prefix
    assert prefix and events_topic() == f"{prefix}{EVENTS}"
    resource_id = f"t_iso_{uuid.uuid4().hex[:10]}"
    unprefixed_before = _end_offsets(EVENTS)
    prefixed_before = _end_offsets(events_topic())

    ensure_topics([events_topic()])
    publish_events(
        [
            make_event("connector.produced", resource_id, records=3, run_id="iso-1"),
            make_event("connector.produced", resource_id, records=4, run_id="iso-2"),
        ]
    )
    stats = consume()  # the catalogue's consumer, under the session's group
    assert stats.unknown_resource >= 2  # read from our topic (the resource is in no catalogue)

    assert _keys_since(events_topic(), prefixed_before).count(resource_id.encode()) == 2
    assert resource_id.encode() not in _keys_since(EVENTS, unprefixed_before)
    admin = make_admin()
    try:
        groups = set(admin.list_groups())
        committed = admin.group_offsets(catalog_group())
    finally:
        admin.close()
    assert catalog_group() == f"{prefix}hub-catalog" and catalog_group() in groups
    assert committed and all(tp.topic == events_topic() for tp in committed)
