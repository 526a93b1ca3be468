"""Update timeliness (更新及时率): does each source keep its data up to date? Pure logic.

Coverage asks whether the data is mounted and fresh on our side (the last landing with rows); this
asks the source's own clock: the newest change time of the records that landed (the event time a
connector reads from the record, `landing.completed`'s max_event_time). A resource counts here once
it is mounted (a successful landing with rows) and is timely when that time is within the same
window coverage uses (the cycle's window plus the resource's grace).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from catalog.projection import ratio_of

TIMELY = "timely"
SOURCE_NOT_UPDATED = "source not updated"
NO_SOURCE_TIME = "no source time"
NO_UPDATE_CYCLE = "no update cycle"
# The statuses in the order they are tested; a mounted resource gets the first that applies.
STATUSES = (NO_UPDATE_CYCLE, NO_SOURCE_TIME, SOURCE_NOT_UPDATED, TIMELY)


@dataclass(frozen=True)
class Timeliness:
    """`status` is "timely" or why not; `since` is when the source fell behind, if known."""

    status: str
    since: datetime | None = None

    @property
    def timely(self) -> bool:
        return self.status == TIMELY


def judge(
    *, mounted: bool, source_changed_at: datetime | None, window: timedelta | None, as_of: datetime
) -> Timeliness | None:
    """The update timeliness of one resource at `as_of`; None when it is not mounted (not counted)."""
    if not mounted:
        return None
    if window is None:
        # Without a cycle nothing says how old is too old (as for coverage): never timely.
        return Timeliness(NO_UPDATE_CYCLE)
    if source_changed_at is None:
        # Rows landed but none carried a change time: the source cannot show it keeps up.
        return Timeliness(NO_SOURCE_TIME)
    if as_of - source_changed_at > window:  # exactly at the limit still counts as timely
        return Timeliness(SOURCE_NOT_UPDATED, source_changed_at + window)
    return Timeliness(TIMELY)


class _Tally:
    __slots__ = ("timely", "total")

    def __init__(self) -> None:
        self.timely = 0
        self.total = 0

    def add(self, timely: bool) -> None:
        self.total += 1
        self.timely += bool(timely)

    def counts(self) -> dict:
        return {"timely": self.timely, "total": self.total, "ratio": ratio_of(self.timely, self.total)}


@dataclass(frozen=True)
class Judged:
    """One counted resource as the document lists it."""

    code: str
    name: str
    department: str
    priority: int
    source_changed_at: datetime | None
    timeliness: Timeliness


def document(judged: list[Judged], iso: Callable[[datetime | None], str | None]) -> dict:
    """The `timeliness` part of the coverage document: overall, by department (furthest behind
    first), and every mounted resource that is not timely (highest priority first)."""
    overall = _Tally()
    by_department: dict[str, _Tally] = defaultdict(_Tally)
    for resource in judged:
        overall.add(resource.timeliness.timely)
        by_department[resource.department].add(resource.timeliness.timely)
    departments = [{"department": name, **tally.counts()} for name, tally in by_department.items()]
    departments.sort(key=lambda row: (row["ratio"], row["department"]))
    late = sorted((r for r in judged if not r.timeliness.timely), key=lambda r: (-r.priority, r.department, r.code))
    return {
        "overall": overall.counts(),
        "by_department": departments,
        "late": [
            {
                "resource_code": resource.code,
                "name": resource.name,
                "department": resource.department,
                "reason": resource.timeliness.status,
                "source_changed_at": iso(resource.source_changed_at),
                "since": iso(resource.timeliness.since),
            }
            for resource in late
        ],
    }
