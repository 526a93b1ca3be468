"""The definition of "aggregated" and the coverage document (catalog/coverage.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from catalog.coverage import (
    DEFAULT_MAX_AGE,
    DEFINITION_VERSION,
    REASONS,
    CoveragePolicy,
    ResourceFacts,
    SnapshotPoint,
    Status,
    classify,
    compute_coverage,
    grace_problem,
    snapshot_point,
    usable_grace,
)

UTC = timezone.utc
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
TARGET_DATE = date(2026, 12, 31)
POLICY = CoveragePolicy.default()
SECOND = timedelta(seconds=1)
CYCLES = ("实时", "每日", "每周", "每月", "每季度", "半年", "每年")


def make_facts(**overrides) -> ResourceFacts:
    """A resource that meets every condition of "aggregated" at AS_OF, unless overridden."""
    values = dict(
        resource_id="gaj_hjrk",
        code="101001/000001",
        name="户籍人口基本信息",
        department="区公安分局",
        department_id="gaj",
        domain="population",
        sharing_type="有条件共享",
        priority=3,
        update_cycle="每日",
        bound=True,
        produced_at=AS_OF - timedelta(hours=3),
        last_landing_at=AS_OF - timedelta(hours=2),
        landed_rows=1200,
        quality_at=AS_OF - timedelta(hours=1),
        quality_pass_rate=0.99,
        quality_failed_critical=(),
    )
    values.update(overrides)
    return ResourceFacts(**values)


def coverage(facts: list[ResourceFacts], history: list[SnapshotPoint] | None = None, **kwargs) -> dict:
    return compute_coverage(
        facts,
        kwargs.get("as_of", AS_OF),
        kwargs.get("policy", POLICY),
        kwargs.get("target", 0.7),
        kwargs.get("target_date", TARGET_DATE),
        history or [],
    )


# --- classify: the reasons, in order -------------------------------------------------------------


def test_a_fully_evidenced_resource_is_aggregated():
    status = classify(make_facts(), AS_OF, POLICY)
    assert status == Status("aggregated", None)
    assert status.aggregated


# Start from a resource that fails every condition and repair them one by one: each step must
# reveal the next reason in the documented order, and the last step leaves it aggregated.
BROKEN = dict(
    bound=False,
    produced_at=None,
    last_landing_at=None,
    landed_rows=0,
    update_cycle=None,
    quality_failed_critical=("resident_id",),
    quality_pass_rate=0.5,
)
REPAIRS = [
    ("no binding", dict(bound=True)),
    ("never produced", dict(produced_at=AS_OF - timedelta(days=10))),
    ("never landed", dict(last_landing_at=AS_OF - timedelta(days=9), landed_rows=10)),
    ("no update cycle", dict(update_cycle="每日")),
    ("stale", dict(last_landing_at=AS_OF - timedelta(hours=2))),
    ("failing rule resident_id", dict(quality_failed_critical=())),
    ("below quality threshold", dict(quality_pass_rate=0.96)),
    ("aggregated", {}),
]


@pytest.mark.parametrize("step", range(len(REPAIRS)), ids=[reason for reason, _ in REPAIRS])
def test_reasons_are_tested_in_order(step):
    values = dict(BROKEN)
    for _, repair in REPAIRS[:step]:
        values.update(repair)
    assert classify(make_facts(**values), AS_OF, POLICY).status == REPAIRS[step][0]


@pytest.mark.parametrize(
    "overrides, reason, since",
    [
        (dict(bound=False), "no binding", None),
        (dict(produced_at=None), "never produced", None),
        (dict(last_landing_at=None), "never landed", None),
        (dict(landed_rows=0), "never landed", None),
        (dict(update_cycle=None), "no update cycle", AS_OF - timedelta(hours=2)),
        (dict(last_landing_at=AS_OF - timedelta(hours=40)), "stale", AS_OF - timedelta(hours=4)),
        (dict(quality_failed_critical=("uscc",)), "failing rule uscc", AS_OF - timedelta(hours=1)),
        (dict(quality_pass_rate=0.5), "below quality threshold", AS_OF - timedelta(hours=1)),
        (dict(quality_pass_rate=None), "below quality threshold", AS_OF - timedelta(hours=1)),
        (dict(quality_at=None, quality_pass_rate=None), "no quality run", None),
    ],
)
def test_each_gap_alone_gives_its_reason_and_since(overrides, reason, since):
    assert classify(make_facts(**overrides), AS_OF, POLICY) == Status(reason, since)


def test_reasons_constant_lists_every_reason_in_order():
    assert REASONS == (
        "no binding",
        "never produced",
        "never landed",
        "no update cycle",
        "stale",
        "failing rule",
        "below quality threshold",
        "no quality run",
    )


def test_failing_rule_names_the_first_rule_alphabetically():
    facts = make_facts(quality_failed_critical=("uscc", "not_future_date", "resident_id"))
    assert classify(facts, AS_OF, POLICY).status == "failing rule not_future_date"


def test_a_critical_failure_outranks_a_good_pass_rate():
    facts = make_facts(quality_failed_critical=("lon",), quality_pass_rate=1.0)
    assert classify(facts, AS_OF, POLICY).status == "failing rule lon"


# --- freshness -----------------------------------------------------------------------------------


def test_default_max_ages_are_the_documented_ones():
    assert dict(DEFAULT_MAX_AGE) == {
        "实时": timedelta(hours=1),
        "每日": timedelta(hours=36),
        "每周": timedelta(days=8),
        "每月": timedelta(days=35),
        "每季度": timedelta(days=100),
        "半年": timedelta(days=190),
        "每年": timedelta(days=380),
    }
    assert set(CYCLES) == set(DEFAULT_MAX_AGE)


@pytest.mark.parametrize("cycle", CYCLES)
@pytest.mark.parametrize(
    "offset, expected",
    [(-SECOND, "aggregated"), (timedelta(0), "aggregated"), (SECOND, "stale")],
    ids=["just-inside", "exactly-at", "just-outside"],
)
def test_freshness_boundary_for_every_cycle(cycle, offset, expected):
    max_age = DEFAULT_MAX_AGE[cycle]
    landing = AS_OF - max_age - offset
    facts = make_facts(update_cycle=cycle, produced_at=landing, last_landing_at=landing, quality_at=landing)
    status = classify(facts, AS_OF, POLICY)
    assert status.status == expected
    assert status.since == (landing + max_age if expected == "stale" else None)


GRACES = (None, 0, 12, 72, 0.5)


@pytest.mark.parametrize("cycle", CYCLES)
@pytest.mark.parametrize("grace_hours", GRACES)
@pytest.mark.parametrize(
    "offset, expected",
    [(-SECOND, "aggregated"), (timedelta(0), "aggregated"), (SECOND, "stale")],
    ids=["just-inside", "exactly-at", "just-outside"],
)
def test_the_window_is_the_cycle_window_plus_the_grace(cycle, grace_hours, offset, expected):
    window = DEFAULT_MAX_AGE[cycle] + timedelta(hours=grace_hours or 0)
    landing = AS_OF - window - offset
    facts = make_facts(
        update_cycle=cycle, grace_hours=grace_hours, produced_at=landing, last_landing_at=landing, quality_at=landing
    )
    assert POLICY.max_age_for(cycle, grace_hours) == window
    status = classify(facts, AS_OF, POLICY)
    assert status.status == expected
    assert status.since == (landing + window if expected == "stale" else None)


@pytest.mark.parametrize("days_later", [3, 20, 35, 38])
def test_a_monthly_resource_with_72_hours_grace_stays_fresh_through_its_month(days_later):
    # gas_readings / water_readings: 每月 + 72 h. Counted stale after 3 days while the grace replaced the window.
    landing = AS_OF - timedelta(days=days_later)
    facts = make_facts(
        update_cycle="每月", grace_hours=72, produced_at=landing, last_landing_at=landing, quality_at=landing
    )
    assert classify(facts, AS_OF, POLICY).aggregated
    assert classify(facts, AS_OF + SECOND, POLICY).aggregated == (days_later < 38)


def test_a_daily_resource_with_12_hours_grace_gets_48_hours():
    assert POLICY.max_age_for("每日", 12) == timedelta(hours=48)


@pytest.mark.parametrize(
    "stored, applied_hours",
    [
        (-5, 0),
        (float("nan"), 0),
        (float("inf"), 8784),
        (float("-inf"), 0),
        (1e300, 8784),
        (10**400, 8784),
        (8785, 8784),
        ("72", 0),
        (True, 0),
    ],
    ids=["negative", "nan", "inf", "-inf", "1e300", "huge-int", "over-a-year", "text", "bool"],
)
def test_a_stored_absurd_grace_is_clamped_and_reported_not_raised(stored, applied_hours):
    assert grace_problem(stored)
    assert usable_grace(stored) == timedelta(hours=applied_hours)
    landing = AS_OF - timedelta(days=2)
    bad = make_facts(code="101001/000009", update_cycle="每日", grace_hours=stored, last_landing_at=landing)
    doc = coverage([make_facts(), bad])  # one bad entry does not take the document down
    assert doc["overall"]["total"] == 2
    assert doc["problems"] == [
        {
            "resource_code": "101001/000009",
            "name": bad.name,
            "department": bad.department,
            "field": "freshness_grace_hours",
            "value": str(stored),
            "problem": grace_problem(stored),
            "applied_grace_hours": float(applied_hours),
        }
    ]
    assert classify(bad, AS_OF, POLICY).aggregated == (applied_hours > 12)


@pytest.mark.parametrize("good", [None, 0, 0.25, 72, 8784])
def test_a_sane_grace_is_no_problem(good):
    assert grace_problem(good) is None
    assert coverage([make_facts(grace_hours=good)])["problems"] == []


@pytest.mark.parametrize("cycle", [None, "每两天", "daily", ""])
def test_a_missing_or_unknown_cycle_is_never_fresh(cycle):
    facts = make_facts(update_cycle=cycle, last_landing_at=AS_OF)
    assert classify(facts, AS_OF, POLICY) == Status("no update cycle", AS_OF)


def test_a_grace_does_not_rescue_an_unknown_cycle():
    facts = make_facts(update_cycle=None, grace_hours=1000)
    assert classify(facts, AS_OF, POLICY).status == "no update cycle"


def test_a_policy_can_add_and_change_cycles():
    policy = CoveragePolicy({"每两天": timedelta(hours=60), "每日": timedelta(hours=1)})
    assert classify(make_facts(update_cycle="每两天"), AS_OF, policy).aggregated
    assert classify(make_facts(update_cycle="每日"), AS_OF, policy).status == "stale"
    assert policy.max_age_for("每两天") == timedelta(hours=60)
    assert policy.max_age_for("每两天", grace_hours=5) == timedelta(hours=65)
    assert policy.max_age_for("每周") is None


# --- leaving "aggregated" and coming back ----------------------------------------------------------


def test_a_stale_resource_returns_when_a_fresh_landing_arrives():
    facts = make_facts()
    later = AS_OF + timedelta(days=3)
    assert classify(facts, AS_OF, POLICY).aggregated
    assert classify(facts, later, POLICY) == Status("stale", facts.last_landing_at + timedelta(hours=36))
    relanded = replace(facts, last_landing_at=later - timedelta(minutes=5), landed_rows=1300)
    assert classify(relanded, later, POLICY).aggregated


@pytest.mark.parametrize(
    "failing, expected",
    [
        (dict(quality_failed_critical=("resident_id",)), "failing rule resident_id"),
        (dict(quality_pass_rate=0.7), "below quality threshold"),
    ],
)
def test_a_failing_resource_returns_when_a_passing_run_arrives(failing, expected):
    run_at = AS_OF - timedelta(hours=1)
    failed = make_facts(quality_at=run_at, **failing)
    assert classify(failed, AS_OF, POLICY) == Status(expected, run_at)
    passed = replace(failed, quality_at=AS_OF, quality_pass_rate=0.999, quality_failed_critical=())
    assert classify(passed, AS_OF, POLICY).aggregated


# --- quality threshold -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pass_rate, override, expected",
    [
        (0.95, None, "aggregated"),  # exactly the default threshold passes
        (0.9499, None, "below quality threshold"),
        (1.0, None, "aggregated"),
        (0.98, 0.99, "below quality threshold"),
        (0.99, 0.99, "aggregated"),
        (0.85, 0.8, "aggregated"),  # a lower per-resource threshold
        (0.79, 0.8, "below quality threshold"),
        (0.0, 0.0, "aggregated"),
    ],
)
def test_quality_threshold_default_and_override(pass_rate, override, expected):
    facts = make_facts(quality_pass_rate=pass_rate, quality_threshold=override)
    assert classify(facts, AS_OF, POLICY).status == expected


def test_the_policy_threshold_applies_when_a_resource_has_none():
    strict = CoveragePolicy(dict(DEFAULT_MAX_AGE), quality_threshold=0.999)
    assert classify(make_facts(quality_pass_rate=0.99), AS_OF, strict).status == "below quality threshold"


@pytest.mark.parametrize(
    "kwargs",
    [dict(quality_threshold=1.5), dict(quality_threshold=-0.1), dict(max_age={"每日": -SECOND})],
)
def test_a_policy_rejects_impossible_values(kwargs):
    values = {"max_age": dict(DEFAULT_MAX_AGE), **kwargs}
    with pytest.raises(ValueError):
        CoveragePolicy(**values)


# --- the coverage document -------------------------------------------------------------------------

COUNTS = {"aggregated": int, "total": int, "ratio": float}


def _assert_shape(row: dict, shape: dict) -> None:
    assert set(row) == set(shape)
    for key, kind in shape.items():
        assert isinstance(row[key], kind), (key, row[key])


def test_document_has_exactly_the_contract_keys_and_types():
    history = [SnapshotPoint(AS_OF.date() - timedelta(days=d), 1, 2, 0.5, 0.5, DEFINITION_VERSION) for d in (3, 2, 1)]
    facts = [
        make_facts(source_changed_at=AS_OF - timedelta(hours=3)),
        make_facts(code="101001/000002", bound=False),
        make_facts(code="101001/000003", source_changed_at=AS_OF - timedelta(days=9), grace_hours=-1),
    ]
    doc = coverage(facts, history)
    # README's keys exactly as documented, plus the additions of definition 2026.2 (timeliness, problems).
    assert set(doc) == {
        "target",
        "as_of",
        "definition_version",
        "overall",
        "by_department",
        "by_domain",
        "by_sharing_type",
        "weighted",
        "gaps",
        "trend",
        "projection",
        "timeliness",
        "problems",
    }
    assert doc["target"] == 0.7 and isinstance(doc["target"], float)
    assert doc["as_of"] == "2026-06-30T12:00:00+00:00"
    assert doc["definition_version"] == DEFINITION_VERSION
    _assert_shape(doc["overall"], COUNTS)
    for key in ("department", "domain", "sharing_type"):
        for row in doc[f"by_{key}"]:
            _assert_shape(row, {key: str, **COUNTS})
    _assert_shape(doc["weighted"], {"aggregated_weight": int, "total_weight": int, "ratio": float})
    for gap in doc["gaps"]:
        _assert_shape(
            gap, {"resource_code": str, "name": str, "department": str, "reason": str, "since": (str, type(None))}
        )
    for point in doc["trend"]:
        _assert_shape(point, {"date": str, **COUNTS, "definition_version": str})
    _assert_shape(
        doc["projection"],
        {"target_date": str, "projected_ratio": float, "on_track": bool, "resources_needed": int, "method": str},
    )
    timely_counts = {"timely": int, "total": int, "ratio": float}
    assert set(doc["timeliness"]) == {"overall", "by_department", "late"}
    _assert_shape(doc["timeliness"]["overall"], timely_counts)
    for row in doc["timeliness"]["by_department"]:
        _assert_shape(row, {"department": str, **timely_counts})
    assert doc["timeliness"]["late"]
    for row in doc["timeliness"]["late"]:
        _assert_shape(
            row,
            {
                "resource_code": str,
                "name": str,
                "department": str,
                "reason": str,
                "source_changed_at": (str, type(None)),
                "since": (str, type(None)),
            },
        )
    assert doc["problems"]
    for row in doc["problems"]:
        _assert_shape(
            row,
            {
                "resource_code": str,
                "name": str,
                "department": str,
                "field": str,
                "value": str,
                "problem": str,
                "applied_grace_hours": float,
            },
        )
    assert json.loads(json.dumps(doc, ensure_ascii=False)) == doc


def test_overall_counts_and_ratio_rounding():
    facts = [make_facts(code=f"101001/{n:06d}") for n in range(2)] + [make_facts(bound=False)]
    doc = coverage(facts)
    assert doc["overall"] == {"aggregated": 2, "total": 3, "ratio": 0.6667}


def test_an_empty_catalogue_gives_zero_ratios():
    doc = coverage([])
    assert doc["overall"] == {"aggregated": 0, "total": 0, "ratio": 0.0}
    assert doc["weighted"] == {"aggregated_weight": 0, "total_weight": 0, "ratio": 0.0}
    assert doc["by_department"] == doc["by_domain"] == doc["by_sharing_type"] == doc["gaps"] == []
    assert doc["trend"] == [
        {"date": "2026-06-30", "ratio": 0.0, "aggregated": 0, "total": 0, "definition_version": DEFINITION_VERSION}
    ]
    assert doc["timeliness"] == {"overall": {"timely": 0, "total": 0, "ratio": 0.0}, "by_department": [], "late": []}
    assert doc["problems"] == []
    assert doc["projection"]["resources_needed"] == 0


def test_weighted_and_unweighted_differ_by_priority():
    facts = [
        make_facts(code="1", priority=5),
        make_facts(code="2", priority=1, bound=False),
        make_facts(code="3", priority=1, bound=False),
        make_facts(code="4", priority=1, bound=False),
    ]
    doc = coverage(facts)
    assert doc["overall"] == {"aggregated": 1, "total": 4, "ratio": 0.25}
    assert doc["weighted"] == {"aggregated_weight": 5, "total_weight": 8, "ratio": 0.625}


def _mixed_catalogue() -> list[ResourceFacts]:
    departments = [("区公安分局", "gaj"), ("区市场监督管理局", "scjgj"), ("供电局", "gdj")]
    domains = ["population", "legal_entity", "utility", "gis"]
    sharing = ["有条件共享", "无条件共享", "不予共享"]
    facts = []
    for n in range(60):
        department, department_id = departments[n % 3]
        facts.append(
            make_facts(
                code=f"{n % 3 + 1}01001/{n:06d}",
                department=department,
                department_id=department_id,
                domain=domains[n % 4],
                sharing_type=sharing[n % 5 % 3],
                priority=n % 5 + 1,
                bound=n % 7 != 0,
                quality_pass_rate=0.5 if n % 4 == 1 else 0.99,
            )
        )
    return facts


@pytest.mark.parametrize("grouping", ["by_department", "by_domain", "by_sharing_type"])
def test_groupings_sum_to_overall_and_are_sorted(grouping):
    doc = coverage(_mixed_catalogue())
    rows = doc[grouping]
    assert sum(row["aggregated"] for row in rows) == doc["overall"]["aggregated"]
    assert sum(row["total"] for row in rows) == doc["overall"]["total"] == 60
    name = grouping.removeprefix("by_")
    assert rows == sorted(rows, key=lambda row: (row["ratio"], row[name]))
    for row in rows:
        assert row["ratio"] == round(row["aggregated"] / row["total"], 4)


def test_groups_with_equal_ratio_are_ordered_by_name():
    facts = [
        make_facts(code="1", department="b"),
        make_facts(code="2", department="a"),
        make_facts(code="3", department="c", bound=False),
    ]
    assert [row["department"] for row in coverage(facts)["by_department"]] == ["c", "a", "b"]


def test_gaps_are_sorted_by_priority_desc_then_department_then_code():
    facts = [
        make_facts(code="101001/000003", department="区民政局", priority=2, bound=False),
        make_facts(code="101001/000002", department="区公安分局", priority=5, produced_at=None),
        make_facts(code="101001/000001", department="区民政局", priority=2, bound=False),
        make_facts(code="101001/000009", department="区公安分局", priority=2, bound=False),
        make_facts(code="101001/000004", department="区公安分局", priority=1),  # aggregated
    ]
    gaps = coverage(facts)["gaps"]
    assert [(gap["resource_code"], gap["department"]) for gap in gaps] == [
        ("101001/000002", "区公安分局"),
        ("101001/000009", "区公安分局"),
        ("101001/000001", "区民政局"),
        ("101001/000003", "区民政局"),
    ]
    assert gaps[0] == {
        "resource_code": "101001/000002",
        "name": "户籍人口基本信息",
        "department": "区公安分局",
        "reason": "never produced",
        "since": None,
    }


def test_gap_since_is_iso():
    facts = [make_facts(last_landing_at=AS_OF - timedelta(hours=40))]
    assert coverage(facts)["gaps"][0]["since"] == "2026-06-30T08:00:00+00:00"


def _point(days_ago: int, ratio: float, version: str = DEFINITION_VERSION) -> SnapshotPoint:
    return SnapshotPoint(AS_OF.date() - timedelta(days=days_ago), int(ratio * 100), 100, ratio, ratio, version)


def test_trend_is_history_by_date_plus_today():
    history = [
        _point(1, 0.3),
        _point(3, 0.1),
        _point(2, 0.2),
        _point(2, 0.25, "2025.9"),
        _point(0, 0.9),
        _point(-1, 0.95),
    ]  # a stale "today" and a future point are dropped
    doc = coverage([make_facts()], history)
    assert doc["trend"] == [
        {"date": "2026-06-27", "ratio": 0.1, "aggregated": 10, "total": 100, "definition_version": DEFINITION_VERSION},
        # last one wins, and keeps the version it was measured under
        {"date": "2026-06-28", "ratio": 0.25, "aggregated": 25, "total": 100, "definition_version": "2025.9"},
        {"date": "2026-06-29", "ratio": 0.3, "aggregated": 30, "total": 100, "definition_version": DEFINITION_VERSION},
        {"date": "2026-06-30", "ratio": 1.0, "aggregated": 1, "total": 1, "definition_version": DEFINITION_VERSION},
    ]


def test_projection_is_part_of_the_document():
    history = [_point(days, 0.5 - days * 0.01) for days in range(1, 11)]
    facts = [make_facts(code=str(n), bound=n >= 5) for n in range(10)]  # 5 / 10 today
    projection = coverage(facts, history)["projection"]
    assert projection["method"] == "least squares over the last 11 daily snapshots"
    assert projection["target_date"] == "2026-12-31"
    assert projection["resources_needed"] == 2
    assert projection["on_track"] is True


def test_snapshot_point_of_a_document():
    facts = [make_facts(code="1", priority=4), make_facts(code="2", priority=1, bound=False)]
    doc = coverage(facts)
    assert snapshot_point(doc) == SnapshotPoint(AS_OF.date(), 1, 2, 0.5, 0.8, DEFINITION_VERSION)


def test_today_is_the_date_of_as_of_in_its_own_zone():
    shunde = timezone(timedelta(hours=8))
    as_of = datetime(2026, 6, 30, 23, 30, tzinfo=UTC).astimezone(shunde)  # 1 July in Shunde
    doc = coverage([make_facts()], as_of=as_of)
    assert doc["trend"][-1]["date"] == "2026-07-01"
    assert snapshot_point(doc).date == date(2026, 7, 1)


def test_a_naive_as_of_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        coverage([make_facts()], as_of=datetime(2026, 6, 30, 12))


def test_ten_thousand_resources_in_one_call():
    facts = [make_facts(code=f"101001/{n:06d}", department=f"d{n % 28}", bound=n % 3 != 0) for n in range(10_000)]
    doc = coverage(facts)
    assert doc["overall"] == {"aggregated": 6666, "total": 10_000, "ratio": 0.6666}
    assert len(doc["gaps"]) == 3334
    assert len(doc["by_department"]) == 28
