"""The one Kafka client interface the hub codes against, whichever backend serves it.

Two backends implement it (hub/kafka_python_client.py, hub/kafka_confluent.py); `HUB_KAFKA_CLIENT`
picks one and hub/kafka_clients.py makes the clients. The shape is kafka-python's, because that is
what every caller was written against: `send` returns a delivery handle, `poll` returns records per
partition, offsets are `TopicPartition` → `OffsetAndMetadata`. Two additions make the fast path
cheap on either backend: `Producer.send_batch` (one delivery handle for many messages) and
`Consumer.poll_batch` (raw records as columns, no object per record).

Every client error either backend raises is a `KafkaError` (kafka-python's base class, so
`except KafkaError` in callers keeps classifying failures as retriable on both).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from kafka.errors import KafkaError

# kafka-python's namedtuples (topic, partition) and (offset, metadata, leader_epoch): that client
# type-checks them, and any (topic, partition) pair works with the confluent backend.
from kafka.structs import OffsetAndMetadata, TopicPartition

Headers = list[tuple[str, bytes]]
Message = tuple[bytes | None, bytes | None, Headers | None]  # (key, value, headers)


class KafkaClientError(KafkaError):
    """A failure reported by the confluent-kafka backend (librdkafka), as a KafkaError.
    `retriable` says whether librdkafka thinks trying again can succeed."""

    def __init__(self, message: str, *, retriable: bool = True, code: int | None = None):
        super().__init__(message)
        self.retriable, self.code = retriable, code


class RecordMetadata(NamedTuple):
    topic: str
    partition: int
    offset: int


class TopicSpec(NamedTuple):
    name: str
    partitions: int
    replication: int
    configs: dict[str, str] | None = None


@dataclass(slots=True)
class ConsumedRecord:
    """One record as `Consumer.poll` returns it (the attributes of kafka-python's ConsumerRecord)."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # milliseconds since the epoch
    key: bytes | None
    value: bytes | None
    headers: Headers


@dataclass(slots=True)
class RecordBatch:
    """Raw records of one topic as parallel columns, in the order fetched (offsets ascend within
    a partition; partitions interleave). Index i of every list is the same record."""

    topic: str
    partitions: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)  # ms since the epoch
    keys: list[bytes | None] = field(default_factory=list)
    values: list[bytes | None] = field(default_factory=list)
    headers: list[Headers] = field(default_factory=list)  # [] when a record has none

    def __len__(self) -> int:
        return len(self.offsets)

    def next_offsets(self) -> dict[int, int]:
        """partition → the offset after its last record in the batch (what to commit once durable)."""
        last = dict(zip(self.partitions, self.offsets))  # later records overwrite earlier ones: the last
        return {partition: offset + 1 for partition, offset in last.items()}


class Delivery(Protocol):
    """What `Producer.send` returns; complete once the producer was flushed."""

    exception: BaseException | None

    def failed(self) -> bool: ...

    def succeeded(self) -> bool: ...

    def add_callback(self, fn: Callable[[RecordMetadata], Any]) -> Any: ...


class BatchDelivery:
    """One handle for the messages of `Producer.send_batch`; read it after `flush()`. Delivery reports
    may come from two threads at once (the producer's and the one flushing): counting is locked."""

    __slots__ = ("sent", "delivered", "failed", "first_error", "_lock")

    def __init__(self) -> None:
        self.sent = self.delivered = self.failed = 0
        self.first_error: BaseException | None = None
        self._lock = threading.Lock()

    def done(self, error: BaseException | None) -> None:
        with self._lock:
            if error is None:
                self.delivered += 1
            else:
                self.failed += 1
                self.first_error = self.first_error or error

    def settle(self, failures: list[BaseException]) -> None:
        """Every message of the batch has been reported (the producer flushed), `failures` being the
        errors reported: the rest were delivered. For a backend whose reports only say which errors
        came (confluent: one per kind of error), `failed` counts those kinds, at least 1 if any failed."""
        with self._lock:
            self.failed = len(failures)
            self.delivered = self.sent - self.failed
            self.first_error = self.first_error or (failures[0] if failures else None)

    @property
    def complete(self) -> bool:
        return self.delivered + self.failed == self.sent


class Producer(Protocol):
    """acks=all, idempotent; `flush` returns only when every message sent before is acknowledged
    or failed (then its delivery says why), and raises KafkaError if that takes over `timeout`."""

    def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Headers | None = None
    ) -> Delivery: ...

    def send_batch(self, topic: str, messages: Iterable[Message]) -> BatchDelivery: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


class Consumer(Protocol):
    """read_committed, manual commits only (nothing is committed unless `commit` is called)."""

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...

    def assign(self, partitions: Sequence[TopicPartition]) -> None: ...

    def subscribe(self, topics: Sequence[str]) -> None: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def seek_to_beginning(self, *partitions: TopicPartition) -> None: ...

    def seek_to_end(self, *partitions: TopicPartition) -> None: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    def position(self, partition: TopicPartition) -> int: ...

    def committed(self, partition: TopicPartition) -> int | None: ...

    def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...

    def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list]: ...

    def poll_batch(self, max_records: int, timeout: float) -> RecordBatch | None: ...

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata] | None = None) -> None: ...

    def close(self, autocommit: bool = False) -> None: ...


class Admin(Protocol):
    def list_topics(self) -> list[str]: ...

    def create_topics(self, specs: Sequence[TopicSpec]) -> list[str]: ...

    def delete_topics(self, names: Sequence[str]) -> None: ...

    def list_groups(self) -> list[str]: ...

    def delete_groups(self, group_ids: Sequence[str]) -> None: ...

    def group_offsets(self, group_id: str) -> dict[TopicPartition, int]: ...

    def close(self) -> None: ...
