"""The runner: everything a source kind does not do. It sends through the process's producer
(acks=all, idempotent) and owns keys and envelopes, the DLQ, flushes, per-resource state, progress
bars and the `connector.produced` event.

State never runs ahead of Kafka: items are sent, `producer.flush()` waits for every delivery, and
only then is the state (advanced through exactly the items sent) written, atomically. A crash
anywhere re-reads at most the items since the last save — at least once, never a gap.

Records go to the producer in batches (`send_batch`: one delivery handle per batch, no future per
record); a source that must hear of each delivery (MQTT acks its broker) sends one by one.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from catalog import reader
from catalog.derive import topics
from catalog.systems import SYSTEM_DOMAINS
from connectors.base import Advance, Conformed, ResourceLock, SourceRecord, Unreadable, load_state, save_state
from connectors.errors import ConnectorError, DeliveryFailed, UnreadableRow
from connectors.kinds import make_source
from connectors.records import RecordBuilder
from hub import clock
from hub.events import ConnectorProduced, publish_events
from hub.kafka_clients import BatchDelivery, KafkaError, ensure_topics, shared_producer
from hub.memory import long_lived_objects_frozen
from hub.topics import events_topic

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 20_000  # records between flush + state save
CHECKPOINT_SECONDS = 5.0  # and at least this often while records flow
FLUSH_TIMEOUT_S = 180.0  # beyond the producer's delivery timeout (120 s): a stuck broker fails the run
LOOK_EVERY = 1_000  # records between looks at the clock, the progress bar and the checkpoint rules
SEND_BATCH = 1_000  # encoded records handed to the producer at once


class RateColumn(ProgressColumn):
    """Records per second over the task's life."""

    def render(self, task) -> Text:
        elapsed = task.elapsed or 0
        rate = task.completed / elapsed if elapsed > 0 else 0
        return Text(f"{rate:,.0f} rec/s", style="progress.data.speed")


def make_progress(enabled: bool = True) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("dlq {task.fields[dlq]}"),
        TimeElapsedColumn(),
        disable=not enabled,
    )


