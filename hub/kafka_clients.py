"""Kafka clients with the hub's safe, fast defaults, from the backend `HUB_KAFKA_CLIENT` names
(confluent: librdkafka, the default; kafka-python: pure Python), and topic administration.

Every client made here has the interface of hub/kafka_api.py, whichever backend made it, so callers
never import a client library. Each backend is imported only when first used.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterable
from typing import Literal

from hub.kafka_api import (  # noqa: F401  (re-exported: callers import the interface from here)
    Admin,
    BatchDelivery,
    ConsumedRecord,
    Consumer,
    KafkaClientError,
    KafkaError,
    OffsetAndMetadata,
    Producer,
    RecordBatch,
    TopicPartition,
    TopicSpec,
)
from hub.settings import get_settings

log = logging.getLogger(__name__)

Backend = Literal["confluent", "kafka-python"]
BACKENDS: tuple[Backend, ...] = ("confluent", "kafka-python")


def _module(backend: Backend | None):
    backend = backend or get_settings().kafka_client
    if backend == "confluent":
        from hub import kafka_confluent, kafka_confluent_consumer

        return kafka_confluent, kafka_confluent_consumer
    if backend == "kafka-python":
        from hub import kafka_python_client

        return kafka_python_client, kafka_python_client
    raise ValueError(f"unknown Kafka client backend {backend!r}; use one of {', '.join(BACKENDS)}")


def backend_name() -> Backend:
    return get_settings().kafka_client


def make_producer(*, backend: Backend | None = None, **overrides) -> Producer:
    """A producer (acks=all, idempotent, lz4) on the configured cluster; keyword arguments
    (kafka-python's option names) override the defaults."""
    return _module(backend)[0].make_producer(get_settings().kafka_bootstrap, **overrides)


EXIT_FLUSH_S = 10.0
SWITCH_FLUSH_S = 1.0
_shared: dict[tuple, Producer] = {}  # at most one: (pid, bootstrap, backend) → producer
_shared_lock = threading.Lock()


def shared_producer() -> Producer:
    """The process's producer for the hub's own sends (events, the outbox, dead letters, connectors'
    records), made on first use. An idempotent producer waits about half a second for its producer
    id before its first delivery: paid once per process, not once per send. Flushed and closed when
    the process exits; callers flush it, never close it. A forked child makes its own, and a process
    pointed at another cluster or backend (tests) retires the old one rather than keep it retrying."""
    key = _shared_key()
    with _shared_lock:
        producer = _shared.get(key)
        if producer is None:
            if not _shared:
                atexit.register(close_shared_producer)
            close_shared_producer(SWITCH_FLUSH_S)
            producer = _shared[key] = make_producer()
    return producer


def _shared_key() -> tuple:
    settings = get_settings()
    return (os.getpid(), settings.kafka_bootstrap, settings.kafka_client)


def retire_stale_producer() -> None:
    """Close the shared producer if the settings now name another cluster or backend than it serves
    (a process done with a cluster that may go away): it would keep retrying a stopped broker."""
    with _shared_lock:
        if _shared and _shared_key() not in _shared:
            close_shared_producer(SWITCH_FLUSH_S)


def close_shared_producer(timeout: float = EXIT_FLUSH_S) -> None:
    """Close this process's shared producer (at exit, or when a process is done with a cluster);
    callers flushed what they needed delivered, anything left gets a bounded wait."""
    pid = os.getpid()
    for key in [key for key in _shared if key[0] == pid]:
        try:
            _shared.pop(key).close(timeout=timeout)
        except KafkaError as exc:
            log.warning("the process's Kafka producer closed with messages undelivered: %s", exc)
    _shared.clear()  # a parent's producer is not this (forked) process's to close


def make_consumer(*topics: str, group_id: str | None, backend: Backend | None = None, **overrides) -> Consumer:
    """A consumer (subscribed to `topics` if given) with manual commits, read_committed, large fetches."""
    return _module(backend)[1].make_consumer(get_settings().kafka_bootstrap, topics, group_id, **overrides)


def make_admin(*, backend: Backend | None = None, **overrides) -> Admin:
    return _module(backend)[0].make_admin(get_settings().kafka_bootstrap, **overrides)


def ensure_topics(names: Iterable[str], partitions: int | None = None, **configs: str) -> list[str]:
    """Create the topics that do not exist yet; returns the names that did not exist."""
    settings = get_settings()
    admin = make_admin()
    try:
        existing = set(admin.list_topics())
        wanted = [name for name in dict.fromkeys(names) if name not in existing]
        specs = [
            TopicSpec(name, partitions or settings.kafka_partitions, settings.kafka_replication, dict(configs) or None)
            for name in wanted
        ]
        admin.create_topics(specs)  # a topic another process created meanwhile is not an error
        return wanted
    finally:
        admin.close()


def list_topics() -> list[str]:
    admin = make_admin()
    try:
        return sorted(t for t in admin.list_topics() if not t.startswith("__"))
    finally:
        admin.close()
