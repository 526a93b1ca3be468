"""Airflow on this machine: its home under var/airflow (SQLite metadata), the hub's DAG folder,
and the commands the demo and the tests run through Airflow itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hub.errors import HubError
from hub.settings import REPO_ROOT, get_settings
from hub.timezone import LOCAL_TZ_NAME

DAGS_FOLDER = REPO_ROOT / "dags"
LOCAL_SETTINGS_FOLDER = Path(__file__).resolve().parent / "airflow_settings"  # airflow_local_settings.py
DAG_PARSE_INTERVAL_S = 120


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or get_settings().var_dir / "airflow")


def airflow_env(home: Path | None = None, dags_folder: Path | None = None) -> dict[str, str]:
    """The environment every `airflow` subprocess gets: our home, our DAGs, no examples, the venv on PATH."""
    home = home or airflow_home()
    venv_bin = str(Path(sys.executable).parent)
    settings = get_settings()
    port = settings.airflow_port
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        # The UI, the REST API and the task execution API on one port (HUB_AIRFLOW_PORT).
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__BASE_URL=api_url(),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{api_url()}/execution/",
        # A task's supervisor calls that API; on SQLite behind a busy scheduler an answer can take
        # longer than the 5 s default, and a task killed for it has an empty log.
        AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
        # One scheduler here. Airflow takes a scheduler whose heartbeat is 30 s late for dead and resets
        # its tasks, even when it is that scheduler itself: at full scale, eight tasks on two cores kept
        # its heartbeat 37–66 s late, and 40 running tasks were killed and retried.
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD="600",
        # Every DAG run that is due is created in one scheduler loop (Airflow's default: 10 a loop), so
        # the tasks are weighed all together: with 19 due at once, the first loop's 10 runs took every
        # slot and the longest chain (electricity_readings, 12th) waited 110 s for one.
        AIRFLOW__SCHEDULER__MAX_DAGRUNS_TO_CREATE_PER_LOOP="64",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder or DAGS_FOLDER),
        # Each round of parsing builds every ingest DAG from the catalogue: at the default 30 s the DAG
        # processor took 141 CPU-seconds of a 1,145 s full-scale run on two cores (≈ 3.8 s a round).
        # A catalogue change still reaches its DAG within two minutes (pipeline/layout.py).
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=str(DAG_PARSE_INTERVAL_S),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__PARALLELISM=str(settings.airflow_parallelism),  # HUB_AIRFLOW_PARALLELISM
        AIRFLOW__CORE__DEFAULT_TIMEZONE=LOCAL_TZ_NAME,  # schedules and the UI in Beijing time
        # Paused until someone starts them (the demo, one at a time; a user in the UI): unpaused at
        # creation, every cron DAG would run its latest interval at once on the first parse, and
        # nineteen of them together lock SQLite's metadata database ("Database error" on triggers).
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__API__EXPOSE_CONFIG="False",
        # Tasks import the hub's packages; standalone starts its parts as `airflow` subprocesses; the
        # scheduler preloads the tasks' modules (airflow_settings/airflow_local_settings.py).
        PATH=venv_bin + os.pathsep + env.get("PATH", ""),
        PYTHONPATH=os.pathsep.join(
            [str(REPO_ROOT), str(LOCAL_SETTINGS_FOLDER), *filter(None, [env.get("PYTHONPATH")])]
        ),
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


def api_url() -> str:
    return f"http://127.0.0.1:{get_settings().airflow_port}"


def start_standalone(log_file: Path, home: Path | None = None, dags_folder: Path | None = None) -> subprocess.Popen:
    """`airflow standalone` (scheduler, DAG processor, API server with the UI, triggerer) in its own
    process group, its output appended to `log_file`; stop it with `stop`."""
    home = home or airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as output:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow"), "standalone"],
            env=airflow_env(home, dags_folder),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, timeout_s: float = 60) -> None:
    """Stop a process started with start_standalone, and its children (the whole process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout_s)


def migrate(home: Path | None = None) -> None:
    """Create or upgrade the Airflow metadata database (idempotent)."""
    (home or airflow_home()).mkdir(parents=True, exist_ok=True)
    airflow("db", "migrate", home=home, capture=True)


def dags_test(dag_id: str, home: Path | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    """Run one DAG in this process (`airflow dags test`), without the scheduler: for tests of a DAG's
    wiring. Its task logs are not in the UI; the demo triggers runs through the scheduler instead."""
    return airflow("dags", "test", dag_id, home=home, capture=capture)
