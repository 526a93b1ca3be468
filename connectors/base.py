"""What a source kind promises the runner, and the runner's persisted per-resource state.

A source *declares*: `read(state)` yields `SourceRecord`s (a dict of item values with its position),
`Unreadable`s (the raw bytes and why they cannot be read), `Advance`s (a position without a row) or
`Conformed` batches (rows whose record value the source's database already built),
and `advance(state, position)` says how a position moves the state. The runner *acts*: it sends
each item, advances a pending copy of the state through it, and saves that copy only after
`producer.flush()` confirmed every send. So a source never has to know about Kafka, and its saved
state never runs ahead of delivered data. (MQTT also hears of each delivery: `delivered`.)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import orjson

from connectors.errors import BindingError, ConnectorError
from hub.files import LockHeld, exclusive_lock, write_atomic
from hub.settings import get_settings
from hub.timezone import LOCAL_TZ


@dataclass(slots=True)
class SourceRecord:
    """One source row as item name → value; `position` is what `advance` needs to move past it."""

    value: dict
    position: Any = None
    # When the source says it happened (a datetime, or ISO text parsed only if the runner needs it:
    # an event-time item of the record wins).
    event_time: datetime | str | None = None
    op: str = "upsert"


@dataclass(slots=True)
class Unreadable:
    """A row the source could not read; the runner sends `raw` to the DLQ with `reason`."""

    raw: bytes | str
    reason: str
    position: Any = None


@dataclass(slots=True)
class Advance:
    """Nothing to send, but the position moves (an empty file, an empty page): the runner advances
    past it once everything before it is delivered."""

    position: Any


@dataclass(slots=True)
class Conformed:
    """Rows the source conformed itself, exactly as the runner would have (the SQL kind lets SQLite
    build the record of rows whose values already have their items' types), as columns of one
    length: `keys` and `values` (UTF-8: the business key and the record's JSON) and `event_times`
    (the text of the hub-event-time header, or b"" where the runner must work it out from
    `times_of(i)`: the event-time item's value and the change time of row i). `position_of(i)` is
    the position that moves past row i."""

    keys: list[bytes]
    values: list[bytes]
    event_times: list[bytes]
    times_of: Callable[[int], tuple]
    position_of: Callable[[int], Any]

    def __len__(self) -> int:
        return len(self.keys)

    def head(self, count: int) -> Conformed:
        """The first `count` rows (the same row numbers, so the same `times_of` and `position_of`)."""
        return Conformed(
            self.keys[:count], self.values[:count], self.event_times[:count], self.times_of, self.position_of
        )


SourceItem = SourceRecord | Unreadable | Advance | Conformed


@runtime_checkable
class Source(Protocol):
    """The contract of a source kind (see `BaseSource` for the defaults)."""

    kind: ClassVar[str]
    # True when the source must hear about each delivery as it happens (MQTT acks its broker then).
    acks_deliveries: ClassVar[bool]

    @property
    def object_name(self) -> str: ...

    def read(self, state: dict) -> Iterator[SourceItem]: ...

    def advance(self, state: dict, position: Any) -> None: ...

    def delivered(self, position: Any) -> None: ...

    def close(self) -> None: ...


class BaseSource:
    """Defaults for a source kind: positions are dicts merged into the state; no per-delivery hook."""

    kind: ClassVar[str] = ""
    acks_deliveries: ClassVar[bool] = False
    # Config keys the binding must give; checked once at construction so a bad binding fails early.
    required_config: ClassVar[tuple[str, ...]] = ()

    def __init__(self, resource, binding):
        self.resource = resource
        self.system = binding.system
        self.config = dict(binding.config or {})
        missing = [key for key in self.required_config if not self.config.get(key)]
        if missing:
            raise BindingError(
                f"resource {resource.id!r}: binding of kind {self.kind!r} lacks config {', '.join(missing)}; "
                f"add it under binding.config in {resource.file or 'its catalogue file'}:{resource.line}"
            )

    @property
    def object_name(self) -> str:
        """What `<system>.<object>` names in the `hub-source` header (table, pattern, endpoint, topic)."""
        raise NotImplementedError

    def read(self, state: dict) -> Iterator[SourceItem]:
        raise NotImplementedError

    def advance(self, state: dict, position: Any) -> None:
        """Move `state` past one delivered item (called in read order, only after Kafka confirmed)."""
        if position:
            state.update(position)

    def delivered(self, position: Any) -> None:
        """Called from the producer's I/O thread when one item is in Kafka (only if acks_deliveries)."""

    def close(self) -> None:
        """Release connections; the runner calls it once, after the last flush."""


def parse_time(text) -> datetime | None:
    """An ISO-8601 text (or datetime) as an aware datetime; None if it is not ISO-8601."""
    if isinstance(text, datetime):
        moment = text
    else:
        try:
            moment = datetime.fromisoformat(text)
        except (TypeError, ValueError):
            return None
    # The sources write local (Beijing) time; a timestamp without an offset means +08:00.
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


# Items that say when a row last changed, by the sources' naming habits (更新时间 = gxsj).
CHANGE_TIME_ITEMS = ("updated_at", "gxsj", "ts")


def event_time_item(resource) -> str | None:
    """The item that carries a record's event time: binding.config["event_time_item"] if set, else
    the first key item of type T (a reading's time, a status event's ts), else a change-time item."""
    binding = getattr(resource, "binding", None)
    configured = (binding.config or {}).get("event_time_item") if binding is not None else None
    if configured:
        return configured
    times = [item for item in resource.items if item.type == "T"]
    keyed = next((item.name for item in times if item.key), None)
    return keyed or next((item.name for item in times if item.name in CHANGE_TIME_ITEMS), None)


# ---- persisted state -------------------------------------------------------------------------------


def state_path(resource_id: str) -> Path:
    """`<var_dir>/state/connectors/<resource_id>.json`."""
    return get_settings().var_dir / "state" / "connectors" / f"{resource_id}.json"


def load_state(resource_id: str) -> dict:
    """The saved state ({"source": {...}, "totals": {...}}), or a fresh one."""
    path = state_path(resource_id)
    try:
        saved = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {"source": {}, "totals": {"produced": 0, "dlq": 0}}
    except orjson.JSONDecodeError as exc:
        raise ConnectorError(
            f"connector state {path} is not JSON ({exc}); restore it, or delete it to re-read "
            f"resource {resource_id!r} from the start (staging dedups the repeats)"
        ) from exc
    saved.setdefault("source", {})
    saved.setdefault("totals", {"produced": 0, "dlq": 0})
    return saved


def save_state(resource_id: str, state: dict) -> None:
    """Write the state atomically: a crash leaves the old file or the new one, never half of one."""
    path = state_path(resource_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, orjson.dumps(state, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


class ResourceLock:
    """One connector per resource at a time (a second would race the state file and, for MQTT, take
    the session over). An flock on `<state>.lock`: the OS drops it when the holder dies, even by SIGKILL."""

    def __init__(self, resource_id: str):
        self._held = contextlib.ExitStack()
        try:
            self._held.enter_context(
                exclusive_lock(state_path(resource_id).with_suffix(".lock"), blocking=False, note=str(os.getpid()))
            )
        except LockHeld as held:
            raise ConnectorError(
                f"resource {resource_id!r} is being connected already (pid {held.holder or '?'}); "
                f"wait for that run or stop it — two runs would race for its state",
                kind="retriable",
            ) from None

    def release(self) -> None:
        self._held.close()
