"""Update timeliness (更新及时率): the source's own clock beside coverage (catalog/timeliness.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from catalog.coverage import DEFAULT_MAX_AGE, CoveragePolicy, ResourceFacts, classify, compute_coverage
from catalog.timeliness import NO_SOURCE_TIME, NO_UPDATE_CYCLE, SOURCE_NOT_UPDATED, TIMELY, Timeliness, judge

UTC = timezone.utc
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
POLICY = CoveragePolicy.default()
SECOND = timedelta(seconds=1)


def facts(code: str = "101001/000001", **overrides) -> ResourceFacts:
    """A mounted, aggregated daily resource whose source changed an hour before it landed."""
    values = dict(
        resource_id=f"r{code[-3:]}",
        code=code,
        name=f"资源 {code}",
        department="区公安分局",
        department_id="gaj",
        domain="population",
        sharing_type="无条件共享",
        priority=3,
        update_cycle="每日",
        bound=True,
        produced_at=AS_OF - timedelta(hours=3),
        last_landing_at=AS_OF - timedelta(hours=2),
        landed_rows=100,
        quality_at=AS_OF - timedelta(hours=1),
        quality_pass_rate=1.0,
        quality_failed_critical=(),
        source_changed_at=AS_OF - timedelta(hours=3),
    )
    values.update(overrides)
    return ResourceFacts(**values)


def timeliness_of(resources: list[ResourceFacts], as_of: datetime = AS_OF) -> dict:
    return compute_coverage(resources, as_of, POLICY, 0.7, date(2026, 12, 31), [])["timeliness"]


@pytest.mark.parametrize("cycle", list(DEFAULT_MAX_AGE))
@pytest.mark.parametrize("grace_hours", [None, 72])
@pytest.mark.parametrize(
    "offset, timely",
    [(-SECOND, True), (timedelta(0), True), (SECOND, False)],
    ids=["just-inside", "exactly-at", "just-outside"],
)
def test_the_source_clock_uses_the_same_window_as_coverage(cycle, grace_hours, offset, timely):
    window = DEFAULT_MAX_AGE[cycle] + timedelta(hours=grace_hours or 0)
    changed = AS_OF - window - offset
    verdict = judge(mounted=True, source_changed_at=changed, window=window, as_of=AS_OF)
    assert verdict == (Timeliness(TIMELY) if timely else Timeliness(SOURCE_NOT_UPDATED, changed + window))
    resource = facts(update_cycle=cycle, grace_hours=grace_hours, source_changed_at=changed, last_landing_at=AS_OF)
    assert timeliness_of([resource])["overall"] == {"timely": int(timely), "total": 1, "ratio": float(timely)}


def test_mounted_and_fresh_but_the_source_did_not_change_is_aggregated_and_late():
    # We polled and landed yesterday's rows today, but the source's newest change is 40 h old.
    resource = facts(last_landing_at=AS_OF - timedelta(minutes=5), source_changed_at=AS_OF - timedelta(hours=40))
    assert classify(resource, AS_OF, POLICY).aggregated
    part = timeliness_of([resource])
    assert part["overall"] == {"timely": 0, "total": 1, "ratio": 0.0}
    assert part["late"] == [
        {
            "resource_code": resource.code,
            "name": resource.name,
            "department": "区公安分局",
            "reason": SOURCE_NOT_UPDATED,
            "source_changed_at": "2026-06-28T20:00:00+00:00",
            "since": "2026-06-30T08:00:00+00:00",
        }
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        dict(bound=False, produced_at=None, last_landing_at=None, landed_rows=0),
        dict(last_landing_at=None, landed_rows=0),
        dict(landed_rows=0),
    ],
    ids=["unbound", "never landed", "no rows"],
)
def test_only_mounted_resources_are_counted(overrides):
    assert timeliness_of([facts(**overrides)])["overall"] == {"timely": 0, "total": 0, "ratio": 0.0}
    assert judge(mounted=False, source_changed_at=AS_OF, window=timedelta(hours=1), as_of=AS_OF) is None


def test_rows_without_a_change_time_and_a_missing_cycle_are_not_timely():
    part = timeliness_of([facts("101001/000001", source_changed_at=None), facts("101001/000002", update_cycle=None)])
    assert part["overall"] == {"timely": 0, "total": 2, "ratio": 0.0}
    assert {row["resource_code"]: row["reason"] for row in part["late"]} == {
        "101001/000001": NO_SOURCE_TIME,
        "101001/000002": NO_UPDATE_CYCLE,
    }


def test_a_source_time_after_as_of_counts_as_timely():
    assert judge(
        mounted=True, source_changed_at=AS_OF + timedelta(days=1), window=timedelta(hours=1), as_of=AS_OF
    ).timely


def test_by_department_furthest_behind_first_and_late_by_priority():
    stale_source = AS_OF - timedelta(days=3)
    resources = [
        facts("101001/000001", department="区公安分局"),
        facts("101001/000002", department="区公安分局", source_changed_at=stale_source, priority=2),
        facts("102001/000003", department="区市场监督管理局", source_changed_at=stale_source, priority=5),
        facts("102001/000004", department="区市场监督管理局", source_changed_at=stale_source, priority=1),
        facts("203001/000005", department="供电局"),
        facts("203001/000006", department="供电局", bound=False, last_landing_at=None, landed_rows=0),
    ]
    part = timeliness_of(resources)
    assert part["overall"] == {"timely": 2, "total": 5, "ratio": 0.4}
    assert part["by_department"] == [
        {"department": "区市场监督管理局", "timely": 0, "total": 2, "ratio": 0.0},
        {"department": "区公安分局", "timely": 1, "total": 2, "ratio": 0.5},
        {"department": "供电局", "timely": 1, "total": 1, "ratio": 1.0},
    ]
    assert [row["resource_code"] for row in part["late"]] == ["102001/000003", "101001/000002", "102001/000004"]


def test_timeliness_never_changes_coverage():
    resources = [facts("101001/000001"), facts("101001/000002", source_changed_at=None)]
    document = compute_coverage(resources, AS_OF, POLICY, 0.7, date(2026, 12, 31), [])
    assert document["overall"] == {"aggregated": 2, "total": 2, "ratio": 1.0}
    assert document["timeliness"]["overall"] == {"timely": 1, "total": 2, "ratio": 0.5}