@dataclass
class PassReport:
    """What one pass over one resource did."""

    resource: str
    produced: int = 0
    dlq: int = 0
    seconds: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    stats: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class Connector:
    """One resource's source, wired to the shared producer; `run_pass` reads what is new."""

    def __init__(
        self,
        resource,
        producer,
        *,
        progress: Progress | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ):
        self.resource = resource
        self.producer = producer
        self.progress = progress
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.source = make_source(resource)  # before the lock: a bad binding fails without leaving one
        self._lock = ResourceLock(resource.id)
        self.source_label = f"{resource.binding.system}.{self.source.object_name}"
        self.builder = RecordBuilder(resource, self.source_label)
        self.raw_topic, self.dlq_topic = topics(resource)
        self.state = _state_for_source(resource, self.source)
        self.last_report: PassReport | None = None
        self._futures: list = []  # deliveries (one per record, or one per batch) since the last checkpoint
        self._batch: list = []  # encoded raw records not handed to the producer yet

    # ---- delivery bookkeeping ---------------------------------------------------------------------

    def _send(self, topic: str, message: tuple[bytes, bytes, list], position) -> None:
        key, value, headers = message
        try:
            future = self.producer.send(topic, key=key, value=value, headers=headers)
        except KafkaError as exc:
            raise DeliveryFailed(
                f"resource {self.resource.id!r}: Kafka refused a record for {topic} ({exc}); "
                f"the state was not advanced — check the broker (`hub kafka status`) and rerun"
            ) from exc
        # Kept until the next checkpoint, which inspects them after the flush (cheaper than an errback each).
        self._futures.append(future)
        if self.source.acks_deliveries:
            future.add_callback(lambda _metadata, source=self.source, position=position: source.delivered(position))

    def _queue(self, message: tuple[bytes, bytes, list]) -> None:
        self._batch.append(message)
        if len(self._batch) >= SEND_BATCH:
            self._hand_over()

    def _queue_all(self, messages: list[tuple[bytes, bytes, list]]) -> None:
        self._batch += messages
        if len(self._batch) >= SEND_BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        """Send the queued batch; its one delivery handle is checked at the next checkpoint."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        try:
            self._futures.append(self.producer.send_batch(self.raw_topic, batch))
        except KafkaError as exc:
            raise DeliveryFailed(
                f"resource {self.resource.id!r}: Kafka refused records for {self.raw_topic} ({exc}); "
                f"the state was not advanced — check the broker (`hub kafka status`) and rerun"
            ) from exc

    def _send_dlq(self, raw, reason: str, position) -> None:
        self._send(self.dlq_topic, self.builder.dlq_message(raw, reason), position)

    def checkpoint(self, pending: dict, produced: int, dlq: int) -> None:
        """Flush, prove every send succeeded, then persist `pending` as the resource's state."""
        self._hand_over()
        try:
            self.producer.flush(timeout=FLUSH_TIMEOUT_S)
        except KafkaError as exc:
            raise DeliveryFailed(
                f"resource {self.resource.id!r}: Kafka did not confirm delivery within "
                f"{FLUSH_TIMEOUT_S:.0f} s ({exc}); state kept at the last save — rerun"
            ) from exc
        failure = next((error for error in map(_delivery_error, self._futures) if error is not None), None)
        self._futures.clear()
        if failure is not None:
            raise DeliveryFailed(
                f"resource {self.resource.id!r}: Kafka rejected a record ({failure!r}); "
                f"state kept at the last save, so a rerun re-sends from there"
            )
        totals = self.state["totals"]
        self.state = {
            "resource": self.resource.id,
            "source_of": self.state.get("source_of"),
            "source": copy.deepcopy(pending),
            "totals": {"produced": totals.get("produced", 0) + produced, "dlq": totals.get("dlq", 0) + dlq},
            "saved_at": clock.now().isoformat(),
        }
        save_state(self.resource.id, self.state)

    # ---- one pass ---------------------------------------------------------------------------------

    def run_pass(self, limit: int | None = None) -> PassReport:
        """Read what is new, send it, checkpoint; on an error, checkpoint what was delivered and raise."""
        with long_lived_objects_frozen():
            return self._pass(limit)

    def _pass(self, limit: int | None) -> PassReport:
        report = self.last_report = PassReport(self.resource.id)
        self._batch, self._futures = [], []  # a failed pass's leftovers: this pass re-reads from the state
        started = last_save = time.monotonic()
        pending = copy.deepcopy(self.state["source"])
        task = self._start_task()
        encode, encode_conformed = self.builder.encode, self.builder.encode_conformed
        advance, raw_topic = self.source.advance, self.raw_topic
        if self.source.acks_deliveries:
            send = self._send

            def send_all(messages):
                for message in messages:
                    send(raw_topic, message, None)
        else:
            queue = self._queue
            send_all = self._queue_all

            def send(_topic, message, _position):
                queue(message)

        produced = dlq = 0  # since the last checkpoint
        next_look = LOOK_EVERY
        items = self.source.read(copy.deepcopy(pending))
        try:
            for item in items:
                kind = type(item)
                if kind is Conformed:
                    if limit is not None:
                        item = item.head(limit - report.produced - report.dlq - produced - dlq)
                    send_all(encode_conformed(item))
                    produced += len(item)
                    advance(pending, item.position_of(len(item) - 1))
                else:
                    if kind is SourceRecord:
                        try:
                            message = encode(item)
                        except UnreadableRow as exc:
                            self._send_dlq(item.value, str(exc), item.position)
                            dlq += 1
                        else:
                            send(raw_topic, message, item.position)
                            produced += 1
                    elif kind is Unreadable:
                        self._send_dlq(item.raw, item.reason, item.position)
                        dlq += 1
                    elif kind is not Advance:
                        raise ConnectorError(f"source kind {self.source.kind!r} yielded {item!r}, not a source item")
                    advance(pending, item.position)
                if produced + dlq >= next_look:
                    next_look = produced + dlq + LOOK_EVERY
                    self._update_task(task, report, produced, dlq)
                    if (
                        produced + dlq >= self.checkpoint_every
                        or time.monotonic() - last_save >= self.checkpoint_seconds
                    ):
                        self._save(pending, report, produced, dlq, task)
                        produced = dlq = 0
                        next_look, last_save = LOOK_EVERY, time.monotonic()
                if limit is not None and report.produced + report.dlq + produced + dlq >= limit:
                    break
        except BaseException as exc:
            # Whatever went wrong, what was delivered is kept — unless delivery itself failed.
            if not isinstance(exc, DeliveryFailed):
                self._save_quietly(pending, report, produced, dlq)
                produced = dlq = 0
            raise
        else:
            self._save(pending, report, produced, dlq)
            produced = dlq = 0
        finally:
            items.close()
            report.seconds = time.monotonic() - started
            report.stats = dict(getattr(self.source, "stats", {}))
            self._update_task(task, report, produced, dlq, done=True)
        return report

    def _save(self, pending: dict, report: PassReport, produced: int, dlq: int, task=None) -> None:
        self.checkpoint(pending, produced, dlq)
        report.produced += produced
        report.dlq += dlq
        self._update_task(task, report, 0, 0)

    def _save_quietly(self, pending: dict, report: PassReport, produced: int, dlq: int) -> None:
        try:
            self._save(pending, report, produced, dlq)
        except ConnectorError as exc:
            log.error("%s: could not save progress after the failure: %s", self.resource.id, exc)

    # ---- progress and events ----------------------------------------------------------------------

    def _start_task(self):
        if self.progress is None:
            return None
        total = None
        estimate = getattr(self.source, "estimate", None)
        if estimate is not None:
            try:
                total = estimate(self.state["source"])
            except ConnectorError:
                raise
            except Exception as exc:  # an estimate is a nicety; reading will report a real problem
                log.debug("%s: no estimate (%s)", self.resource.id, exc)
        return self.progress.add_task(self.resource.id, total=total, dlq=0)

    def _update_task(self, task, report: PassReport, produced: int, dlq: int, done: bool = False) -> None:
        if task is None:
            return
        dlq = report.dlq + dlq
        completed = report.produced + produced + dlq
        self.progress.update(task, completed=completed, dlq=dlq)
        if done:
            self.progress.update(task, total=completed)
            self.progress.stop_task(task)

    def produced_event(self, report: PassReport) -> dict:
        return ConnectorProduced.build(
            self.resource.id,
            records=report.produced,
            dlq_records=report.dlq,
            seconds=round(report.seconds, 3),
            kind=self.source.kind,
            source=self.resource.binding.system,
            object=self.source.object_name,
            topic=self.raw_topic,
            dlq_topic=self.dlq_topic,
            totals=self.state["totals"],
            source_stats=report.stats,
            error=report.error,
        ).wire()

    def close(self) -> None:
        """Close the source (a later pass reopens it); the lock is kept until `release`."""
        self.source.close()

    def release(self) -> None:
        self.source.close()
        self._lock.release()


