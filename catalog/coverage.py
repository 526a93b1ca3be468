"""The coverage engine: which catalogue resources count as aggregated, and the coverage document.

Pure logic: no database, no Kafka, no clock (`as_of` is passed in). The store builds one
`ResourceFacts` per catalogue resource from its evidence rows; `compute_coverage` turns them
into the JSON document the API, the UI and the leadership report show.

Two clocks per resource: the last successful landing with rows (the data is mounted, 挂接) decides
"aggregated"; the newest change time of the source data (更新及时) is reported beside it as update
timeliness (catalog/timeliness.py). Both are judged against the same window: the cycle's default
window plus the resource's stated grace.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Iterable, Mapping

from catalog import timeliness
from catalog.projection import (
    SnapshotPoint,
    daily_points,
    projection,
    ratio_of,
    trend_item,
)

__all__ = [
    "AGGREGATED",
    "DEFAULT_MAX_AGE",
    "DEFINITION_VERSION",
    "MAX_GRACE_HOURS",
    "REASONS",
    "CoveragePolicy",
    "ResourceFacts",
    "SnapshotPoint",
    "Status",
    "classify",
    "compute_coverage",
    "grace_problem",
    "projection",
    "snapshot_point",
    "usable_grace",
]

# Bump when the definition of "aggregated" changes; snapshots keep the version they were taken under.
# 2026.2: the window is the cycle's window plus the grace (was: the grace instead of it); a landing
# with 0 rows no longer resets the freshness clock; update timeliness reported beside coverage.
DEFINITION_VERSION = "2026.2"

AGGREGATED = "aggregated"
NO_BINDING = "no binding"
NEVER_PRODUCED = "never produced"
NEVER_LANDED = "never landed"
NO_UPDATE_CYCLE = "no update cycle"
STALE = "stale"
FAILING_RULE = "failing rule"  # the reason reads "failing rule <name>"
BELOW_THRESHOLD = "below quality threshold"
NO_QUALITY_RUN = "no quality run"
# The gap reasons in the order they are tested: a resource gets the first that applies.
REASONS = (
    NO_BINDING,
    NEVER_PRODUCED,
    NEVER_LANDED,
    NO_UPDATE_CYCLE,
    STALE,
    FAILING_RULE,
    BELOW_THRESHOLD,
    NO_QUALITY_RUN,
)

# The longest a last successful landing may age and still count as fresh, per update cycle:
# one cycle plus a margin for a late run (≈ working values; a policy may replace them).
DEFAULT_MAX_AGE: Mapping[str, timedelta] = MappingProxyType(
    {
        "实时": timedelta(hours=1),
        "每日": timedelta(hours=36),
        "每周": timedelta(days=8),
        "每月": timedelta(days=35),
        "每季度": timedelta(days=100),
        "半年": timedelta(days=190),
        "每年": timedelta(days=380),
    }
)
DEFAULT_QUALITY_THRESHOLD = 0.95
# A grace beyond a leap year is a typo (hours for minutes, an extra zero), not a policy.
MAX_GRACE_HOURS = 366 * 24


def grace_problem(grace_hours: object) -> str | None:
    """Why a stated freshness_grace_hours cannot be applied as it stands; None when it can (or is unset)."""
    if grace_hours is None:
        return None
    if isinstance(grace_hours, bool) or not isinstance(grace_hours, (int, float)):
        return f"freshness_grace_hours {grace_hours!r} is not a number of hours"
    if isinstance(grace_hours, float) and not math.isfinite(grace_hours):  # an int is finite at any size
        return f"freshness_grace_hours {grace_hours!r} is not a finite number of hours"
    if grace_hours < 0:
        return f"freshness_grace_hours {grace_hours!r} is negative: give 0 or more hours"
    if grace_hours > MAX_GRACE_HOURS:
        return f"freshness_grace_hours {grace_hours!r} is over a year ({MAX_GRACE_HOURS} h): state hours, not minutes"
    return None


def usable_grace(grace_hours: object) -> timedelta:
    """The grace the engine applies. A stored bad value (lint rejects it, an old row may hold it) is
    clamped into 0..MAX_GRACE_HOURS (not a number: none), so one entry cannot overflow every reader."""
    if grace_hours is None or isinstance(grace_hours, bool) or not isinstance(grace_hours, (int, float)):
        return timedelta(0)
    if isinstance(grace_hours, float) and math.isnan(grace_hours):
        return timedelta(0)
    # Clamped before float(): an int beyond a float's range must not raise either.
    return timedelta(hours=float(min(max(grace_hours, 0), MAX_GRACE_HOURS)))


@dataclass(frozen=True)
class ResourceFacts:
    """Everything the definition of "aggregated" needs about one catalogue resource."""

    resource_id: str
    code: str
    name: str
    department: str
    department_id: str
    domain: str
    sharing_type: str
    priority: int
    update_cycle: str | None
    bound: bool
    produced_at: datetime | None
    last_landing_at: datetime | None
    landed_rows: int
    quality_at: datetime | None
    quality_pass_rate: float | None
    quality_failed_critical: tuple[str, ...]
    grace_hours: float | None = None
    quality_threshold: float | None = None
    # The newest change time of the source data among the landings with rows (its own event time).
    source_changed_at: datetime | None = None


@dataclass(frozen=True)
class CoveragePolicy:
    """Freshness windows per update cycle and the default quality threshold."""

    max_age: Mapping[str, timedelta]
    quality_threshold: float = DEFAULT_QUALITY_THRESHOLD

    def __post_init__(self) -> None:
        if not 0.0 <= self.quality_threshold <= 1.0:
            raise ValueError(f"quality_threshold {self.quality_threshold!r} is not a share of rows: use 0..1")
        negative = sorted(cycle for cycle, age in self.max_age.items() if age < timedelta(0))
        if negative:
            raise ValueError(f"max_age for {negative} is negative: give each cycle an age >= 0")

    @classmethod
    def default(cls) -> CoveragePolicy:
        return cls(max_age=dict(DEFAULT_MAX_AGE), quality_threshold=DEFAULT_QUALITY_THRESHOLD)

    def max_age_for(self, cycle: str | None, grace_hours: float | None = None) -> timedelta | None:
        """The window: the cycle's default window plus the resource's grace; None when the cycle is
        missing or unknown (a grace does not rescue that: it is a catalogue defect to fix in the entry)."""
        if cycle is None or cycle not in self.max_age:
            return None
        return self.max_age[cycle] + usable_grace(grace_hours)


@dataclass(frozen=True)
class Status:
    """`status` is "aggregated" or the gap reason; `since` is when that gap began, if known."""

    status: str
    since: datetime | None = None

    @property
    def aggregated(self) -> bool:
        return self.status == AGGREGATED


def classify(facts: ResourceFacts, as_of: datetime, policy: CoveragePolicy) -> Status:
    """The status of one resource at `as_of`: the first gap reason that applies, else aggregated."""
    if not facts.bound:
        return Status(NO_BINDING)
    if facts.produced_at is None:
        return Status(NEVER_PRODUCED)
    # last_landing_at is the last landing WITH rows: one that brought none shows that we polled,
    # not that data arrived, and leaves nothing in the warehouse to count.
    if facts.last_landing_at is None or facts.landed_rows <= 0:
        return Status(NEVER_LANDED)
    max_age = policy.max_age_for(facts.update_cycle, facts.grace_hours)
    if max_age is None:
        # Without a cycle nothing says how old is too old: treated as never fresh.
        return Status(NO_UPDATE_CYCLE, facts.last_landing_at)
    if as_of - facts.last_landing_at > max_age:  # exactly at the limit still counts as fresh
        return Status(STALE, facts.last_landing_at + max_age)
    return _quality_status(facts, policy)


def _quality_status(facts: ResourceFacts, policy: CoveragePolicy) -> Status:
    if facts.quality_at is None:
        return Status(NO_QUALITY_RUN)
    if facts.quality_failed_critical:
        # Sorted so that the reason does not depend on the order the store read the rules in.
        return Status(f"{FAILING_RULE} {min(facts.quality_failed_critical)}", facts.quality_at)
    threshold = facts.quality_threshold if facts.quality_threshold is not None else policy.quality_threshold
    # A run that reported no pass rate did not show that the threshold was met.
    if facts.quality_pass_rate is None or facts.quality_pass_rate < threshold:
        return Status(BELOW_THRESHOLD, facts.quality_at)
    return Status(AGGREGATED)


class _Tally:
    """Aggregated / total counts of one group (a department, a domain, a sharing type)."""

    __slots__ = ("aggregated", "total")

    def __init__(self) -> None:
        self.aggregated = 0
        self.total = 0

    def add(self, aggregated: bool) -> None:
        self.total += 1
        if aggregated:
            self.aggregated += 1


@dataclass
class _Totals:
    overall: _Tally
    by_department: dict[str, _Tally]
    by_domain: dict[str, _Tally]
    by_sharing_type: dict[str, _Tally]
    aggregated_weight: int
    total_weight: int
    gaps: list[tuple[ResourceFacts, Status]]
    timeliness: list[timeliness.Judged]
    problems: list[dict]


def _tally_all(facts: Iterable[ResourceFacts], as_of: datetime, policy: CoveragePolicy) -> _Totals:
    """One pass over the resources: classify each once and add it to every grouping."""
    totals = _Totals(_Tally(), defaultdict(_Tally), defaultdict(_Tally), defaultdict(_Tally), 0, 0, [], [], [])
    for resource in facts:
        status = classify(resource, as_of, policy)
        _judge_timeliness(resource, as_of, policy, totals.timeliness)
        problem = grace_problem(resource.grace_hours)
        if problem:
            totals.problems.append(_problem(resource, problem))
        is_aggregated = status.aggregated
        totals.overall.add(is_aggregated)
        totals.by_department[resource.department].add(is_aggregated)
        totals.by_domain[resource.domain].add(is_aggregated)
        totals.by_sharing_type[resource.sharing_type].add(is_aggregated)
        totals.total_weight += resource.priority
        if is_aggregated:
            totals.aggregated_weight += resource.priority
        else:
            totals.gaps.append((resource, status))
    return totals


def _judge_timeliness(
    resource: ResourceFacts, as_of: datetime, policy: CoveragePolicy, judged: list[timeliness.Judged]
) -> None:
    mounted = resource.last_landing_at is not None and resource.landed_rows > 0
    verdict = timeliness.judge(
        mounted=mounted,
        source_changed_at=resource.source_changed_at,
        as_of=as_of,
        window=policy.max_age_for(resource.update_cycle, resource.grace_hours),
    )
    if verdict is not None:
        judged.append(
            timeliness.Judged(
                resource.code,
                resource.name,
                resource.department,
                resource.priority,
                resource.source_changed_at,
                verdict,
            )
        )


def _problem(resource: ResourceFacts, problem: str) -> dict:
    """A stored value the engine could not use as it stands, and what it applied instead."""
    return {
        "resource_code": resource.code,
        "name": resource.name,
        "department": resource.department,
        "field": "freshness_grace_hours",
        "value": str(resource.grace_hours),
        "problem": problem,
        "applied_grace_hours": usable_grace(resource.grace_hours).total_seconds() / 3600,
    }


def _counts(tally: _Tally) -> dict:
    return {
        "aggregated": tally.aggregated,
        "total": tally.total,
        "ratio": ratio_of(tally.aggregated, tally.total),
    }


def _grouped(key: str, tallies: dict[str, _Tally]) -> list[dict]:
    """One row per group, lowest ratio first (who is behind), then by name."""
    rows = [{key: name, **_counts(tally)} for name, tally in tallies.items()]
    rows.sort(key=lambda row: (row["ratio"], row[key]))
    return rows


def _iso(moment: datetime | None) -> str | None:
    # Kept in the zone it came in (UTC from the store) so that as_of's date stays "today".
    return moment.isoformat() if moment is not None else None


def _gap_list(gaps: list[tuple[ResourceFacts, Status]]) -> list[dict]:
    """Highest priority first, then by department and resource code."""
    ordered = sorted(gaps, key=lambda gap: (-gap[0].priority, gap[0].department, gap[0].code))
    return [
        {
            "resource_code": resource.code,
            "name": resource.name,
            "department": resource.department,
            "reason": status.status,
            "since": _iso(status.since),
        }
        for resource, status in ordered
    ]


def compute_coverage(
    facts: list[ResourceFacts],
    as_of: datetime,
    policy: CoveragePolicy,
    target: float,
    target_date: date,
    history: list[SnapshotPoint],
) -> dict:
    """The coverage document at `as_of` (tz-aware); today is `as_of`'s calendar date."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware: pass e.g. datetime.now(timezone.utc)")
    totals = _tally_all(facts, as_of, policy)
    today_point = SnapshotPoint(
        date=as_of.date(),
        aggregated=totals.overall.aggregated,
        total=totals.overall.total,
        ratio=ratio_of(totals.overall.aggregated, totals.overall.total),
        weighted_ratio=ratio_of(totals.aggregated_weight, totals.total_weight),
        definition_version=DEFINITION_VERSION,
    )
    trend = daily_points(history, today_point.date) + [today_point]
    return {
        "target": float(target),
        "as_of": _iso(as_of),
        "definition_version": DEFINITION_VERSION,
        "overall": _counts(totals.overall),
        "by_department": _grouped("department", totals.by_department),
        "by_domain": _grouped("domain", totals.by_domain),
        "by_sharing_type": _grouped("sharing_type", totals.by_sharing_type),
        "weighted": {
            "aggregated_weight": totals.aggregated_weight,
            "total_weight": totals.total_weight,
            "ratio": today_point.weighted_ratio,
        },
        "gaps": _gap_list(totals.gaps),
        "trend": [trend_item(point) for point in trend],
        "projection": projection(history, today_point, target, target_date),
        "timeliness": timeliness.document(totals.timeliness, _iso),
        "problems": sorted(totals.problems, key=lambda row: row["resource_code"]),
    }


def snapshot_point(document: dict) -> SnapshotPoint:
    """Today's point of a coverage document, as the store persists it for tomorrow's trend."""
    overall = document["overall"]
    return SnapshotPoint(
        date=date.fromisoformat(document["trend"][-1]["date"]),
        aggregated=overall["aggregated"],
        total=overall["total"],
        ratio=overall["ratio"],
        weighted_ratio=document["weighted"]["ratio"],
        definition_version=document["definition_version"],
    )
