"""The path to the target: the smallest set of gaps whose closing reaches the target, each with the
department that owns it and a due date, and each department's share of that path (pure logic).

Every closed gap adds one aggregated resource, so the smallest set has exactly as many gaps as the
district is short (`resources_needed`). Which ones: the least effort first (a check to run before
a source system to connect), and within the same effort the highest catalogue priority; a gap that
cannot be closed before the target date is taken only when nothing else is left.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from catalog import coverage
from catalog.projection import resources_needed

# Working days to close a gap of each reason, as the platform team estimates them: what the
# provider department (or the platform, for its own steps) typically needs from the request on.
EFFORT_DAYS = {
    coverage.NO_QUALITY_RUN: 1,
    coverage.NO_UPDATE_CYCLE: 2,
    coverage.STALE: 3,
    coverage.NEVER_LANDED: 3,
    coverage.NEVER_PRODUCED: 5,
    coverage.FAILING_RULE: 10,
    coverage.BELOW_THRESHOLD: 10,
    coverage.NO_BINDING: 20,
}
UNKNOWN_EFFORT_DAYS = 20


@dataclass(frozen=True)
class PathStep:
    """One gap on the path: close it by `due` (effort in working days from the report's day)."""

    resource_code: str
    name: str
    department: str
    reason: str
    priority: int
    effort_days: int
    due: date
    before_target: bool


def effort_of(reason: str) -> int:
    code = coverage.FAILING_RULE if reason.startswith(coverage.FAILING_RULE) else reason
    return EFFORT_DAYS.get(code, UNKNOWN_EFFORT_DAYS)


def add_working_days(start: date, days: int) -> date:
    """`days` working days (Monday–Friday) after `start`."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def path_to_target(
    gaps: list[dict],
    priorities: dict[str, int],
    aggregated: int,
    total: int,
    target: float,
    today: date,
    target_date: date,
) -> list[PathStep]:
    """The gaps to close, in the order to close them; empty when the target is already reached."""
    needed = resources_needed(target, total, aggregated)
    steps = []
    for gap in gaps:
        effort = effort_of(gap["reason"])
        due = add_working_days(today, effort)
        steps.append(
            PathStep(
                resource_code=gap["resource_code"],
                name=gap["name"],
                department=gap["department"],
                reason=gap["reason"],
                priority=priorities.get(gap["resource_code"], 0),
                effort_days=effort,
                due=due,
                before_target=due <= target_date,
            )
        )
    steps.sort(key=lambda step: (not step.before_target, step.effort_days, -step.priority, step.resource_code))
    return steps[:needed]


def department_shares(path: list[PathStep]) -> dict[str, dict]:
    """Per department: how many of the path's gaps it owns and their share of the path."""
    counts = Counter(step.department for step in path)
    return {department: {"items": count, "share": count / len(path)} for department, count in counts.items()}
