"""Airflow on this machine: its home under var/airflow (SQLite metadata), the hub's DAG folder,
and the commands the demo and the tests run through Airflow itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hub.errors import HubError
from hub.settings import REPO_ROOT, get_settings
from hub.timezone import LOCAL_TZ_NAME

DAGS_FOLDER = REPO_ROOT / "dags"


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or get_settings().var_dir / "airflow")


def airflow_env(home: Path | None = None) -> dict[str, str]:
    """The environment every `airflow` subprocess gets: our home, our DAGs, no examples, the venv on PATH."""
    home = home or airflow_home()
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_FOLDER),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DEFAULT_TIMEZONE=LOCAL_TZ_NAME,  # schedules and the UI in Beijing time
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__API__EXPOSE_CONFIG="False",
        # Tasks import the hub's packages; standalone starts its parts as `airflow` subprocesses.
        PATH=venv_bin + os.pathsep + env.get("PATH", ""),
        PYTHONPATH=str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
    )
    return env


def airflow(
    *args: str, home: Path | None = None, check: bool = True, capture: bool = False
) -> subprocess.CompletedProcess:
    """Run `airflow ARGS…` with the hub's environment."""
    command = [str(Path(sys.executable).parent / "airflow"), *args]
    result = subprocess.run(command, env=airflow_env(home), text=True, capture_output=capture)
    if check and result.returncode != 0:
        tail = (result.stdout or "")[-3000:] + (result.stderr or "")[-3000:] if capture else ""
        raise HubError(f"`airflow {' '.join(args)}` failed (exit {result.returncode}){': ' + tail if tail else ''}")
    return result


def migrate(home: Path | None = None) -> None:
    """Create or upgrade the Airflow metadata database (idempotent)."""
    (home or airflow_home()).mkdir(parents=True, exist_ok=True)
    airflow("db", "migrate", home=home, capture=True)


def dags_test(dag_id: str, home: Path | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    """Run one DAG through Airflow (`airflow dags test`): every task, in order, recorded in the metadata DB."""
    return airflow("dags", "test", dag_id, home=home, capture=capture)
