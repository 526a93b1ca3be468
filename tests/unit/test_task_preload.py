"""Airflow's scheduler, through the hub's local-settings hook, preloads what the ingest tasks import, so
tasks the LocalExecutor forks from it start with those modules; no other Airflow process loads them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.airflow_local import airflow_env
from pipeline.task_preload import STEP_MODULES

PROBE = """
import json, sys
names = sys.argv[2:] + %r
sys.argv = ["airflow", sys.argv[1]]  # as `airflow <command>` starts
import airflow  # initialises Airflow's settings, which imports airflow_local_settings
print(json.dumps({name: name in sys.modules for name in names}))
"""


def _loaded(command: str, tmp_path) -> dict[str, bool]:
    code = PROBE % (list(STEP_MODULES),)
    env = airflow_env(tmp_path / "airflow")
    out = subprocess.run(
        [sys.executable, "-c", code, command, "great_expectations"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_scheduler_preloads_every_step_module_but_not_great_expectations(tmp_path):
    loaded = _loaded("scheduler", tmp_path)
    assert all(loaded[name] for name in STEP_MODULES), loaded
    assert loaded["great_expectations"] is False


@pytest.mark.parametrize("command", ["api-server", "dag-processor", "dags"])
def test_other_airflow_processes_load_none_of_them(command, tmp_path):
    loaded = _loaded(command, tmp_path)
    assert not any(loaded.values()), loaded
