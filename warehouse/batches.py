"""Landing's one view of a Kafka consumer: a poll's raw records, by partition, whatever the client.

A raw record is any object with `key` (bytes), `value` (bytes or None), `headers` (a list of
(name, bytes) pairs, or None), `partition`, `offset` and `timestamp`. kafka-python's
ConsumerRecord is one as it comes; a client backend with a batch method (`consume_batch`, returning
such records) is used through it directly. Landing's hot path reads only these attributes, in
C-level passes over the whole list (`columns`), so what it costs per record is the client's.
"""

from __future__ import annotations

from operator import attrgetter
from typing import NamedTuple, Protocol


class RawRecord(Protocol):
    key: bytes | None
    value: bytes | None
    headers: list | None
    partition: int
    offset: int
    timestamp: int


class RawTuple(NamedTuple):
    """A raw record as a client backend without record objects of its own may hand it over."""

    key: bytes | None
    value: bytes | None
    headers: list | None
    partition: int
    offset: int
    timestamp: int


class Columns(NamedTuple):
    """The fields of a run of raw records, one list each, aligned."""

    keys: list
    values: list
    headers: list
    offsets: list


_KEY, _VALUE, _HEADERS, _OFFSET = attrgetter("key"), attrgetter("value"), attrgetter("headers"), attrgetter("offset")


def poll_raw(consumer, *, timeout_ms: int, max_records: int) -> dict:
    """One poll: {TopicPartition: [raw record, ...]} with offsets ascending in each list."""
    batch = getattr(consumer, "consume_batch", None)
    if batch is not None:  # a backend that hands raw records over in one call
        return batch(timeout_ms=timeout_ms, max_records=max_records)
    return consumer.poll(timeout_ms=timeout_ms, max_records=max_records)


def columns(records: list) -> Columns:
    """The keys, values, headers and offsets of `records` (map + attrgetter: no Python per record)."""
    return Columns(
        list(map(_KEY, records)), list(map(_VALUE, records)), list(map(_HEADERS, records)), list(map(_OFFSET, records))
    )


def below(records: list, stop: int) -> list:
    """The records with an offset below `stop` (offsets ascend within a poll's list)."""
    if not records or records[-1].offset < stop:
        return records
    low, high = 0, len(records)
    while low < high:  # bisection: the cut is near the end of one list per partition and load
        middle = (low + high) // 2
        if records[middle].offset < stop:
            low = middle + 1
        else:
            high = middle
    return records[:low]
