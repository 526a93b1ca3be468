"""When a resource is due in the simulation: its cycle's slot, a first run, a catch-up after a failure."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.cycles import is_due, latest_slot
from pipeline.scenario import DEFAULT

SUNDAY, MONDAY = date(2026, 11, 1), date(2026, 11, 2)


@pytest.mark.parametrize(
    ("cycle", "day", "slot"),
    [
        ("每日", date(2026, 11, 7), date(2026, 11, 7)),
        ("实时", date(2026, 11, 7), date(2026, 11, 7)),
        ("每周", date(2026, 11, 8), MONDAY),  # a Sunday: last Monday
        ("每周", MONDAY, MONDAY),
        ("每月", date(2026, 11, 30), SUNDAY),
        ("每季度", date(2026, 12, 5), date(2026, 10, 1)),
        ("半年", date(2026, 6, 30), date(2026, 1, 1)),
        ("每年", date(2027, 3, 3), date(2027, 1, 1)),
        ("每季度", date(2027, 2, 1), date(2027, 1, 1)),
    ],
)
def test_latest_slot(cycle, day, slot):
    assert latest_slot(cycle, day) == slot


def test_unknown_cycle_is_never_scheduled():
    assert latest_slot(None, SUNDAY) is None and latest_slot("每两周", SUNDAY) is None
    assert not is_due(None, SUNDAY, None)


def test_first_run_slot_and_catch_up():
    assert is_due("每年", date(2026, 11, 5), None)  # never ran: runs on the first simulated day
    assert not is_due("每月", date(2026, 11, 5), date(2026, 11, 1))  # ran on its slot
    assert is_due("每月", date(2026, 12, 1), date(2026, 11, 1))  # the next slot
    assert is_due("每周", date(2026, 11, 4), date(2026, 11, 1))  # Monday's run failed: caught up
    assert is_due("每日", date(2026, 11, 4), date(2026, 11, 3)) and not is_due("每日", MONDAY, MONDAY)


def test_default_scenario_reads_as_documented():
    assert [DEFAULT.down_on(day) for day in (2, 3, 5, 6)] == [set(), {"scjgj"}, {"scjgj"}, set()]
    assert DEFAULT.outages_starting(3) == ["scjgj"] and DEFAULT.outages_ending(6) == ["scjgj"]
    assert [b.resource for b in DEFAULT.bad_batches_on(1)] == [] == [b.resource for b in DEFAULT.bad_batches_on(9)]
    assert {day: [b.resource for b in DEFAULT.bad_batches_on(day)] for day in (2, 8)} == {
        2: ["resident_population"],
        8: ["resident_population"],
    }
    assert [b.resource for b in DEFAULT.corrections_on(9)] == ["resident_population"]
    assert [(r.department, r.answered_on) for r in DEFAULT.requests_on(1)] == [("mzj", 6), ("wsjkj", 7)]
    assert [r.department for r in DEFAULT.answers_on(7)] == ["wsjkj"]
    assert [b.resource for b in DEFAULT.bindings_on(6)] == ["hotline_12345"]