def run_resources(
    resources: Iterable,
    *,
    follow: bool = False,
    limit: int | None = None,
    progress: bool = True,
    poll_seconds: float = 5.0,
    producer=None,
    **connector_options,
) -> list[PassReport]:
    """Run the connectors of `resources` once (or round after round until interrupted, with `follow`);
    returns one report per resource, summed over its passes.

    A failing resource never stops the others: its report carries the (last) error. With `follow`,
    a fatal error drops the resource; after any other, its source is reopened on the next round, so
    an MQTT session redelivers what was not acknowledged.
    """
    resources = list(resources)
    ensure_topics([name for r in resources for name in topics(r)] + [events_topic()])
    producer = producer or shared_producer()
    reports: dict[str, PassReport] = {}
    connectors: list[Connector] = []
    with make_progress(progress) as bar:
        try:
            for resource in resources:
                try:
                    connectors.append(Connector(resource, producer, progress=bar, **connector_options))
                except ConnectorError as exc:
                    log.error("%s: %s", resource.id, exc)
                    reports[resource.id] = PassReport(resource.id, error=str(exc), error_kind=exc.kind)
            while connectors:
                for connector in list(connectors):
                    report = _one_pass(connector, limit)
                    _add(reports, report)
                    if not report.ok:
                        connector.close()
                        if report.error_kind == "fatal" or not follow:
                            connectors.remove(connector)
                            connector.release()
                    elif report.produced or report.dlq or not follow:
                        publish_events([connector.produced_event(report)], producer=producer)
                if not follow:
                    break
                time.sleep(poll_seconds)
        finally:
            for connector in connectors:
                connector.release()
    return list(reports.values())


