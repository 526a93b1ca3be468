"""The parent's side of the sandbox: start the worker, enforce wall time, say how it ended.

The worker (warehouse.access.worker) runs in its own session (the terminal's Ctrl-C reaches only
`hub sql`, which then kills it), with a scrubbed environment (no HUB_* secrets), its own temporary
directory, and the limits of HUB_QUERY_MEMORY_MB / HUB_QUERY_CPU_S. The parent kills its process
group at HUB_QUERY_TIMEOUT_S. Every end is named: ok, refused, killed (memory, CPU, wall time or a
signal from outside) or crashed — never a bare "internal error".
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from warehouse.access.sandbox import Access, Limits
from warehouse.access.worker import MEMORY_EXIT, RESULT_FILE, STATUS_FILE

# A C++ abort after a failed allocation says so on stderr; the address-space limit is then why.
MEMORY_SIGNS = ("bad_alloc", "MemoryError", "Out of Memory", "Cannot allocate memory")
STDERR_KEEP = 64 * 1024


@dataclass
class ChildOutcome:
    status: str  # ok | refused | killed | crashed
    reason: str | None
    table: pa.Table | None
    truncated: bool
    duration_ms: float
    rows: int | None = None  # rows of the result (on screen: after the cut; an export: all of them)


@dataclass(frozen=True)
class ChildLimits:
    memory_mb: int
    cpu_s: int
    wall_s: float
    threads: int
    result_max_mb: int


def run_in_child(
    sql: str,
    *,
    warehouse: Path,
    access: dict[str, Access],
    marts: dict[str, str | None],
    min_group: int,
    key: bytes,
    limits: ChildLimits,
    row_limit: int,
    whole_to: Path | None = None,
    max_bytes: int | None = None,
) -> ChildOutcome:
    """Run one statement in a fresh worker process and report how it ended.

    With `whole_to`, the worker streams every row (up to `row_limit`, else it refuses) into an Arrow
    IPC file that is moved there; the outcome then carries the row count and no table.
    """
    workdir = Path(tempfile.mkdtemp(prefix="hub-sql-"))
    started = time.monotonic()
    try:
        request = workdir / "request.json"
        descriptor = os.open(request, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            request_body = _request(sql, warehouse, access, marts, min_group, key, limits, row_limit, workdir)
            if whole_to is not None:
                request_body["whole"] = True
            if max_bytes is not None:
                request_body["max_bytes"] = max_bytes
            json.dump(request_body, out)
        cpu_before = _children_cpu_s()
        returncode, stderr = _wait(workdir, request, limits.wall_s)
        # The CPU the child used tells a hard-limit SIGKILL from one sent by someone else.
        at_cpu_limit = _children_cpu_s() - cpu_before >= limits.cpu_s - 0.5
        return _outcome(
            workdir, returncode, stderr, limits, at_cpu_limit, (time.monotonic() - started) * 1000, whole_to
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _request(sql, warehouse, access, marts, min_group, key, limits: ChildLimits, row_limit, workdir) -> dict:
    # DuckDB's own buffer limit sits well under the address space: the rest is the interpreter,
    # libraries, thread stacks and the Arrow result.
    duckdb_mb = max(64, limits.memory_mb * 2 // 5)
    return {
        "sql": sql,
        "warehouse": str(warehouse),
        "access": {rid: asdict(a) for rid, a in access.items()},
        "marts": marts,
        "min_group": min_group,
        "key": key.hex(),
        "row_limit": row_limit,
        "max_bytes": limits.result_max_mb * 2**20,
        "memory_bytes": limits.memory_mb * 2**20,
        "cpu_s": limits.cpu_s,
        "limits": asdict(
            Limits(
                memory_limit_mb=duckdb_mb,
                threads=limits.threads,
                temp_dir=str(workdir / "tmp"),
                max_temp_mb=limits.memory_mb,
            )
        ),
    }


def _environment(workdir: Path) -> dict[str, str]:
    """Only what Python needs: no HUB_* settings, tokens or keys reach the analyst's process."""
    root = str(Path(__file__).resolve().parents[2])
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": root,
        "MALLOC_ARENA_MAX": "2",
        "ARROW_DEFAULT_MEMORY_POOL": "system",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _wait(workdir: Path, request: Path, wall_s: float) -> tuple[int | None, str]:
    """(return code, or None when killed at the wall time; the end of stderr)."""
    (workdir / "tmp").mkdir(mode=0o700)
    with open(workdir / "stderr", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "warehouse.access.worker", str(request)],
            cwd=workdir,
            env=_environment(workdir),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=wall_s)
        except subprocess.TimeoutExpired:
            returncode = None
        except BaseException:  # Ctrl-C or a signal handler in the parent: the worker must not outlive us
            _kill(process)
            raise
        if returncode is None:
            _kill(process)
        process.stdin.close()
    return returncode, (workdir / "stderr").read_bytes()[-STDERR_KEEP:].decode("utf-8", "replace")


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _outcome(
    workdir: Path,
    returncode: int | None,
    stderr: str,
    limits: ChildLimits,
    at_cpu_limit: bool,
    duration_ms: float,
    whole_to: Path | None = None,
) -> ChildOutcome:
    def ended(status: str, reason: str) -> ChildOutcome:
        return ChildOutcome(status, reason, None, False, duration_ms)

    memory = f"killed: memory limit {_size(limits.memory_mb)} (HUB_QUERY_MEMORY_MB); aggregate or select less"
    if returncode is None:
        return ended(
            "killed",
            f"killed: wall time {limits.wall_s:g} s (HUB_QUERY_TIMEOUT_S); narrow the query or aggregate in a mart",
        )
    status_path = workdir / STATUS_FILE
    if returncode == 0 and status_path.exists():
        status = json.loads(status_path.read_text(encoding="utf-8"))
        if status["status"] == "ok" and whole_to is not None:
            shutil.move(workdir / RESULT_FILE, whole_to)
            return ChildOutcome("ok", None, None, False, duration_ms, status["rows"])
        if status["status"] == "ok":
            with ipc.open_file(str(workdir / RESULT_FILE)) as reader:
                table = reader.read_all()
            return ChildOutcome("ok", None, table, status["truncated"], duration_ms, table.num_rows)
        if status["status"] == "killed":
            return ended("killed", memory)
        return ended("refused", status["reason"])
    if returncode == MEMORY_EXIT or any(sign in stderr for sign in MEMORY_SIGNS):
        return ended("killed", memory)
    if returncode == -signal.SIGXCPU or (returncode == -signal.SIGKILL and at_cpu_limit):
        return ended("killed", f"killed: CPU time limit {limits.cpu_s} s (HUB_QUERY_CPU_S); narrow the query")
    if returncode < 0:
        name = signal.Signals(-returncode).name
        if -returncode in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            return ended("killed", f"killed: the query process got {name} from outside")
        return ended("crashed", f"crashed: the query process died of {name}; see the hub log")
    return ended("crashed", f"crashed: the query process exited with {returncode}; see the hub log")


def _size(megabytes: int) -> str:
    return f"{megabytes // 1024} GiB" if megabytes % 1024 == 0 else f"{megabytes} MiB"
