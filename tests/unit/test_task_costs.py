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


def test_a_figure_is_kept_through_jitter_and_replaced_when_the_size_changes(hub_env):
    """A changed figure may change a weight, and so the DAG's version: jitter under load must not."""
    task_costs.note("electricity_readings", "connect", 516.4)
    task_costs.note("electricity_readings", "connect", 636.0)  # a busier night
    task_costs.note("electricity_readings", "connect", 300.0)  # a quieter one
    assert task_costs.last_seconds(["electricity_readings"]) == {("electricity_readings", "connect"): 516.4}

    task_costs.note("electricity_readings", "connect", 41.0)  # the first night's full load done: increments now
    assert task_costs.last_seconds(["electricity_readings"]) == {("electricity_readings", "connect"): 41.0}
    task_costs.note("electricity_readings", "connect", 90.0)  # twice as long, but by less than a minute
    assert task_costs.last_seconds(["electricity_readings"]) == {("electricity_readings", "connect"): 41.0}
    task_costs.note("electricity_readings", "connect", 120.0)
    assert task_costs.last_seconds(["electricity_readings"]) == {("electricity_readings", "connect"): 120.0}


def test_a_small_tasks_seconds_doubling_under_load_change_no_weight(hub_env):
    task_costs.note("death_certificates", "load", 5.1)
    task_costs.note("death_certificates", "load", 12.4)  # measured in the full run: eight tasks on two cores
    assert task_costs.priority_weights(["death_certificates"])["death_certificates"][1] == task_costs.weight(5.1)


def test_a_mangled_figure_is_ignored_and_replaced(hub_env):
    (task_costs.folder()).mkdir(parents=True)
    (task_costs.folder() / "schools.load").write_text("a lot\n")
    assert task_costs.last_seconds(["schools"]) == {}

    task_costs.note("schools", "load", 14.8)
    assert task_costs.last_seconds(["schools"]) == {("schools", "load"): 14.8}


def test_only_the_two_steps_are_noted(hub_env):
    with pytest.raises(ValueError, match="connect, load"):
        task_costs.note("schools", "gate", 3.0)
