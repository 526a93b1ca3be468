"""Kafka client factories with the hub's safe, fast defaults, and topic administration."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from hub.settings import get_settings

# acks=all + idempotence: a retried batch is never written twice and never lost while one in-sync
# replica survives. linger + large batches + lz4 trade a few milliseconds for throughput.
PRODUCER_DEFAULTS = dict(
    acks="all",
    enable_idempotence=True,
    retries=2_147_483_647,
    delivery_timeout_ms=120_000,
    max_in_flight_requests_per_connection=5,
    linger_ms=20,
    batch_size=512 * 1024,
    compression_type="lz4",
    max_request_size=16 * 1024 * 1024,
)

# Manual commits only: a consumer commits after its output is durable (Parquet renamed, DB committed).
CONSUMER_DEFAULTS = dict(
    enable_auto_commit=False,
    auto_offset_reset="earliest",
    fetch_max_bytes=64 * 1024 * 1024,
    max_partition_fetch_bytes=16 * 1024 * 1024,
    fetch_min_bytes=1,
    max_poll_records=10_000,
    isolation_level="read_committed",
)


def make_producer(**overrides) -> KafkaProducer:
    """A producer on the configured cluster; keyword arguments override the defaults."""
    config = dict(PRODUCER_DEFAULTS)
    config.update(bootstrap_servers=get_settings().kafka_bootstrap, **overrides)
    return KafkaProducer(**config)


def make_consumer(*topics: str, group_id: str | None, **overrides) -> KafkaConsumer:
    """A consumer (subscribed to `topics` if given) with manual commits and large fetches."""
    config = dict(CONSUMER_DEFAULTS)
    config.update(bootstrap_servers=get_settings().kafka_bootstrap, group_id=group_id, **overrides)
    return KafkaConsumer(*topics, **config)


def make_admin(**overrides) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=get_settings().kafka_bootstrap, **overrides)


def ensure_topics(names: Iterable[str], partitions: int | None = None, **configs: str) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    settings = get_settings()
    admin = make_admin()
    try:
        existing = set(admin.list_topics())
        wanted = [name for name in dict.fromkeys(names) if name not in existing]
        new = [
            NewTopic(
                name,
                partitions or settings.kafka_partitions,
                settings.kafka_replication,
                topic_configs=dict(configs) or None,
            )
            for name in wanted
        ]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process won the race: the topic exists, which is all we need
        return wanted
    finally:
        admin.close()


def list_topics() -> list[str]:
    admin = make_admin()
    try:
        return sorted(t for t in admin.list_topics() if not t.startswith("__"))
    finally:
        admin.close()
