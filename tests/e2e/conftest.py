"""The demo run the end-to-end tests share: `hub demo --once` once per test session, in an
isolated hub home with its own Kafka broker (every e2e module reads the same run)."""

from __future__ import annotations

import os
import subprocess

import pytest
from e2e_kit import HUB, REPO, free_port


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """Run `hub demo --once` once in an isolated home; yield (env, home, output)."""
    home = tmp_path_factory.mktemp("hub-home")
    kafka_port = free_port()
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("HUB_", "AIRFLOW")):
            del env[name]
    env.update(
        HUB_VAR_DIR=str(home),
        HUB_KAFKA_PORT=str(kafka_port),
        HUB_KAFKA_CONTROLLER_PORT=str(free_port()),
        HUB_KAFKA_LIBS_DIR=str(REPO / "var" / "kafka" / "libs"),  # the jar cache `make test` resolved
        HUB_VIDEO_URL=f"http://127.0.0.1:{free_port()}",
        **{f"HUB_VIDEO_CLOUD_{cloud}_URL": f"http://127.0.0.1:{free_port()}" for cloud in ("POLICE", "CITY", "GOV")},
        HUB_MQTT_PORT=str(free_port()),
        AIRFLOW_HOME=str(home / "airflow"),
        HUB_AIRFLOW_PORT=str(free_port()),  # not 8080: a demo may be serving there
    )
    run = subprocess.run([HUB, "demo", "--once"], env=env, capture_output=True, text=True, timeout=1500)
    try:
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        yield env, home, run.stdout + run.stderr
    finally:
        for command in (["sources", "down"], ["kafka", "down"]):
            subprocess.run([HUB, *command], env=env, capture_output=True, timeout=120)