def _delivery_error(delivery) -> BaseException | None:
    """Why a delivery (one record's, or a batch's) failed; None when all of it is in Kafka."""
    if isinstance(delivery, BatchDelivery):
        if delivery.first_error is None and not delivery.complete:
            return RuntimeError(f"{delivery.sent - delivery.delivered} record(s) not confirmed after the flush")
        return delivery.first_error
    return delivery.exception


def _add(reports: dict[str, PassReport], report: PassReport) -> None:
    """Sum a pass into the resource's report (a follow loop runs many passes)."""
    total = reports.setdefault(report.resource, PassReport(report.resource))
    total.produced += report.produced
    total.dlq += report.dlq
    total.seconds += report.seconds
    total.stats = report.stats
    total.error, total.error_kind = report.error, report.error_kind


def _one_pass(connector: Connector, limit: int | None) -> PassReport:
    try:
        return connector.run_pass(limit)
    except Exception as exc:  # one resource's failure is reported, never the end of the others
        kind = getattr(exc, "kind", "fatal")
        if isinstance(exc, ConnectorError):
            log.error("%s: %s", connector.resource.id, exc)
        else:
            log.exception(
                "%s: unexpected %s — a bug in the source kind %r",
                connector.resource.id,
                type(exc).__name__,
                connector.source.kind,
            )
        report = connector.last_report or PassReport(connector.resource.id)
        report.error, report.error_kind = f"{type(exc).__name__}: {exc}", kind
        if report.produced or report.dlq:
            _publish_quietly(connector, report)
        return report


def _state_for_source(resource, source) -> dict:
    """The saved state; a position read from another source (the entry was rebound to another
    system, table, folder or endpoint) starts over. Other config (timeouts, page sizes) keeps it."""
    state = load_state(resource.id)
    read_from = f"{resource.binding.kind}:{resource.binding.system}:{source.object_name}"
    if state.get("source_of") not in (None, read_from):
        log.info(
            "%s: rebound from %s to %s; reading the new source from its start",
            resource.id,
            state["source_of"],
            read_from,
        )
        state["source"] = {}
    state["source_of"] = read_from
    return state


def _publish_quietly(connector: Connector, report: PassReport) -> None:
    try:
        publish_events([connector.produced_event(report)], producer=connector.producer)
    except KafkaError as exc:
        log.error("%s: could not publish the connector.produced event: %s", connector.resource.id, exc)


def connect(target: str, *, catalogue=None, **options) -> list[PassReport]:
    """The library twin of `hub connect TARGET` (what the ingest DAGs call): resolve the target in the
    catalogue (the catalogue database unless given) and run its connectors; `options` go to `run_resources`."""
    return run_resources(resolve_targets(catalogue if catalogue is not None else reader.catalogue(), target), **options)


def resolve_targets(catalogue, target: str) -> list:
    """The bound resources that `target` names: a resource id, a domain (or theme), or "all"."""
    bound = [r for r in reader.in_force(catalogue) if r.binding is not None]
    if target == "all":
        return bound
    by_id = {r.id: r for r in reader.in_force(catalogue)}
    if target in by_id:
        if by_id[target].binding is None:
            resource = by_id[target]
            raise ConnectorError(
                f"resource {target!r} has no source binding (it is a coverage gap on purpose?); "
                f"add `binding:` to {resource.file}:{resource.line} to connect it"
            )
        return [by_id[target]]
    # A domain also names the thematic resources its source system feeds, as the ingest DAGs group them.
    in_domain = [r for r in bound if target in (r.domain, SYSTEM_DOMAINS.get(r.binding.system))]
    if in_domain:
        return in_domain
    domains = sorted({r.domain for r in bound})
    raise ConnectorError(
        f"{target!r} is neither a resource id nor a domain with bound resources; use a resource id, "
        f"one of the domains {', '.join(domains)}, or 'all'"
    )
