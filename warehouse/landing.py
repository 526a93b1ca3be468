"""Landing: a resource's Kafka topic → Parquet files in the lake, exactly once in effect.

One `land()` call is one load:
1. take the resource lock; note each partition's start (the group's committed offset, or after
   the last landed file when the group has none) and snapshot the end offsets — the load reads
   up to them and no further;
2. delete the files of an earlier load that renamed them but died before committing: their range
   is read again now and may be cut differently, so they must not stay next to the new files;
3. consume in large polls (`poll_batch`: raw columns, no object per record); decoder threads
   decode each poll's records of a partition in bulk as they come (`warehouse.decode`), cast to
   the catalogue's Arrow schema after the repairs a stated rule allows (counted in `repairs`);
   a writer thread takes the decoded polls in order, sends the bad records to
   hub.dlq.<resource> with the reason (`warehouse.deadletters`), and
   gathers the good rows per partition until a file's worth (bounded by value bytes: memory stays
   bounded whatever the topic size) is written as one zstd Parquet file through a temp name and a
   rename;
4. flush the DLQ producer, write the load's manifest, commit the offsets, mark the manifest
   committed.
`update_staging` (warehouse.store) and `publish_landing_event` (warehouse.events) are separate
steps so a quality gate can sit between them. A crash anywhere is repaired by the next run:
uncommitted files are replaced, committed files not yet merged are merged, and manifests whose
events were never published are published then (event ids derive from the load id, so the
catalogue applies each once).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from catalog import derive
from hub import clock, outbox
from hub.envelope import HeaderColumns
from hub.kafka_clients import make_consumer
from hub.memory import cyclic_gc_paused, return_freed_memory
from hub.topics import landing_group
from warehouse import batches, deadletters, decode, lake
from warehouse.errors import WarehouseError

log = logging.getLogger(__name__)

CHUNK_BYTES = 32 << 20  # value bytes per file (≈ 50-150 k records of a few hundred bytes)
BUFFER_BYTES = 64 << 20  # value bytes decoded and waiting over all partitions before the largest is written
DECODERS = 2  # polls decoded side by side: one waits for the GIL while the other parses without it
IN_FLIGHT = 3  # polls decoded or queued at the writer while the next one is read
POLL_MS = 1000
POLL_RECORDS = 5_000  # records per poll at most: shorter holds of the GIL by the consumer (20 k: 7 % slower)
STALL_SECONDS = 60.0  # no progress for this long while records are due: the broker is gone
CRASH_ENV = "HUB_LANDING_CRASH_AT"  # test hook: after_rename | after_commit | after_staging


@dataclass
class LandingResult:
    """What one load did; `offsets` maps partition (as text, for JSON) to [first, last] read;
    `repairs` counts, by normaliser, the landed rows a stated rule repaired on the way."""

    resource: str
    load_id: str
    files: list[str] = field(default_factory=list)  # relative to the lake folder
    rows: int = 0
    dlq_rows: int = 0
    offsets: dict[str, list[int]] = field(default_factory=dict)
    max_event_time: datetime | None = None
    schema_fingerprint: str = ""
    error: str | None = None
    undeclared_fields: list[str] = field(default_factory=list)
    source_schemas: list[str] = field(default_factory=list)  # hub-schema headers unlike the catalogue's
    repairs: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["max_event_time"] = self.max_event_time.isoformat() if self.max_event_time else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "LandingResult":
        values = dict(data)
        moment = values.get("max_event_time")
        values["max_event_time"] = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


# --- land ---------------------------------------------------------------------------------------


def land(resource_id: str, *, catalogue=None, max_records: int | None = None) -> LandingResult:
    """Land what the resource's raw topic holds now (at most `max_records`) as Parquet files."""
    resource = lake.resolve_resource(resource_id, catalogue)
    load_id = f"{resource.id}-{clock.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with lake.resource_lock(resource), cyclic_gc_paused():  # LandingBusy is raised as it is
        try:
            return _Load(resource, load_id, max_records).run()
        except Exception as exc:
            _report_failure(resource, load_id, exc)
            if isinstance(exc, WarehouseError):
                raise
            kind = "retriable" if isinstance(exc, (KafkaError, OSError)) else "fatal"
            raise WarehouseError(f"landing {resource.id} failed ({load_id}): {exc}", kind=kind) from exc


