"""The confluent-kafka (librdkafka) consumer behind the client interface (hub/kafka_api.py).

librdkafka differs from kafka-python in three ways this class hides:
- `consume(n, timeout)` waits until n messages or the timeout; `poll` here returns as soon as
  anything is there (what kafka-python does), by taking what is queued and waiting only when nothing is;
- a seek right after `assign` can fail while the partition is not fetching yet; here every seek
  re-assigns the partitions at explicit offsets, which always works and drops what was prefetched;
- positions are known only after a message was consumed; here the consumer keeps each assigned
  partition's position itself (set by assign/seek, moved by every poll), as kafka-python reports it,
  and takes librdkafka's when that is further on after a read (it steps over transaction markers and
  aborted records, which are never handed out).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from operator import itemgetter

from confluent_kafka import OFFSET_STORED, Consumer, KafkaException, Message
from confluent_kafka import KafkaError as NativeError
from confluent_kafka import TopicPartition as NativePartition

from hub.kafka_api import ConsumedRecord, OffsetAndMetadata, RecordBatch, TopicPartition
from hub.kafka_confluent import TIMEOUT_S, as_error, translate

CONSUMER_DEFAULTS = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "fetch.max.bytes": 64 * 1024 * 1024,
    "receive.message.max.bytes": 64 * 1024 * 1024 + 512,
    "max.partition.fetch.bytes": 16 * 1024 * 1024,
    "fetch.min.bytes": 1,
    # The broker answers a connection's requests in order, so an offset or commit query waits behind
    # the long-polling fetch of an assigned consumer: 500 ms by default, paid on every query.
    "fetch.wait.max.ms": 50,
    "isolation.level": "read_committed",
    "enable.partition.eof": False,
}
MAX_POLL_RECORDS = 10_000
_NO_ERROR = {type(None)}
_SECOND = itemgetter(1)  # of Message.timestamp(): (type, milliseconds)


class ConfluentConsumer:
    def __init__(self, config: dict, topics: Sequence[str], max_poll_records: int) -> None:
        self._reset = config.get("auto.offset.reset", "earliest")
        self._has_group = "group.id" in config
        if not self._has_group:  # librdkafka needs a group id; without commits it is never stored
            config = {**config, "group.id": "hub-no-group"}
        self._consumer = Consumer(config)
        self.max_poll_records = max_poll_records
        self._assigned: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._read_since_assign: set[TopicPartition] = set()  # where librdkafka's own position is current
        if topics:
            self.subscribe(topics)

    # ---- metadata and offsets ---------------------------------------------------------------------

    def partitions_for_topic(self, topic: str) -> set[int]:
        try:
            found = self._consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
        except KafkaException as exc:
            raise as_error(exc, f"reading the metadata of {topic}") from None
        if found is None or found.error is not None:
            return set()  # as kafka-python: an unknown topic has no partitions
        return set(found.partitions)

    def _watermarks(self, tp: TopicPartition) -> tuple[int, int]:
        try:
            return self._consumer.get_watermark_offsets(NativePartition(tp.topic, tp.partition), timeout=TIMEOUT_S)
        except KafkaException as exc:
            raise as_error(exc, f"reading the offsets of {tp.topic}[{tp.partition}]") from None

    def beginning_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return {_tp(tp): self._watermarks(tp)[0] for tp in partitions}

    def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return {_tp(tp): self._watermarks(tp)[1] for tp in partitions}

    def committed(self, partition: TopicPartition) -> int | None:
        if not self._has_group:
            return None
        (answer,) = _retrying(
            lambda: self._consumer.committed([NativePartition(partition.topic, partition.partition)], TIMEOUT_S),
            f"reading the committed offset of {partition.topic}[{partition.partition}]",
        )
        return answer.offset if answer.offset >= 0 else None

    def position(self, partition: TopicPartition) -> int:
        tp = _tp(partition)
        if tp not in self._positions:
            if tp not in self._assigned:  # group-managed: librdkafka knows it once a message was read
                (answer,) = self._consumer.position([NativePartition(tp.topic, tp.partition)])
                return answer.offset
            start = self.committed(tp)
            if start is None:
                low, high = self._watermarks(tp)
                start = low if self._reset in ("earliest", "smallest", "beginning") else high
            self._positions[tp] = start
        if tp in self._read_since_assign:
            (native,) = self._consumer.position([NativePartition(tp.topic, tp.partition)])
            if native.offset > self._positions[tp]:
                self._positions[tp] = native.offset
        return self._positions[tp]

    # ---- assignment and seeking -------------------------------------------------------------------

    def subscribe(self, topics: Sequence[str]) -> None:
        self._consumer.subscribe(list(topics))

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self._assigned = [_tp(tp) for tp in partitions]
        self._positions.clear()
        self._paused.clear()
        self._reassign()

    def _reassign(self) -> None:
        self._read_since_assign.clear()
        native = [
            NativePartition(tp.topic, tp.partition, self._positions.get(tp, OFFSET_STORED)) for tp in self._assigned
        ]
        self._consumer.assign(native)
        if self._paused:
            self._consumer.pause([NativePartition(tp.topic, tp.partition) for tp in self._paused])

    def seek(self, partition: TopicPartition, offset: int) -> None:
        tp = _tp(partition)
        if tp not in self._assigned:
            raise ValueError(f"{tp.topic}[{tp.partition}] is not assigned to this consumer")
        self._positions[tp] = offset
        self._reassign()

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions or self._assigned:
            self._positions[_tp(tp)] = self._watermarks(tp)[0]
        self._reassign()

    def seek_to_end(self, *partitions: TopicPartition) -> None:
        for tp in partitions or self._assigned:
            self._positions[_tp(tp)] = self._watermarks(tp)[1]
        self._reassign()

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused.update(_tp(tp) for tp in partitions)
        self._consumer.pause([NativePartition(tp.topic, tp.partition) for tp in partitions])

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused.difference_update(_tp(tp) for tp in partitions)
        self._consumer.resume([NativePartition(tp.topic, tp.partition) for tp in partitions])

    # ---- reading ----------------------------------------------------------------------------------

    def _fetch(self, max_records: int, timeout: float) -> list:
        """Up to `max_records` messages: what is queued now, else the first to arrive within `timeout`
        and what came with it. Raises on an error message."""
        consumer = self._consumer
        messages = consumer.consume(max_records, 0)
        if not messages and timeout > 0:
            first = consumer.poll(timeout)
            messages = [first] if first is not None else []
            if messages and max_records > 1:
                messages += consumer.consume(max_records - 1, 0)
        # The usual fetch has no error at all: checked by type in C (comparing librdkafka's KafkaError
        # to None with == raises TypeError, so `errors.count(None)` cannot be used).
        if set(map(type, map(Message.error, messages))) <= _NO_ERROR:
            return messages
        # A busy coordinator (a broker just started) is reported as an event that librdkafka
        # recovers from by itself: skip it, as kafka-python waits it out; anything else raises.
        messages = [m for m in messages if m.error() is None or m.error().code() not in _COORDINATOR_BUSY]
        failed = next((i for i, m in enumerate(messages) if m.error() is not None), None)
        if failed is not None:
            # Nothing of this fetch is handed out: back to the last record returned, so a later
            # poll reads the good messages of this fetch again instead of skipping them.
            error, where = messages[failed].error(), f"{messages[failed].topic()}[{messages[failed].partition()}]"
            if self._assigned:
                self._reassign()
            raise as_error(error, f"reading {where}")
        return messages

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[ConsumedRecord]]:
        """Records per partition (kafka-python's shape); {} when nothing came within `timeout_ms`."""
        messages = self._fetch(max_records or self.max_poll_records, timeout_ms / 1000)
        polled: dict[TopicPartition, list[ConsumedRecord]] = {}
        for m in messages:
            tp = TopicPartition(m.topic(), m.partition())
            record = ConsumedRecord(
                tp.topic, tp.partition, m.offset(), m.timestamp()[1], m.key(), m.value(), m.headers() or []
            )
            polled.setdefault(tp, []).append(record)
        for tp, records in polled.items():
            self._positions[tp] = records[-1].offset + 1
            self._read_since_assign.add(tp)
        return polled

    def poll_batch(self, max_records: int, timeout: float) -> RecordBatch | None:
        """Raw records of the one assigned topic as columns; None when nothing came within `timeout` s."""
        messages = self._fetch(max_records, timeout)
        if not messages:
            return None
        topic = messages[0].topic()
        if len({tp.topic for tp in self._assigned}) > 1:
            raise ValueError("poll_batch reads one topic at a time; assign the partitions of one topic")
        headers = list(map(Message.headers, messages))
        if None in headers:  # records without headers: [] as the interface says
            headers = [h or [] for h in headers]
        # map over the C methods of Message: no Python bytecode per record (the lists are the cost).
        batch = RecordBatch(
            topic,
            partitions=list(map(Message.partition, messages)),
            offsets=list(map(Message.offset, messages)),
            timestamps=list(map(_SECOND, map(Message.timestamp, messages))),
            keys=list(map(Message.key, messages)),
            values=list(map(Message.value, messages)),
            headers=headers,
        )
        for partition, following in batch.next_offsets().items():
            tp = TopicPartition(topic, partition)
            self._positions[tp] = following
            self._read_since_assign.add(tp)
        return batch

    # ---- committing and closing -------------------------------------------------------------------

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata] | None = None) -> None:
        """Commit `offsets` (the next offset to read, per partition), or what was read so far; waits."""
        if offsets is None:
            native = [NativePartition(tp.topic, tp.partition, at) for tp, at in self._positions.items()]
        else:
            native = [_native_commit(tp, meta) for tp, meta in offsets.items()]
        if not native:
            return
        answered = _retrying(lambda: self._consumer.commit(offsets=native, asynchronous=False), "committing offsets")
        refused = next((tp for tp in answered or [] if tp.error is not None), None)
        if refused is not None:
            raise as_error(refused.error, f"committing {refused.topic}[{refused.partition}]")

    def close(self, autocommit: bool = False) -> None:
        """Leave (nothing is committed here: enable.auto.commit is off); `autocommit` is kafka-python's."""
        self._consumer.close()


