"""When a resource is due, by its update cycle: the simulation's scheduler (pure date logic).

Each cycle has slots — the days its run is scheduled:

| cycle | slot |
|---|---|
| 实时, 每日 | every day (实时 is also polled once a day here; continuous flow is the long-running connectors') |
| 每周 | Monday |
| 每月 | the 1st of the month |
| 每季度 | 1 January, 1 April, 1 July, 1 October |
| 半年 | 1 January, 1 July |
| 每年 | 1 January |

A resource is due on a day when it has not run successfully since its latest slot on or before
that day. So a slot day runs it, a first run happens on the first day of a simulation (the
platform going live), and a run missed by a source outage is caught up every day until it
succeeds. A resource without a known cycle is never scheduled (coverage reports it as "no update
cycle").
"""

from __future__ import annotations

from datetime import date, timedelta

WEEKLY_SLOT = 0  # Monday

_MONTHS = {
    "每月": tuple(range(1, 13)),
    "每季度": (1, 4, 7, 10),
    "半年": (1, 7),
    "每年": (1,),
}
CYCLES = ("实时", "每日", "每周", *_MONTHS)


def latest_slot(cycle: str | None, day: date) -> date | None:
    """The cycle's latest scheduled day on or before `day`; None for an unknown cycle."""
    if cycle in ("实时", "每日"):
        return day
    if cycle == "每周":
        return day - timedelta(days=(day.weekday() - WEEKLY_SLOT) % 7)
    months = _MONTHS.get(cycle or "")
    if months is None:
        return None
    year, month = day.year, day.month
    while month not in months:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return date(year, month, 1)


def is_due(cycle: str | None, day: date, last_success: date | None) -> bool:
    """Whether a resource of `cycle` that last ran successfully on `last_success` runs on `day`."""
    slot = latest_slot(cycle, day)
    if slot is None:
        return False
    return last_success is None or last_success < slot
