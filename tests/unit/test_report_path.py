"""The path to the target: exactly as many gaps as the district is short, least effort first, then priority;
each with its owner and due date; the departments' shares add up to the path."""

from __future__ import annotations

from datetime import date

from catalog.report import path, wording
from catalog.service import labels

TODAY = date(2026, 12, 4)  # a Friday


def _gap(code: str, department: str, reason: str) -> dict:
    return {"resource_code": code, "name": f"资源 {code}", "department": department, "reason": reason, "since": None}


GAPS = [
    _gap("A", "区公安分局", "no binding"),
    _gap("B", "区民政局", "no quality run"),
    _gap("C", "区民政局", "failing rule gmsfhm.not_null"),
    _gap("D", "区水务局", "stale"),
    _gap("E", "区公安分局", "no quality run"),
]


def test_the_path_has_as_many_gaps_as_are_needed_least_effort_then_priority_first():
    priorities = {"A": 5, "B": 1, "C": 3, "D": 4, "E": 2}
    steps = path.path_to_target(GAPS, priorities, 5, 10, 0.7, TODAY, date(2026, 12, 31))
    assert [step.resource_code for step in steps] == ["E", "B"]  # 7 needed, 5 held: two quick checks, E first
    assert steps[0].department == "区公安分局" and steps[0].effort_days == 1
    assert steps[0].due == date(2026, 12, 7)  # one working day after a Friday is Monday


def test_a_gap_that_cannot_close_before_the_target_date_comes_last():
    steps = path.path_to_target(GAPS, {}, 2, 10, 0.7, TODAY, date(2026, 12, 10))
    assert len(steps) == 5
    assert steps[-1].resource_code == "A" and not steps[-1].before_target  # 20 working days: after the 10th
    assert all(step.before_target for step in steps[:-2])


def test_no_path_when_the_target_is_reached():
    assert path.path_to_target(GAPS, {}, 7, 10, 0.7, TODAY, date(2026, 12, 31)) == []


def test_department_shares_add_up_to_the_path():
    steps = path.path_to_target(GAPS, {}, 3, 10, 0.7, TODAY, date(2026, 12, 31))
    shares = path.department_shares(steps)
    assert sum(share["items"] for share in shares.values()) == len(steps) == 4
    assert abs(sum(share["share"] for share in shares.values()) - 1.0) < 1e-9


def test_working_days_skip_weekends():
    assert path.add_working_days(TODAY, 5) == date(2026, 12, 11)
    assert path.add_working_days(TODAY, 0) == TODAY


def test_methods_and_verdicts_read_in_chinese():
    assert (
        labels.method_label("least squares over the last 7 daily snapshots")
        == "最近 7 个同口径每日快照的最小二乘直线外推"
    )
    assert "历史不足" in labels.method_label("insufficient history")
    document = {
        "definition_version": "2026.2",
        "trend": [{"definition_version": "2026.2"}],
        "projection": {
            "method": "insufficient history",
            "on_track": False,
            "target_date": "2026-12-31",
            "projected_ratio": 0.2,
        },
    }
    verdict = wording.verdict(document)
    assert verdict["tone"] == "muted" and "至少需要 3 天" in verdict["text"] and "现有 1 天" in verdict["text"]
    assert "还需 2 天" in verdict["text"] and "无法达成" not in verdict["text"]
    document["projection"].update(
        method="least squares over the last 3 daily snapshots", on_track=True, projected_ratio=0.71
    )
    assert wording.verdict(document) == {"tone": "good", "text": "按当前趋势可以达成目标：预计到 2026-12-31 达到 71.0%"}
