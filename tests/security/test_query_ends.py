"""How an analyst query ends when something kills it, and what the parent keeps: real `hub sql` processes.

A signal to the sandbox child, Ctrl-C to `hub sql`, SIGKILL of `hub sql` itself: each leaves its
audit row marked (killed / interrupted / started, read as interrupted), no query keeps running,
and nothing prints a C++ abort. The memory reproductions stop in the child; the parent stays small.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from security_kit import NOW, catalogue, seed_warehouse  # tests/security is on sys.path under pytest

from catalog import accounts
from catalog import grants as catalog_grants
from catalog.db import session_scope
from catalog.store import load_catalogue_into
from hub import settings as hub_settings
from warehouse.access.audit import run_query

HUB = Path(sys.executable).with_name("hub")
LONG_QUERY = "SELECT count(*) FROM range(100000000) a, range(100000000) b"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    var = tmp_path_factory.mktemp("query-ends") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_VAR_DIR", str(var))
        patch.delenv("HUB_CATALOG_URL", raising=False)
        hub_settings.reset_settings()
        with session_scope() as session:
            load_catalogue_into(session, catalogue(), now=NOW)
            # `hub sql --as` is for platform admins: the runs below sign in as one.
            admin = accounts.add_account(session, "ends-admin", department="mzj", role="admin", created_by="test")
            token = accounts.issue_token(session, admin)
        var.mkdir(parents=True, exist_ok=True)
        (var / ".admin-token").write_text(token)
        seed_warehouse(hub_settings.get_settings().warehouse_path)
        yield var
        hub_settings.reset_settings()


def _start_hub_sql(var: Path, sql: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "HUB_VAR_DIR": str(var),
        "HUB_QUERY_TIMEOUT_S": "60",
        "HUB_QUERY_CPU_S": "120",
        "HUB_TOKEN": (var / ".admin-token").read_text(),
    }
    env.pop("HUB_CATALOG_URL", None)
    return subprocess.Popen(
        [str(HUB), "sql", "--as", "mzj", "-c", sql],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A terminal's foreground job takes Ctrl-C; a test run may ignore SIGINT by then (a child
        # inherits an ignored signal, and Python then installs no KeyboardInterrupt): start as a shell would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _worker_of(process: subprocess.Popen, within_s: float = 60) -> psutil.Process:
    """The sandbox child of a running `hub sql`, once its statement is running."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for child in psutil.Process(process.pid).children(recursive=True):
            if "warehouse.access.worker" in " ".join(child.cmdline()):
                time.sleep(1.5)  # past start-up: the statement itself is running
                return child
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError("hub sql never started its sandbox child")


def _last_audit():
    with session_scope() as session:
        return catalog_grants.list_audit(session, limit=1)[0]


@pytest.mark.parametrize(
    ("sent", "status", "said"),
    [
        (signal.SIGTERM, "killed", "killed: the query process got SIGTERM from outside"),
        (signal.SIGKILL, "killed", "killed: the query process got SIGKILL from outside"),
        (signal.SIGSEGV, "crashed", "crashed: the query process died of SIGSEGV"),
    ],
)
def test_a_signal_to_the_child_is_reported_and_audited_by_name(seeded, sent, status, said):
    process = _start_hub_sql(seeded, LONG_QUERY)
    _worker_of(process).send_signal(sent)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 1 and said in err, err
    entry = _last_audit()
    assert (entry.status, entry.sql_text) == (status, LONG_QUERY) and said in entry.reason


def test_ctrl_c_stops_the_query_cleanly_and_audits_it_as_interrupted(seeded):
    process = _start_hub_sql(seeded, LONG_QUERY)
    worker = _worker_of(process)
    process.send_signal(signal.SIGINT)  # what the terminal sends to the foreground `hub sql`
    try:
        _out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{process.pid}/status").read_text()
        process.kill()
        raise AssertionError(f"hub sql did not stop on SIGINT; its signal masks: {status[-400:]}") from None
    assert process.returncode == 130 and "interrupted" in err
    assert "terminate called" not in err and "Traceback" not in err and "FATAL" not in err
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert _last_audit().status == "interrupted"


def test_a_killed_hub_sql_leaves_a_started_row_and_no_running_query(seeded):
    process = _start_hub_sql(seeded, LONG_QUERY)
    worker = _worker_of(process)
    process.kill()
    process.communicate(timeout=30)
    worker.wait(timeout=15)  # the child sees its parent's pipe close and stops
    entry = _last_audit()
    assert entry.status == "started" and entry.sql_text == LONG_QUERY
    later = entry.asked_at + timedelta(seconds=hub_settings.get_settings().query_timeout_s + 61)
    assert catalog_grants.shown_status(entry, later, hub_settings.get_settings().query_timeout_s + 60) == "interrupted"
    listed = subprocess.run(
        [str(HUB), "audit", "--json", "--limit", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "HUB_VAR_DIR": str(seeded)},
        check=True,
    )
    assert json.loads(listed.stdout)[0]["status"] in ("started", "interrupted")


@pytest.mark.parametrize(
    "sql", ["SELECT length(repeat('x', 1000000000))", "SELECT len(range(200000000))", "SELECT len(range(600000000))"]
)
def test_memory_reproductions_stop_in_the_child_and_the_parent_stays_small(seeded, sql):
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    outcome = run_query("mzj", sql)
    assert outcome.status == "killed" and outcome.reason.startswith("killed: memory limit 1 GiB"), outcome.reason
    assert time.monotonic() - started < hub_settings.get_settings().query_timeout_s
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert grown_mb < 50, f"the parent grew by {grown_mb:.0f} MB"


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of its own needs root")
def test_the_query_process_has_no_network_but_loopback():
    probe = (
        "from warehouse.access.worker import isolate_network; ok = isolate_network(); "
        "print(ok, [line.split(':')[0].strip() for line in open('/proc/self/net/dev').readlines()[2:]])"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "True ['lo']"


def test_a_cpu_bound_query_is_killed_at_the_cpu_limit(seeded, monkeypatch):
    monkeypatch.setenv("HUB_QUERY_CPU_S", "2")
    monkeypatch.setenv("HUB_QUERY_TIMEOUT_S", "60")
    hub_settings.reset_settings()
    try:
        outcome = run_query("mzj", LONG_QUERY)
    finally:
        hub_settings.reset_settings()
    assert outcome.status == "killed" and outcome.reason.startswith("killed: CPU time limit 2 s"), outcome.reason
