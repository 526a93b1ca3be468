"""The ten-day simulation the `simulation` tests share (imported as `sim_kit`: tests/ is on sys.path).

`hub simulate --days 10 --scale tiny` runs once per test session, in an isolated hub home with its
own Kafka broker, Mosquitto and stand-in services. It is started in the background as soon as the
session has collected a `simulation` test (tests/conftest.py), and those tests run last, so the
simulation plays while the rest of the suite runs. HUB_TEST_SIMULATED_HOME=<dir> reuses the home of
a finished run instead (its env is rebuilt without a broker: the tests then only read files).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HUB = str(Path(sys.executable).parent / "hub")
DAYS = 10
SHARE_ANSWER_WORKDAYS = 2  # so that the scenario's second answer (day 7) is late; the default is 5
TIMEOUT_S = 3600  # measured: about 20 min on 2 cores beside the rest of the suite


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a hub run in `home` that shares no port, topic or file with anything else."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("HUB_", "AIRFLOW"))}
    env.update(
        HUB_VAR_DIR=str(home),
        HUB_KAFKA_PORT=str(free_port()),
        HUB_KAFKA_CONTROLLER_PORT=str(free_port()),
        HUB_KAFKA_LIBS_DIR=str(REPO / "var" / "kafka" / "libs"),  # the jar cache `make test` resolved
        HUB_VIDEO_URL=f"http://127.0.0.1:{free_port()}",
        **{f"HUB_VIDEO_CLOUD_{cloud}_URL": f"http://127.0.0.1:{free_port()}" for cloud in ("POLICE", "CITY", "GOV")},
        HUB_MQTT_PORT=str(free_port()),
        **extra,
    )
    return env


def _log(home: Path) -> Path:
    return home.parent / f"{home.name}.log"


@dataclass
class Simulation:
    env: dict[str, str]
    home: Path
    process: subprocess.Popen | None = None
    output: str = ""

    @classmethod
    def start(cls) -> Simulation:
        reused = os.environ.get("HUB_TEST_SIMULATED_HOME")
        if reused:
            return cls(isolated_env(Path(reused)), Path(reused))
        home = Path(tempfile.mkdtemp(prefix="hub-test-sim-"))
        env = isolated_env(home, HUB_TARGET_DATE="2026-12-31", HUB_SHARE_ANSWER_WORKDAYS=str(SHARE_ANSWER_WORKDAYS))
        with open(_log(home), "w", encoding="utf-8") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [HUB, "simulate", "--days", str(DAYS), "--scale", "tiny"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return cls(env, home, process)

    def wait(self) -> Simulation:
        """Block until the run ended; raises with its output's tail if it failed."""
        if self.process is not None and self.process.returncode is None:
            self.process.wait(timeout=TIMEOUT_S)
            self.output = _log(self.home).read_text(encoding="utf-8")
            if self.process.returncode != 0:
                raise AssertionError(f"hub simulate failed ({self.process.returncode}):\n{self.output[-6000:]}")
        return self

    def stop(self) -> None:
        """Stop the run if it is still going, and the broker and services it started."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process is not None:
            for command in (["sources", "down"], ["kafka", "down"]):
                subprocess.run([HUB, *command], env=self.env, capture_output=True, timeout=120)
