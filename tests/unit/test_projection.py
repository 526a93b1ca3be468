"""The daily trend's projection to the target date (catalog/projection.py)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from catalog.coverage import DEFINITION_VERSION, SnapshotPoint, projection
from catalog.projection import (
    INSUFFICIENT_HISTORY,
    MAX_PROJECTION_POINTS,
    MIN_PROJECTION_POINTS,
    TARGET_DATE_REACHED,
    resources_needed,
)

TODAY = date(2026, 6, 30)
TOTAL = 1000


def point(days_ago: int, ratio: float, version: str = DEFINITION_VERSION) -> SnapshotPoint:
    aggregated = round(ratio * TOTAL)
    return SnapshotPoint(TODAY - timedelta(days=days_ago), aggregated, TOTAL, ratio, ratio, version)


def series(days: int, start: float, per_day: float) -> list[SnapshotPoint]:
    """`days` history points before today, ratio start + per_day * n on day n (oldest is day 0)."""
    return [point(days - n, round(start + per_day * n, 4)) for n in range(days)]


def project(history, today_ratio, target=0.7, in_days=30) -> dict:
    return projection(history, point(0, today_ratio), target, TODAY + timedelta(days=in_days))


def test_projection_keys_and_types():
    result = project(series(5, 0.5, 0.01), 0.55)
    assert set(result) == {"target_date", "projected_ratio", "on_track", "resources_needed", "method"}
    assert result["target_date"] == "2026-07-30"
    assert isinstance(result["projected_ratio"], float)
    assert isinstance(result["on_track"], bool)
    assert isinstance(result["resources_needed"], int)
    assert isinstance(result["method"], str)


@pytest.mark.parametrize(
    "per_day, today_ratio, in_days, projected, on_track",
    [
        (0.01, 0.50, 20, 0.70, True),  # rising: reaches the target exactly on the day (>=)
        (0.01, 0.50, 19, 0.69, False),  # one day short
        (0.0, 0.50, 100, 0.50, False),  # flat
        (0.0, 0.75, 100, 0.75, True),  # flat above target
        (-0.01, 0.50, 10, 0.40, False),  # falling
        (-0.01, 0.50, 200, 0.0, False),  # falling, clamped at 0
        (0.01, 0.50, 200, 1.0, True),  # rising, clamped at 1
    ],
    ids=["rising-at-target", "rising-short", "flat", "flat-above", "falling", "falling-clamped", "rising-clamped"],
)
def test_straight_lines(per_day, today_ratio, in_days, projected, on_track):
    history = series(10, today_ratio - 10 * per_day, per_day)
    result = project(history, today_ratio, in_days=in_days)
    assert result["projected_ratio"] == pytest.approx(projected, abs=1e-4)
    assert result["on_track"] is on_track
    assert result["method"] == "least squares over the last 11 daily snapshots"


def test_noisy_history_matches_a_reference_least_squares_fit():
    rng = np.random.default_rng(7)
    ratios = np.clip(0.3 + 0.004 * np.arange(20) + rng.normal(0, 0.02, 20), 0, 1).round(4)
    history = [point(20 - n, float(ratio)) for n, ratio in enumerate(ratios[:-1])]
    history.append(point(1, float(ratios[-1])))
    today = 0.39
    result = project(history, today, in_days=45)
    xs = [-(20 - n) for n in range(19)] + [-1, 0]
    slope, intercept = np.polyfit(xs, list(ratios) + [today], 1)
    assert result["projected_ratio"] == pytest.approx(round(intercept + slope * 45, 4), abs=1e-4)


@pytest.mark.parametrize("history_days", range(MIN_PROJECTION_POINTS - 1))
def test_insufficient_history_reports_todays_ratio(history_days):
    result = project(series(history_days, 0.1, 0.2), 0.62)
    assert result["method"] == INSUFFICIENT_HISTORY
    assert result["projected_ratio"] == 0.62
    assert result["on_track"] is False
    assert result["resources_needed"] == 80


def test_the_smallest_sufficient_history_is_fitted():
    result = project(series(MIN_PROJECTION_POINTS - 1, 0.4, 0.1), 0.6, in_days=1)
    assert result["method"] == f"least squares over the last {MIN_PROJECTION_POINTS} daily snapshots"
    assert result["projected_ratio"] == pytest.approx(0.7)
    assert result["on_track"] is True


def test_only_the_last_30_points_are_fitted():
    # 40 old days falling fast, then 30 recent days flat at 0.5: only the flat part counts.
    old = [point(70 - n, 0.9 - 0.01 * n) for n in range(40)]
    recent = [point(days_ago, 0.5) for days_ago in range(MAX_PROJECTION_POINTS - 1, 0, -1)]
    result = project(old + recent, 0.5, in_days=60)
    assert result["method"] == f"least squares over the last {MAX_PROJECTION_POINTS} daily snapshots"
    assert result["projected_ratio"] == 0.5


def test_points_of_another_definition_are_left_out():
    history = series(10, 0.4, 0.01)
    # Under the old definition the ratio was far higher; it must not bend the line.
    history += [point(days_ago, 0.95, "2025.1") for days_ago in range(11, 20)]
    result = project(history, 0.5, in_days=20)
    assert result["method"] == "least squares over the last 11 daily snapshots"
    assert result["projected_ratio"] == pytest.approx(0.7, abs=1e-4)


def test_duplicate_dates_keep_the_last_point_and_today_is_not_doubled():
    history = series(5, 0.5, 0.0) + [point(1, 0.5), point(0, 0.1), point(-3, 0.1)]
    history.insert(0, point(1, 0.0))  # superseded by the later point for the same day
    result = project(history, 0.5, in_days=10)
    assert result["method"] == "least squares over the last 6 daily snapshots"
    assert result["projected_ratio"] == 0.5


@pytest.mark.parametrize("in_days", [0, -1, -90])
def test_a_target_date_today_or_past_reports_the_observed_ratio(in_days):
    result = project(series(10, 0.1, 0.05), 0.6, in_days=in_days)
    assert result["method"] == TARGET_DATE_REACHED
    assert result["projected_ratio"] == 0.6
    assert result["on_track"] is False
    assert result["resources_needed"] == 100
    assert result["target_date"] == (TODAY + timedelta(days=in_days)).isoformat()


@pytest.mark.parametrize(
    "target, total, aggregated, needed",
    [
        (0.7, 10, 6, 1),
        (0.7, 10, 7, 0),
        (0.7, 10, 9, 0),
        (0.7, 3, 0, 3),  # ceil(2.1)
        (0.07, 100, 0, 7),  # 0.07 * 100 is 7.000000000000001 in floats
        (0.7, 0, 0, 0),
        (0.7, 10_000, 6_999, 1),
        (1.0, 5, 4, 1),
    ],
)
def test_resources_needed(target, total, aggregated, needed):
    assert resources_needed(target, total, aggregated) == needed
