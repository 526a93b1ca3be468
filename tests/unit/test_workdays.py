"""Working-day deadlines on the Chinese calendar, as the State Council's 2026 schedule sets them
(国办发明电〔2025〕 holiday notice: National Day 1-7 October off, Sunday 20 September and Saturday
10 October worked in lieu; Labour Day 1-5 May off, Saturday 9 May worked)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from catalog.workdays import add_workdays, is_workday, workdays_between
from hub.timezone import LOCAL_TZ


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ((2026, 10, 1), False),  # National Day
        ((2026, 10, 7), False),  # the last day off, a Wednesday
        ((2026, 10, 10), True),  # a Saturday worked in lieu
        ((2026, 9, 20), True),  # a Sunday worked in lieu
        ((2026, 5, 9), True),
        ((2026, 12, 5), False),  # an ordinary Saturday
        ((2026, 12, 7), True),
    ],
)
def test_holidays_and_make_up_days(day, working):
    assert is_workday(datetime(*day).date()) is working


def test_friday_plus_two_working_days_is_tuesday_night():
    deadline = add_workdays(local(2026, 12, 4, 16, 30), 2)
    assert deadline.due == local(2026, 12, 8, 23, 59, 59)
    assert not deadline.provisional


def test_a_deadline_skips_the_national_day_week_and_counts_the_saturday_in_lieu():
    raised = local(2026, 9, 30, 10, 0)
    assert add_workdays(raised, 2).due == local(2026, 10, 9, 23, 59, 59)  # Thu 8th, Fri 9th
    # Thu 8, Fri 9, Sat 10 (in lieu), Mon 12 … Fri 16, Mon 19, Tue 20
    assert add_workdays(raised, 10).due == local(2026, 10, 20, 23, 59, 59)


def test_the_start_is_read_in_beijing_time():
    # 17:00 UTC on Friday is 01:00 on Saturday in Shunde: counting starts after Saturday.
    assert add_workdays(datetime(2026, 12, 4, 17, 0, tzinfo=timezone.utc), 1).due == local(2026, 12, 7, 23, 59, 59)


def test_a_year_without_a_published_schedule_counts_weekdays_and_says_so():
    deadline = add_workdays(local(2026, 12, 28, 9, 0), 10)
    assert deadline.provisional
    assert deadline.due == local(2027, 1, 11, 23, 59, 59)


def test_working_days_between_two_times():
    assert workdays_between(local(2026, 9, 30, 9), local(2026, 10, 9, 18)) == 2
    assert workdays_between(local(2026, 12, 7, 9), local(2026, 12, 7, 18)) == 0


def test_a_deadline_needs_an_aware_start():
    with pytest.raises(ValueError, match="offset"):
        add_workdays(datetime(2026, 12, 4), 2)
