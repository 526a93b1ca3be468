"""Working days on the Chinese calendar: deadlines for objections and share requests.

The State Council publishes each year's public holidays and the make-up working days (调休) that
come with them; `chinesecalendar` (pinned in requirements.lock) carries those schedules, so a
deadline skips the National Day week and counts the Saturday worked in lieu. A year the package
does not know yet (the schedule is published in the autumn before) is counted Monday to Friday,
and the deadline says so (`provisional`): upgrading the package makes it exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar

from hub.timezone import LOCAL_TZ

END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class Deadline:
    """The end of the N-th working day after a start, in Beijing time."""

    due: datetime
    provisional: bool  # some day in between was counted Monday to Friday: the year's schedule is unknown


def known_year(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def is_workday(day: date) -> bool:
    """A working day: a weekday that is no public holiday, or a weekend day worked in lieu (调休)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def add_workdays(start: datetime, days: int) -> Deadline:
    """The end of the `days`-th working day after `start`'s local date (the day itself not counted).

    Raised on Friday with 2 working days: due at the end of Tuesday; raised on 30 September with 2:
    due at the end of the second working day after the National Day holiday.
    """
    if start.tzinfo is None:
        raise ValueError("a deadline's start needs its offset")
    if days < 0:
        raise ValueError(f"a deadline counts forward: {days} working days")
    day, counted, provisional = start.astimezone(LOCAL_TZ).date(), 0, False
    while counted < days:
        day += timedelta(days=1)
        provisional = provisional or not known_year(day.year)
        counted += is_workday(day)
    return Deadline(datetime.combine(day, END_OF_DAY, LOCAL_TZ), provisional)


def workdays_between(start: datetime, end: datetime) -> int:
    """Working days after `start`'s local date up to and including `end`'s (0 when end is the same day)."""
    first, last = start.astimezone(LOCAL_TZ).date(), end.astimezone(LOCAL_TZ).date()
    return sum(is_workday(first + timedelta(days=n)) for n in range(1, (last - first).days + 1))
