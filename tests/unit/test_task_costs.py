"""The tasks' seconds of the last run, and the priority weights a night's DAGs take from them."""

from __future__ import annotations

import pytest

from pipeline import task_costs


def test_a_weight_grows_one_step_per_factor_of_ten_to_the_quarter():
    assert [task_costs.weight(s) for s in (0, 7, 25.9, 177.6, 694)] == [1, 5, 7, 10, 12]
    assert task_costs.weight(-3) == 1  # a clock stepped back is no work, not an error
    # Jitter of a few per cent seldom crosses a step: the weights of 500 ± 5 % agree.
    assert len({task_costs.weight(s) for s in (475, 500, 525)}) == 1


def test_a_first_night_keeps_airflows_weights(hub_env):
    assert task_costs.priority_weights(["schools", "water_readings"]) == {}


def test_a_connect_weighs_its_chain_and_a_resource_never_run_counts_as_the_longest(hub_env):
    task_costs.note("electricity_readings", "connect", 516.4)
    task_costs.note("electricity_readings", "load", 177.6)
    task_costs.note("schools", "connect", 11.1)
    task_costs.note("schools", "load", 14.8)
    task_costs.note("vaccinations", "connect", 7.8)  # its load failed: no seconds for it

    weights = task_costs.priority_weights(["electricity_readings", "schools", "vaccinations", "new_resource"])

    assert weights["electricity_readings"] == (task_costs.weight(694.0), task_costs.weight(177.6)) == (12, 10)
    assert weights["schools"] == (task_costs.weight(25.9), task_costs.weight(14.8)) == (7, 6)
    assert weights["vaccinations"] == (task_costs.weight(7.8 + 177.6), 10)  # its load as the longest load
    assert weights["new_resource"] == (12, 10)


def test_the_last_run_replaces_the_one_before_and_a_mangled_figure_is_ignored(hub_env):
    task_costs.note("schools", "connect", 11.1)
    task_costs.note("schools", "connect", 300.0)
    (task_costs.folder() / "schools.load").write_text("a lot\n")

    assert task_costs.last_seconds(["schools"]) == {("schools", "connect"): 300.0}


def test_only_the_two_steps_are_noted(hub_env):
    with pytest.raises(ValueError, match="connect, load"):
        task_costs.note("schools", "gate", 3.0)
