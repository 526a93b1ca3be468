"""The coverage engine: which catalogue resources count as aggregated, and the coverage document.

Pure logic: no database, no Kafka, no clock (`as_of` is passed in). The store builds one
`ResourceFacts` per catalogue resource from its evidence rows; `compute_coverage` turns them
into the JSON document the API, the UI and the leadership report show.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Iterable, Mapping

from catalog.projection import (
    SnapshotPoint,
    daily_points,
    projection,
    ratio_of,
    trend_item,
)

__all__ = [
    "AGGREGATED", "DEFAULT_MAX_AGE", "DEFINITION_VERSION", "REASONS", "CoveragePolicy",
    "ResourceFacts", "SnapshotPoint", "Status", "classify", "compute_coverage", "projection",
    "snapshot_point",
]

DEFINITION_VERSION = "2026.1"  # bump when the definition of "aggregated" changes

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
    NO_BINDING, NEVER_PRODUCED, NEVER_LANDED, NO_UPDATE_CYCLE, STALE,
    FAILING_RULE, BELOW_THRESHOLD, NO_QUALITY_RUN,
)

# The longest a last successful landing may age and still count as fresh, per update cycle:
# one cycle plus a margin for a late run (≈ working values; a policy may replace them).
DEFAULT_MAX_AGE: Mapping[str, timedelta] = MappingProxyType({
    "实时": timedelta(hours=1),
    "每日": timedelta(hours=36),
    "每周": timedelta(days=8),
    "每月": timedelta(days=35),
    "每季度": timedelta(days=100),
    "半年": timedelta(days=190),
    "每年": timedelta(days=380),
})
DEFAULT_QUALITY_THRESHOLD = 0.95


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


@dataclass(frozen=True)
class CoveragePolicy:
    """Freshness limits per update cycle and the default quality threshold."""

    max_age: Mapping[str, timedelta]
    quality_threshold: float = DEFAULT_QUALITY_THRESHOLD

    def __post_init__(self) -> None:
        if not 0.0 <= self.quality_threshold <= 1.0:
            raise ValueError(
                f"quality_threshold {self.quality_threshold!r} is not a share of rows: use 0..1"
            )
        negative = sorted(cycle for cycle, age in self.max_age.items() if age < timedelta(0))
        if negative:
            raise ValueError(f"max_age for {negative} is negative: give each cycle an age >= 0")

    @classmethod
    def default(cls) -> CoveragePolicy:
        return cls(max_age=dict(DEFAULT_MAX_AGE), quality_threshold=DEFAULT_QUALITY_THRESHOLD)

    def max_age_for(self, cycle: str | None, grace_hours: float | None = None) -> timedelta | None:
        """The allowed age of the last landing; None when the cycle is missing or unknown.

        A per-resource `grace_hours` replaces the cycle's default age. It does not rescue a
        resource without a known cycle: that is a catalogue defect to fix in the entry.
        """
        if cycle is None or cycle not in self.max_age:
            return None
        # The API refuses absurd graces; one stored before (NaN, negative, 1e300) must not take coverage
        # down with an overflow: the cycle's default applies instead.
        if grace_hours is not None and 0 <= grace_hours < 1e9:
            return timedelta(hours=grace_hours)
        return self.max_age[cycle]


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
    # A successful landing that brought no rows leaves nothing in the warehouse to count.
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
    threshold = (
        facts.quality_threshold if facts.quality_threshold is not None else policy.quality_threshold
    )
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


def _tally_all(facts: Iterable[ResourceFacts], as_of: datetime, policy: CoveragePolicy) -> _Totals:
    """One pass over the resources: classify each once and add it to every grouping."""
    totals = _Totals(_Tally(), defaultdict(_Tally), defaultdict(_Tally), defaultdict(_Tally), 0, 0, [])
    for resource in facts:
        status = classify(resource, as_of, policy)
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
