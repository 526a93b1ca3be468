"""The kafka-python backend of the client interface (hub/kafka_api.py): kafka-python's own classes,
which already have the interface's shape, plus the two batch calls and a small admin facade."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from hub.kafka_api import BatchDelivery, Message, RecordBatch, TopicPartition, TopicSpec

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


class PythonProducer(KafkaProducer):
    def send_batch(self, topic: str, messages: Iterable[Message]) -> BatchDelivery:
        batch = BatchDelivery()
        done = batch.done
        for key, value, headers in messages:
            future = self.send(topic, key=key, value=value, headers=headers)
            batch.sent += 1
            future.add_both(lambda outcome, done=done: done(outcome if isinstance(outcome, BaseException) else None))
        return batch


class PythonConsumer(KafkaConsumer):
    def poll_batch(self, max_records: int, timeout: float) -> RecordBatch | None:
        """Raw records of the one assigned topic as columns; None when nothing came within `timeout` s."""
        polled = self.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        if not polled:
            return None
        topics = {tp.topic for tp in polled}
        if len(topics) > 1:
            raise ValueError(f"poll_batch reads one topic at a time; this consumer has {sorted(topics)}")
        batch = RecordBatch(topics.pop())
        for records in polled.values():
            batch.partitions += [r.partition for r in records]
            batch.offsets += [r.offset for r in records]
            batch.timestamps += [r.timestamp for r in records]
            batch.keys += [r.key for r in records]
            batch.values += [r.value for r in records]
            batch.headers += [r.headers or [] for r in records]
        return batch


class PythonAdmin:
    """The admin calls the hub makes, over KafkaAdminClient."""

    def __init__(self, **config) -> None:
        self._admin = KafkaAdminClient(**config)

    def list_topics(self) -> list[str]:
        return list(self._admin.list_topics())

    def create_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        created = []
        for spec in specs:  # one at a time: a topic another process created must not hide the others
            try:
                self._admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, spec.replication, topic_configs=spec.configs or None)]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another process won the race: the topic exists, which is all we need
        return created

    def delete_topics(self, names: Sequence[str]) -> None:
        if names:
            self._admin.delete_topics(list(names))

    def list_groups(self) -> list[str]:
        return [group["group_id"] for group in self._admin.list_groups()]

    def delete_groups(self, group_ids: Sequence[str]) -> None:
        if group_ids:
            self._admin.delete_groups(list(group_ids))

    def group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        found = self._admin.list_group_offsets({group_id: None}).get(group_id) or {}
        return {TopicPartition(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}

    def close(self) -> None:
        self._admin.close()


def make_producer(bootstrap: str, **overrides) -> PythonProducer:
    return PythonProducer(**{**PRODUCER_DEFAULTS, "bootstrap_servers": bootstrap, **overrides})


def make_consumer(bootstrap: str, topics: Sequence[str], group_id: str | None, **overrides) -> PythonConsumer:
    return PythonConsumer(
        *topics, **{**CONSUMER_DEFAULTS, "bootstrap_servers": bootstrap, "group_id": group_id, **overrides}
    )


def make_admin(bootstrap: str, **overrides) -> PythonAdmin:
    return PythonAdmin(bootstrap_servers=bootstrap, **overrides)