_COORDINATOR_BUSY = {
    NativeError.NOT_COORDINATOR,
    NativeError.COORDINATOR_LOAD_IN_PROGRESS,
    NativeError.COORDINATOR_NOT_AVAILABLE,
}


def _retrying(call, doing: str):
    """`call()`, tried again for up to TIMEOUT_S while librdkafka says the failure is retriable: a
    group coordinator that is still loading (a broker just started) answers NOT_COORDINATOR or
    COORDINATOR_LOAD_IN_PROGRESS for a while, which kafka-python waits out by itself."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            return call()
        except KafkaException as exc:
            native = exc.args[0] if exc.args else None
            again = isinstance(native, NativeError) and (native.retriable() or native.code() in _COORDINATOR_BUSY)
            if not again or time.monotonic() > deadline:
                raise as_error(exc, doing) from None
            time.sleep(0.2)


def _native_commit(tp, meta) -> NativePartition:
    # librdkafka takes a note only as a non-empty str (kafka-python's callers pass "" for none).
    if meta.metadata:
        return NativePartition(tp.topic, tp.partition, meta.offset, metadata=meta.metadata)
    return NativePartition(tp.topic, tp.partition, meta.offset)


def _tp(partition) -> TopicPartition:
    """The interface's TopicPartition from any (topic, partition) pair (kafka-python's included)."""
    return partition if type(partition) is TopicPartition else TopicPartition(partition[0], partition[1])


def make_consumer(bootstrap: str, topics: Sequence[str], group_id: str | None, **overrides) -> ConfluentConsumer:
    max_poll_records = int(overrides.pop("max_poll_records", MAX_POLL_RECORDS))
    config = {**CONSUMER_DEFAULTS, "bootstrap.servers": bootstrap, **translate(overrides)}
    if group_id is not None:
        config["group.id"] = group_id
    return ConfluentConsumer(config, topics, max_poll_records)
