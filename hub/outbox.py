"""The outbox: events Kafka has not acknowledged yet, kept on disk until it has.

A step that must report an event `keep`s it first (written atomically under
<var>/outbox/<topic>/, one file per event, named so that the order kept is the order sent), then
calls `flush`, which sends everything kept for the topic in that order and removes each file only
after Kafka acknowledged its event. A send that fails (broker down, task killed) leaves the files;
the next `flush` anywhere sends them. Event ids are stable, so an event sent twice (acknowledged,
then the process died before removing its file) is applied once by the catalogue.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from hub.errors import HubError
from hub.events import Event, encode_event, parse_event
from hub.kafka_clients import shared_producer
from hub.settings import get_settings
from hub.topics import events_topic

log = logging.getLogger(__name__)


class OutboxError(HubError):
    """Kept events could not be sent; they stay kept and the next flush sends them."""

    kind = "retriable"


def outbox_dir(topic: str | None = None) -> Path:
    return get_settings().var_dir / "outbox" / (topic or events_topic())


def keep(event: Event | dict, topic: str | None = None) -> Path:
    """Write the event (validated against its model) to the topic's outbox; returns its file.
    Keeping an event id that is already kept changes nothing (it keeps its place in the order)."""
    wire = (event if isinstance(event, Event) else parse_event(event)).wire()
    folder = outbox_dir(topic)
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(wire["id"].encode()).hexdigest()[:32]
    existing = next(folder.glob(f"*-{name}.json"), None)
    if existing is not None:
        return existing
    path = folder / f"{time.time_ns():020d}-{name}.json"
    temp = folder / f".{path.name}.tmp"
    with open(temp, "wb") as handle:
        handle.write(orjson.dumps(wire))
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(path)
    _fsync_dir(folder)
    return path


def kept(topic: str | None = None) -> list[dict]:
    """The events kept for the topic, in the order they will be sent."""
    return [orjson.loads(path.read_bytes()) for path in _files(outbox_dir(topic))]


def flush(producer=None, topic: str | None = None) -> int:
    """Send the topic's kept events in order; each file is removed once Kafka acknowledged its event.
    Returns how many were sent; raises OutboxError (retriable) when some could not be, which stay kept."""
    topic = topic or events_topic()
    folder = outbox_dir(topic)
    if not _files(folder):
        return 0
    with _locked(folder):  # one flush per topic at a time: the order kept is the order sent
        paths = _files(folder)
        if not paths:
            return 0
        try:
            sent, failed = _send(producer or shared_producer(), topic, paths)
        except Exception as exc:  # the producer could not even be made or reach the cluster
            raise OutboxError(
                f"{len(paths)} event(s) stay in {folder}: {type(exc).__name__}: {exc}; "
                "the next flush sends them (is the broker up? hub kafka up)"
            ) from exc
    if failed:
        raise OutboxError(
            f"{len(failed)} of {len(paths)} event(s) stay in {folder}: {failed[0]}; "
            "the next flush sends them (is the broker up? hub kafka up)"
        )
    return sent


def _send(producer, topic: str, paths: list[Path]) -> tuple[int, list[str]]:
    futures = []
    for path in paths:
        key, value = encode_event(orjson.loads(path.read_bytes()))
        futures.append((path, producer.send(topic, key=key, value=value)))
    producer.flush()
    sent, failed = 0, []
    for path, future in futures:
        if future.succeeded():
            path.unlink(missing_ok=True)
            sent += 1
        else:
            failed.append(f"{type(future.exception).__name__}: {future.exception}")
    return sent, failed


def _files(folder: Path) -> list[Path]:
    # Names start with the nanosecond they were kept at, zero-padded: sorting by name is sorting by time.
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
