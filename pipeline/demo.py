"""`hub demo`: the main job on this machine, step by step, with the same commands a person would type.

Kafka → catalogue → source systems → Airflow (`airflow standalone`: scheduler, DAG processor, UI) →
every ingest DAG triggered through its REST API and run by the scheduler → quality_docs (the gates'
Data Docs) → coverage_daily →
coverage → leadership report. Each task's log is in the Airflow UI. Then, unless `--once`, the
Airflow UI and the catalogue service stay up (with Kafka) until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
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
from pipeline.airflow_api import AirflowApi, admin_password
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


def _run_dag(api: AirflowApi, dag_id: str) -> float:
    """Trigger one DAG run through the scheduler and wait for it; a failed run raises with its failed
    tasks' log tails (every log is in the UI)."""
    started = time.monotonic()
    api.wait_for_dag(dag_id)
    run_id, tasks = api.run_to_completion(dag_id)
    elapsed = time.monotonic() - started
    console.print(f"  [green]✓[/] {dag_id:<22} {elapsed:6.1f} s   {len(tasks)} tasks   run {run_id}")
    return elapsed


def start_airflow() -> tuple[subprocess.Popen, AirflowApi]:
    """`airflow standalone` on this hub's home, and a signed-in client of its REST API once it is up."""
    home = airflow_local.airflow_home()
    log_file = get_settings().var_dir / "demo-logs" / "airflow-standalone.log"
    airflow_local.migrate()
    process = airflow_local.start_standalone(log_file, home)
    passwords = home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + 180
    while not passwords.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(1)
    if process.poll() is not None or not passwords.exists():
        airflow_local.stop(process)
        raise HubError(f"`airflow standalone` did not start; see {log_file}")
    api = AirflowApi(airflow_local.api_url(), "admin", admin_password(home))
    try:
        api.wait_until_up()
    except HubError:
        airflow_local.stop(process)
        raise
    return process, api


def run_flow(scale: str = "small", airflow: tuple[subprocess.Popen, AirflowApi] | None = None) -> None:
    """Everything up to the coverage report, once, through the running Airflow (started if not given)."""
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
    _step(
        "4. Ingest through Airflow's scheduler: connect, then load (land → quality gate → staging), per bound resource"
    )
    _hub("streams", "catch-up")  # the 实时 DAGs land what streams delivered: one pass stands in for them here
    process, api = airflow or start_airflow()
    try:
        for layout in ingest_dags():
            _run_dag(api, layout.dag_id)
        _run_dag(api, "quality_docs")  # the Data Docs of every gate above, in one build
        _run_dag(api, "coverage_daily")
    finally:
        if airflow is None:
            airflow_local.stop(process)
    console.print(f"every task's log: Airflow UI {airflow_local.api_url()} (or its REST API)")
    _step("5. Coverage of the catalogue against the target")
    _hub("coverage")
    console.print(f"leadership report (rendered by coverage_daily): {settings.var_dir / 'reports'}")


def serve_until_interrupted(airflow: subprocess.Popen) -> None:
    """The running Airflow UI and the catalogue service (:8000) until Ctrl-C; Kafka keeps running."""
    home = airflow_local.airflow_home()
    log_dir = get_settings().var_dir / "demo-logs"
    access = demo_access()
    streams_log = open(log_dir / "streams.log", "ab")
    streams = subprocess.Popen(
        [HUB, "streams", "up"], stdout=streams_log, stderr=subprocess.STDOUT, start_new_session=True
    )
    service = subprocess.Popen(
        [HUB, "catalog", "serve"], env={**os.environ, "HUB_API_TOKEN": access.api_token}, start_new_session=True
    )
    passwords = home / "simple_auth_manager_passwords.json.generated"
    _step("Running — Ctrl-C stops Airflow, the streams and the catalogue service (Kafka stays: `hub kafka down`)")
    console.print(
        f"Airflow UI          {airflow_local.api_url()}  "
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
            airflow_local.stop(process)
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
    """The main job. One run goes through Airflow's scheduler (started once and, unless `once`, kept up
    for the UI); a simulation runs its days in-process first, then the services come up on its last day."""
    if simulate_days:
        run_simulation(simulate_days, scale)
        if once:
            return
    process, api = start_airflow()
    try:
        if not simulate_days:
            run_flow(scale, (process, api))
        if not once:
            serve_until_interrupted(process)
    finally:
        api.close()
        airflow_local.stop(process)
