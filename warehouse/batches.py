"""Landing's one view of a Kafka poll: a `RecordBatch` (hub.kafka_api) split into per-partition columns.

Every client backend hands a poll over as one RecordBatch (`Consumer.poll_batch`): parallel lists
of partitions, offsets, keys, values and headers, with no object per record. Landing needs them per
partition and cut at the load's end snapshot; `split` does that with C-level passes (slices, or
`map` over indices when partitions interleave), so what a record costs here does not grow with N.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc


class Columns(NamedTuple):
    """The fields of a run of raw records of one partition, one list each, aligned, offsets ascending."""

    keys: list
    values: list
    headers: list
    offsets: list


def split(batch, stops: dict[int, int]) -> dict[int, Columns]:
    """partition → the batch's records of that partition with an offset below `stops[partition]`;
    partitions not in `stops` are left out (they are not due any more)."""
    if not len(batch):
        return {}
    partitions = batch.partitions
    if partitions[0] == partitions[-1] and partitions.count(partitions[0]) == len(partitions):
        positions = {partitions[0]: None}  # the usual poll of one partition's fetch: the whole lists
    else:
        column = pa.array(partitions, pa.int32())
        positions = {p: pc.indices_nonzero(pc.equal(column, p)).to_pylist() for p in pc.unique(column).to_pylist()}
    taken = {}
    for partition, indices in positions.items():
        if partition not in stops:
            continue
        columns = _select(batch, indices)
        cut = _below(columns.offsets, stops[partition])
        if cut < len(columns.offsets):
            columns = Columns(*(field[:cut] for field in columns))
        if columns.offsets:
            taken[partition] = columns
    return taken


def _select(batch, indices: list[int] | None) -> Columns:
    fields = (batch.keys, batch.values, batch.headers, batch.offsets)
    if indices is None:
        return Columns(*fields)
    if indices[-1] - indices[0] + 1 == len(indices):  # one run: slices
        return Columns(*(field[indices[0] : indices[-1] + 1] for field in fields))
    return Columns(*(list(map(field.__getitem__, indices)) for field in fields))


def _below(offsets: list[int], stop: int) -> int:
    """How many of the ascending `offsets` are below `stop` (the cut is near the end of one poll per load)."""
    if not offsets or offsets[-1] < stop:
        return len(offsets)
    return bisect_left(offsets, stop)
