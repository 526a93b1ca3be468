"""The demo run the end-to-end tests share: `hub demo --once` once per test session, in an
isolated hub home with its own Kafka broker (every e2e module reads the same run)."""

from __future__ import annotations

import subprocess

import pytest
from e2e_kit import HUB, free_port, isolated_env


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """Run `hub demo --once` once in an isolated home; yield (env, home, output)."""
    home = tmp_path_factory.mktemp("hub-home")
    # Airflow not on 8080 either: a demo may be serving there.
    env = isolated_env(home, AIRFLOW_HOME=str(home / "airflow"), HUB_AIRFLOW_PORT=str(free_port()))
    # About 11 min alone (2026-12-06, small); the session's simulation (tests/sim_kit.py) plays beside it on the same 2 cores.
    run = subprocess.run([HUB, "demo", "--once"], env=env, capture_output=True, text=True, timeout=2700)
    try:
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        yield env, home, run.stdout + run.stderr
    finally:
        for command in (["sources", "down"], ["kafka", "down"]):
            subprocess.run([HUB, *command], env=env, capture_output=True, timeout=120)
