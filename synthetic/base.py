"""What every generator is handed: the resource, its seeded random streams, its clock and tally.

Determinism: every random stream is derived from (seed, resource id, step, purpose) with a stable
hash, never from the global RNG or the wall clock; the only time is the `as_of` passed in.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from hub.errors import HubError
from hub.timezone import LOCAL_TZ
from synthetic.defects import Tally

SHUNDE_TZ = LOCAL_TZ
#: The default "now" of the synthetic world (step 0); later steps move it on by STEP_INTERVAL.
DEFAULT_AS_OF = datetime(2026, 11, 20, 0, 0, tzinfo=SHUNDE_TZ)
STEP_INTERVAL = timedelta(hours=1)
#: The window of step 0's cursor values: the source as loaded on the day before "now", so that a
#: record's last-modified stamp never precedes the events it records (reads, registrations).
HISTORY = timedelta(days=1)
#: tiny (small / 20) exists for fast tests; small runs the demo, full is Shunde-sized.
SCALES = ("tiny", "small", "medium", "full")
#: Rows per chunk: one executemany in one transaction each (bounded memory at full scale).
CHUNK_ROWS = 50_000
#: Share of a table's base size that a later step inserts anew, and that it updates.
STEP_INSERT_SHARE = 0.005
STEP_UPDATE_SHARE = 0.005

Chunk = list[dict]


class SyntheticError(HubError):
    """The synthetic sources cannot be built as asked; the message says what to run instead."""


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from the parts (blake2b: the same on every machine and Python run)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def iso_ts(moment: datetime) -> str:
    """ISO-8601 with milliseconds and the +08:00 offset: sorts as text in time order."""
    return moment.astimezone(SHUNDE_TZ).isoformat(timespec="milliseconds")


def iso_ts_seconds(moment: datetime) -> str:
    return moment.astimezone(SHUNDE_TZ).isoformat(timespec="seconds")


@dataclass
class Clock:
    """Hands out non-decreasing times across [start, end] for `expected` events, in order."""

    start: datetime
    end: datetime
    expected: int
    issued: int = 0

    def next(self) -> datetime:
        span = (self.end - self.start) / max(1, self.expected)
        moment = min(self.end, self.start + span * (self.issued + 1))
        self.issued += 1
        return moment


@dataclass
class ResourceContext:
    """One resource's generation run: its spec, scale, step, randomness, clock and ground truth."""

    resource: object  # catalog.spec.Resource
    seed: int
    scale: str
    step: int
    base_as_of: datetime
    tally: Tally
    #: Rows this step will insert (set by the generator before its first chunk; paces the clock).
    expected: int = 0
    #: Existing rows this step will update (set by the orchestrator).
    updates: int = 0
    #: Records already in the source from earlier steps (0 at step 0).
    previous_records: int = 0
    #: How far one step moves the synthetic clock (an hour by default; a simulated day is 24 h).
    interval: timedelta = STEP_INTERVAL

    def __post_init__(self) -> None:
        self.rng = self.random("main")
        self.np_rng = np.random.default_rng(stable_seed(self.seed, self.resource.id, self.step, "numpy"))

    @property
    def resource_id(self) -> str:
        return self.resource.id

    @property
    def as_of(self) -> datetime:
        """This step's "now"."""
        return self.base_as_of + self.interval * self.step

    @property
    def today(self) -> date:
        return self.as_of.date()

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The time span this step's new rows and updates fall in."""
        if self.step == 0:
            return self.base_as_of - HISTORY, self.base_as_of
        return self.as_of - self.interval, self.as_of

    def random(self, purpose: str, step: int | None = None) -> random.Random:
        """A private stream for one purpose, so adding draws elsewhere changes nothing here."""
        return random.Random(stable_seed(self.seed, self.resource.id, self.step if step is None else step, purpose))

    def size(self, small: int, full: int) -> int:
        """Base record count at this scale: small, 10× small, or the Shunde-sized full count."""
        return {"tiny": max(20, small // 20), "small": small, "medium": small * 10, "full": full}[self.scale]

    def step_count(self, base: int, share: float = STEP_INSERT_SHARE) -> int:
        """How many records a later step adds (at least one)."""
        return max(1, round(base * share))

    def key_columns(self) -> list[str]:
        return [item.name for item in self.resource.items if item.key]
