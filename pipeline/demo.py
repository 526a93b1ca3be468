"""`hub demo`: the main job on this machine, step by step, with the same commands a person would type.

Kafka → catalogue → source systems → every ingest DAG through Airflow (`airflow dags test`) →
catalogue events → coverage → leadership report. Then, unless `--once`, the Airflow UI and the
catalogue service stay up (with Kafka) until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.console import Console

from hub import clock
from hub.errors import HubError
from hub.settings import REPO_ROOT, get_settings
from pipeline import airflow_local
from pipeline.layout import ingest_dags
from pipeline.simulate import DEFAULT_START, SNAPSHOT_AT, at

console = Console(stderr=True, soft_wrap=True)
HUB = str(Path(sys.executable).parent / "hub")


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


def _hub(*args: str) -> None:
    console.print(f"[dim]$ hub {' '.join(args)}[/]")
    if subprocess.run([HUB, *args]).returncode != 0:
        raise HubError(f"`hub {' '.join(args)}` failed; see above")


def _run_dag(dag_id: str, log_dir: Path) -> float:
    """One DAG through Airflow; its output goes to a log file, the outcome to the console."""
    started = time.monotonic()
    log = log_dir / f"{dag_id}.log"
    result = airflow_local.dags_test(dag_id, capture=True)
    log.write_text((result.stdout or "") + (result.stderr or ""))
    elapsed = time.monotonic() - started
    console.print(f"  [green]✓[/] {dag_id:<22} {elapsed:6.1f} s   log {log}")
    return elapsed


def run_flow(scale: str = "small") -> None:
    """Everything up to the coverage report, once."""
    settings = get_settings()
    _step("1. Kafka")
    _hub("kafka", "up")
    _step("2. The data resource catalogue")
    _hub("catalog", "lint", str(REPO_ROOT / "catalog" / "seed"))
    _hub("catalog", "load", str(REPO_ROOT / "catalog" / "seed"), "--publish")
    _step(f"3. The departments' source systems (scale {scale})")
    _hub("seed", "--scale", scale, "--quiet")
    _hub("sources", "up")
    _hub("connect", "iot", "--prepare")  # MQTT sessions first, so the broker keeps what sensors send
    _hub("sources", "publish")
    _step("4. Ingest through Airflow: connect → land → quality gate → staging, per bound resource")
    airflow_local.migrate()
    log_dir = settings.var_dir / "demo-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    _hub("streams", "catch-up")  # the 实时 DAGs land what streams delivered: one pass stands in for them here
    for layout in ingest_dags():
        _run_dag(layout.dag_id, log_dir)
    _run_dag("coverage_daily", log_dir)
    _step("5. Coverage of the catalogue against the target")
    _hub("coverage")
    console.print(f"leadership report (rendered by coverage_daily): {settings.var_dir / 'reports'}")


def serve_until_interrupted() -> None:
    """Airflow UI (:8080) and the catalogue service (:8000) until Ctrl-C; Kafka keeps running."""
    home = airflow_local.airflow_home()
    log_dir = get_settings().var_dir / "demo-logs"
    airflow_log = open(log_dir / "airflow-standalone.log", "ab")
    airflow = subprocess.Popen(
        [str(Path(sys.executable).parent / "airflow"), "standalone"],
        env=airflow_local.airflow_env(home),
        stdout=airflow_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    access = demo_access()
    streams_log = open(log_dir / "streams.log", "ab")
    streams = subprocess.Popen(
        [HUB, "streams", "up"], stdout=streams_log, stderr=subprocess.STDOUT, start_new_session=True
    )
    service = subprocess.Popen(
        [HUB, "catalog", "serve"], env={**os.environ, "HUB_API_TOKEN": access.api_token}, start_new_session=True
    )
    passwords = home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + 120
    while not passwords.exists() and time.monotonic() < deadline and airflow.poll() is None:
        time.sleep(1)
    _step("Running — Ctrl-C stops Airflow, the streams and the catalogue service (Kafka stays: `hub kafka down`)")
    console.print(
        "Airflow UI          http://127.0.0.1:8080  "
        + (
            f"(users and passwords: {passwords.read_text().strip()})"
            if passwords.exists()
            else f"(starting; see {log_dir / 'airflow-standalone.log'})"
        )
    )
    console.print(
        "Catalogue service   http://127.0.0.1:8000  "
        f"(sign in at /login with the token in {access.admin_token_file}; API writes: Bearer that "
        f"token or HUB_API_TOKEN from {access.api_token_file}; "
        f"CLI: export HUB_TOKEN_FILE={access.admin_token_file})"
    )
    console.print("Streams (实时)      `hub streams status`: each long-running connector, restarts, landing lag")
    console.print(f"Kafka               {get_settings().kafka_bootstrap}")
    try:
        while airflow.poll() is None and service.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in (service, streams, airflow):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
        console.print("stopped Airflow, the streams and the catalogue service")


@dataclass(frozen=True)
class DemoAccess:
    api_token: str
    api_token_file: Path
    admin_token_file: Path


DEMO_ADMIN, DEMO_ADMIN_DEPARTMENT = "demo-admin", "zsj"  # 区政务服务数据管理局 runs the platform


def demo_access() -> DemoAccess:
    """The demo's credentials, made once under var/secrets (mode 600): a random HUB_API_TOKEN for the
    service (it refuses the placeholder) and a platform admin account with its token. Files kept from
    an earlier run are reused, so a browser session or an exported HUB_TOKEN_FILE keeps working."""
    from catalog import accounts
    from catalog.db import session_scope

    secrets_dir = get_settings().var_dir / "secrets"
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    api_file, admin_file = secrets_dir / "api-token", secrets_dir / "demo-admin.token"
    if not api_file.exists():
        accounts.save_token_file(secrets.token_urlsafe(32), api_file)
    with session_scope() as session:
        try:
            admin = accounts.find_account(session, DEMO_ADMIN)
        except accounts.AuthError:
            admin = accounts.add_account(
                session, DEMO_ADMIN, department=DEMO_ADMIN_DEPARTMENT, role="admin", created_by="hub demo"
            )
        if not admin_file.exists():
            accounts.save_token_file(accounts.issue_token(session, admin), admin_file)
    return DemoAccess(api_file.read_text(encoding="utf-8").strip(), api_file, admin_file)


def run_simulation(days: int, scale: str) -> None:
    """`hub simulate --days N` as the demo's main job: N days of history instead of one run. The
    services that stay up afterwards see the simulated world at its last day (HUB_CLOCK_AT)."""
    _step(f"Simulating {days} days (scale {scale}): stand-ins step a day, due resources run, a snapshot a day")
    _hub("simulate", "--days", str(days), "--scale", scale, "--start", DEFAULT_START.isoformat())
    os.environ[clock.ENV_VAR] = at(DEFAULT_START + timedelta(days=days - 1), SNAPSHOT_AT).isoformat()
    _hub("coverage")
    console.print(
        f"leadership report with the simulated trend: {get_settings().var_dir / 'reports'}; the services "
        f"below run with the clock at the simulation's last day ({clock.ENV_VAR}={os.environ[clock.ENV_VAR]})"
    )


def demo(once: bool = False, scale: str = "small", simulate_days: int = 0) -> None:
    if simulate_days:
        run_simulation(simulate_days, scale)
    else:
        run_flow(scale)
    if not once:
        serve_until_interrupted()
