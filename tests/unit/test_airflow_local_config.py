"""The local Airflow's configuration as Airflow itself reads it from the environment the hub gives it."""

from __future__ import annotations

import subprocess
import sys

from pipeline.airflow_local import airflow_env

READ = """
from airflow.configuration import conf
print(
    conf.getint("scheduler", "scheduler_health_check_threshold"),
    conf.getint("core", "parallelism"),
    conf.getint("scheduler", "max_dagruns_to_create_per_loop"),
)
"""


def test_a_late_heartbeat_resets_no_task_and_a_nights_runs_are_weighed_together(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_AIRFLOW_PARALLELISM", "6")
    from hub.settings import reset_settings

    reset_settings()
    try:
        env = airflow_env(tmp_path / "airflow")
    finally:
        reset_settings()
    out = subprocess.run([sys.executable, "-c", READ], env=env, capture_output=True, text=True, timeout=180, check=True)
    threshold, parallelism, runs_per_loop = map(int, out.stdout.strip().splitlines()[-1].split())
    # Airflow's 30 s took our one scheduler for dead when its heartbeat was late under load, and reset its tasks.
    assert threshold >= 300
    assert parallelism == 6
    # A night's runs are created in one loop and weighed together (Airflow's 10 a loop split the 19).
    assert runs_per_loop >= 19