def _report_failure(resource, load_id: str, exc: Exception) -> None:
    from warehouse.events import landing_events  # events builds on LandingResult: imported late

    failed = LandingResult(
        resource.id,
        load_id,
        schema_fingerprint=derive.schema_fingerprint(resource),
        error=f"{type(exc).__name__}: {exc}",
    )
    try:
        for event in landing_events(failed):
            outbox.keep(event)
        outbox.flush()
    except Exception:  # the failure itself is what matters; the broker may be its cause (the event stays kept)
        log.exception("could not publish landing.failed for %s", resource.id)


class _Part:
    """The decoded records of one partition waiting to become one file: the good rows of each poll,
    the offsets they cover (rejected records included) and the value bytes they came from."""

    __slots__ = ("tables", "first", "last", "size")

    def __init__(self, first: int) -> None:
        self.tables: list[pa.Table] = []
        self.first = self.last = first
        self.size = 0

    def add(self, table: pa.Table, last: int, size: int) -> None:
        if table.num_rows:
            self.tables.append(table)
        self.last, self.size = last, self.size + size


class _Load:
    """One run of land(): consume → decode per poll (writer thread) → files → DLQ → commit."""

    def __init__(self, resource, load_id: str, max_records: int | None) -> None:
        self.resource = resource
        self.schema = derive.arrow_schema(resource)
        self.items = derive.arrow_schema(resource, envelope=False)
        self.keys = derive.key_columns(resource)
        self.topic, dlq_topic = derive.topics(resource)
        self.fingerprint = derive.schema_fingerprint(resource)
        self.day = lake.landing_day()
        self.max_records = max_records
        self.result = LandingResult(resource.id, load_id, schema_fingerprint=self.fingerprint)
        self.dead_letters = deadletters.DeadLetters(resource.id, self.topic, dlq_topic)
        self.committed: dict = {}
        self.undeclared: set[str] = set()
        self.schemas: set[str] = set()
        # Decoder threads decode each poll as it comes, so decoding overlaps the consumer from the
        # first poll on (Arrow and librdkafka run without the GIL); one writer thread takes the
        # decoded polls in order and writes the files: `parts` is the writer's alone. IN_FLIGHT
        # polls read and not yet added bound the memory.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"land-{resource.id}")
        self.decoder = ThreadPoolExecutor(max_workers=DECODERS, thread_name_prefix=f"decode-{resource.id}")
        self.in_flight: deque[Future] = deque()
        self.parts: dict[TopicPartition, _Part] = {}
        self.failed = False

    def run(self) -> LandingResult:
        consumer = make_consumer(
            group_id=landing_group(self.resource.id), allow_auto_create_topics=False, max_poll_records=POLL_RECORDS
        )
        try:
            partitions = sorted(consumer.partitions_for_topic(self.topic))
            if not partitions:
                log.info("%s: topic %s does not exist yet: nothing to land", self.resource.id, self.topic)
                return self.result
            tps = [TopicPartition(self.topic, p) for p in partitions]
            # Offsets first, then the assignment: an assigned consumer keeps a long-polling fetch in
            # flight, and the broker answers each offset query on that connection only after it.
            starts = self._starts(consumer, tps)
            ends = consumer.end_offsets(tps)
            consumer.assign(tps)
            self._tidy(starts)
            next_offsets = self._consume(consumer, starts, ends)
            self._wait(0)
            self._finish(consumer, next_offsets)
        finally:
            self.writer.shutdown(wait=True, cancel_futures=True)
            self.decoder.shutdown(wait=True, cancel_futures=True)
            consumer.close(autocommit=False)
            self.dead_letters.close()
        return self.result

    def _starts(self, consumer, tps) -> dict:
        """Where each partition resumes: the committed offset; without one (a first load, or offsets
        the broker expired), after the last landed file; never before the log start."""
        beginnings = consumer.beginning_offsets(tps)
        landed_up_to: dict[int, int] = {}
        for landed in lake.list_files(self.resource):
            if landed.topic == self.topic:
                landed_up_to[landed.partition] = max(landed_up_to.get(landed.partition, 0), landed.last + 1)
        starts = {}
        for tp in tps:
            committed = self.committed[tp] = consumer.committed(tp)
            start = committed if committed is not None else landed_up_to.get(tp.partition, 0)
            if start < beginnings[tp]:
                log.warning(
                    "%s: offsets %d..%d of partition %d were deleted by retention before landing",
                    self.resource.id,
                    start,
                    beginnings[tp] - 1,
                    tp.partition,
                )
                start = beginnings[tp]
            starts[tp] = start
        return starts

    def _tidy(self, starts: dict) -> None:
        """Remove what a killed load left (temp files, renamed files past the starts) and settle its
        manifest: committed loads keep theirs, the others are dropped."""
        lake.remove_temp_files(self.resource)
        by_partition = {tp.partition: start for tp, start in starts.items()}
        for landed in lake.list_files(self.resource):
            if (
                landed.topic == self.topic
                and landed.partition in by_partition
                and landed.last >= by_partition[landed.partition]
            ):
                log.warning("%s: replacing uncommitted file %s", self.resource.id, landed.path.name)
                landed.path.unlink(missing_ok=True)
        for load_id, data in lake.pending_manifests(self.resource.id):
            committed = all(
                by_partition.get(int(p), 0) > last for p, (_first, last) in (data.get("offsets") or {}).items()
            )
            if committed:  # died between commit and marking the manifest: the load stands
                lake.promote_manifest(self.resource.id, load_id)
            else:
                lake.drop_manifest(self.resource.id, load_id)

    def _consume(self, consumer, starts: dict, ends: dict) -> dict:
        """Read every partition from its start up to its end snapshot; returns the next offsets."""
        next_offsets = dict(starts)
        due = {tp for tp in starts if starts[tp] < ends[tp]}
        for tp, start in starts.items():
            consumer.seek(tp, start)
        consumer.pause(*[tp for tp in starts if tp not in due])
        taken_total, last_progress = 0, time.monotonic()
        while due and (self.max_records is None or taken_total < self.max_records):
            batch = consumer.poll_batch(self._poll_limit(taken_total), POLL_MS / 1000)
            stops = {tp.partition: ends[tp] for tp in due}
            for partition, columns in (batches.split(batch, stops) if batch is not None else {}).items():
                tp = TopicPartition(self.topic, partition)
                taken_total += len(columns.offsets)
                next_offsets[tp] = columns.offsets[-1] + 1
                last_progress = time.monotonic()
                self._wait(IN_FLIGHT - 1)  # before its decode starts, not only before its turn to be added
                self._submit(self._add, tp, columns, self.decoder.submit(self._decode, columns))
            for tp in list(due):
                # Past the end snapshot (transaction markers can move the position without records).
                if consumer.position(tp) >= ends[tp] or next_offsets[tp] >= ends[tp]:
                    next_offsets[tp] = max(next_offsets[tp], min(consumer.position(tp), ends[tp]))
                    due.discard(tp)
                    consumer.pause(tp)
            if due and time.monotonic() - last_progress > STALL_SECONDS:
                raise WarehouseError(
                    f"landing {self.resource.id}: no records from {self.topic} for "
                    f"{STALL_SECONDS:.0f} s although some are due; is the broker up?",
                    kind="retriable",
                )
        self._submit(self._write_all)
        return next_offsets

    def _poll_limit(self, taken_total: int) -> int:
        if self.max_records is None:
            return POLL_RECORDS
        return max(1, min(POLL_RECORDS, self.max_records - taken_total))

    def _submit(self, task, *args) -> None:
        self._wait(IN_FLIGHT - 1)
        self.in_flight.append(self.writer.submit(self._guarded, task, *args))

    def _guarded(self, task, *args) -> None:
        """Run a writer task unless an earlier one failed: the load fails then (at the next `_wait`),
        and nothing after the failure may be written as if the records before it had landed."""
        if self.failed:
            return
        try:
            task(*args)
        except BaseException:
            self.failed = True
            raise

    def _wait(self, at_most: int) -> None:
        """Block until at most `at_most` writer tasks are still queued; re-raises a writer's error."""
        while len(self.in_flight) > at_most:
            self.in_flight.popleft().result()

    # --- the decoder and writer threads -----------------------------------------------------------

    def _decode(self, taken: batches.Columns) -> tuple:
        """A decoder thread's part of a poll: the header columns (raw and decoded), and the values
        as the catalogue's columns with their rejects and repairs."""
        header_columns = HeaderColumns()
        header_columns.extend(taken.headers)
        return header_columns, header_columns.decode(), *decode.decode_values(taken.values, self.items)

    def _add(self, tp: TopicPartition, taken: batches.Columns, decoded: Future) -> None:
        """The writer's part of a poll of a partition, once `decoded` (a `_decode`) is done:
        dead-letter the bad records, add the good rows to the partition's next file, write the files
        that are full."""
        header_columns, headers, items, rejects, repaired = decoded.result()
        envelope, envelope_rejects = decode.envelope_columns(headers, tp.partition, taken.offsets)
        for index, reason in decode.required_nulls(items, self.items, self.keys, envelope["_op"]).items():
            rejects.setdefault(index, reason)
        for index, reason in envelope_rejects.items():  # a broken envelope is the first thing to fix
            rejects[index] = reason
        for index in sorted(rejects):
            self.dead_letters.send(
                taken.keys[index],
                taken.values[index],
                rejects[index],
                tp.partition,
                taken.offsets[index],
                header_columns.source[index],
            )
        table = pa.Table.from_arrays([*items.columns, *envelope.values()], schema=self.schema)
        if rejects:
            keep = [True] * table.num_rows
            for index in rejects:
                keep[index] = False
            table = table.filter(pa.array(keep))
        self._note(tp.partition, taken, table, len(rejects), headers.schemas)
        self._count_repairs(repaired, rejects)
        part = self.parts.get(tp) or self.parts.setdefault(tp, _Part(taken.offsets[0]))
        part.add(table, taken.offsets[-1], sum(map(len, filter(None, taken.values))))
        if part.size >= CHUNK_BYTES:
            self._write(tp)
        while sum(p.size for p in self.parts.values()) > BUFFER_BYTES:
            self._write(max(self.parts, key=lambda t: self.parts[t].size))

    def _write(self, tp: TopicPartition) -> None:
        """Write a partition's waiting rows as one file, named by the offsets it covers."""
        part = self.parts.pop(tp)
        if part.tables:
            path = lake.file_path(self.resource, self.topic, tp.partition, part.first, part.last, self.day)
            lake.write_parquet_atomic(pa.concat_tables(part.tables), path)
            self.result.files.append(lake.relative(path))
        del part
        return_freed_memory()  # a long load's growth was mostly freed values left in the heap

    def _write_all(self) -> None:
        for tp in sorted(self.parts, key=lambda t: t.partition):
            self._write(tp)

    def _note(
        self, partition: int, taken: batches.Columns, table: pa.Table, rejected: int, schemas: frozenset[str]
    ) -> None:
        result = self.result
        first, last = taken.offsets[0], taken.offsets[-1]
        span = result.offsets.setdefault(str(partition), [first, last])
        span[0], span[1] = min(span[0], first), max(span[1], last)
        result.rows += table.num_rows
        result.dlq_rows += rejected
        if table.num_rows:
            latest = pc.max(table.column("_event_time")).as_py()
            result.max_event_time = max(filter(None, (result.max_event_time, latest)), default=None)
        self.schemas |= schemas
        self.undeclared |= decode.undeclared_fields(taken.values[:1], self.items.names)

    def _count_repairs(self, repaired: decode.Repairs, rejects: decode.Rejects) -> None:
        """Add the repaired rows that landed: a row dead-lettered for another item counts as a DLQ row only."""
        counts = self.result.repairs
        for name, rows in repaired.items():
            landed = len(rows) - len(rejects.keys() & set(rows))
            if landed:
                counts[name] = counts.get(name, 0) + landed

    def _finish(self, consumer, next_offsets: dict) -> None:
        """DLQ delivered → manifest → commit → manifest marked committed."""
        self.dead_letters.flush()
        result = self.result
        result.undeclared_fields = sorted(self.undeclared)
        result.source_schemas = sorted(s for s in self.schemas if s and s != self.fingerprint)
        if result.undeclared_fields:
            log.warning(
                "%s: the source sends fields the catalogue does not declare: %s (declare them as items to land them)",
                result.resource,
                ", ".join(result.undeclared_fields),
            )
        # Also partitions resumed from the lake (no committed offset) or moved only by markers.
        advanced = {tp: offset for tp, offset in next_offsets.items() if offset and offset != self.committed.get(tp)}
        if result.offsets:
            lake.write_manifest(result.resource, result.load_id, result.to_dict(), pending=True)
        crash_point("after_rename")
        if advanced:
            consumer.commit({tp: OffsetAndMetadata(offset, result.load_id, -1) for tp, offset in advanced.items()})
        crash_point("after_commit")
        if not result.offsets:
            return
        lake.promote_manifest(result.resource, result.load_id)
        log.info(
            "%s: landed %d rows in %d files, %d to the DLQ, repaired %s (%s)",
            result.resource,
            result.rows,
            len(result.files),
            result.dlq_rows,
            result.repairs or "none",
            result.load_id,
        )


def crash_point(name: str) -> None:
    """Die here, like SIGKILL would, when HUB_LANDING_CRASH_AT names this point (crash tests)."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(137)
