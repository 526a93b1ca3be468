"""The streams supervisor: one long-running connector process per 实时 resource (MQTT telemetry, the
video platform's status events, any other binding whose update cycle is 实时), restarted with
exponential backoff after a crash, its health and lag written to <var>/streams/status.json.

- `hub streams up` runs the supervisor in the foreground until SIGTERM / Ctrl-C (docker's streams
  service, `make demo`); `hub streams down` stops one running elsewhere;
- each stream is a child process, `hub streams run RESOURCE` (`run_stream`): the connector in follow
  mode, plus a heartbeat file the child rewrites every few seconds with its last error;
- the supervisor polls its children every second, restarts a dead one after min(cap, base·2^n)
  seconds (n: crashes in a row; a child that stayed up a minute starts the count over), kills a
  child whose heartbeat stopped (frozen), re-reads the catalogue's 实时 resources every 30 s, and
  rewrites the status file (atomically) every few seconds with records delivered (the connector's
  saved totals) and the consumer lag of the landing group (pipeline/stream_status.py).

Nothing is lost when a child dies, even by SIGKILL: the connector saves its state only after Kafka
confirmed delivery, and an MQTT message is acknowledged only then, so the broker redelivers the rest;
replays are duplicates by key and event time, which staging dedups.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from catalog import reader
from hub import clock
from hub.files import LockHeld, exclusive_lock, write_atomic
from hub.settings import get_settings
from pipeline import layout
from pipeline.stream_status import LagReader, delivered_totals

log = logging.getLogger(__name__)

HEARTBEAT_S = 3.0  # a child rewrites its heartbeat this often
FROZEN_AFTER_S = 60.0  # a living child without a heartbeat this long is killed and restarted
STATUS_S = 3.0  # the supervisor rewrites status.json this often
RECONCILE_S = 30.0  # and re-reads which resources are 实时 this often
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0
STABLE_AFTER_S = 60.0  # a child up this long resets the crash count
STOP_GRACE_S = 20.0  # SIGTERM, then SIGKILL after this long
HUB = str(Path(sys.executable).parent / "hub")


def streams_dir() -> Path:
    return get_settings().streams_dir


def status_path() -> Path:
    return streams_dir() / "status.json"


def heartbeat_path(resource_id: str) -> Path:
    return streams_dir() / "heartbeats" / f"{resource_id}.json"


def log_path(resource_id: str) -> Path:
    return streams_dir() / "logs" / f"{resource_id}.log"


def lock_path() -> Path:
    return streams_dir() / "supervisor.lock"


def backoff_seconds(crashes_in_a_row: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    """The wait before restarting a stream that crashed `crashes_in_a_row` times (≥ 1) in a row."""
    return min(cap, base * 2 ** max(0, crashes_in_a_row - 1))


def _write_json(path: Path, document: dict) -> None:
    write_atomic(path, orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def read_json(path: Path) -> dict | None:
    try:
        return orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


# ---- the child: one resource's connector, followed ------------------------------------------------


class _LastError(logging.Handler):
    """Keeps the last ERROR the connector logged (a retriable failure the follow loop rides over)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.message: str | None = None
        self.at: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.message, self.at = record.getMessage()[:500], clock.now().isoformat()


def run_stream(resource_id: str, poll_seconds: float = 5.0) -> int:
    """Follow one resource's connector until SIGTERM; returns the exit code (0: stopped, 1: it failed)."""
    from connectors.runner import resolve_targets, run_resources  # Kafka and the source kinds: only here

    last_error = _LastError()
    logging.getLogger("connectors").addHandler(last_error)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(resource_id, last_error, stop), daemon=True)
    beat.start()
    code = 0
    try:
        resources = resolve_targets(reader.catalogue(), resource_id)
        reports = run_resources(resources, follow=True, progress=False, poll_seconds=poll_seconds)
        failed = [report for report in reports if not report.ok]
        if failed:
            last_error.message, last_error.at = failed[0].error, clock.now().isoformat()
            code = 1
    except KeyboardInterrupt:
        code = 0
    except Exception as exc:  # reported through the heartbeat, then the supervisor restarts us
        last_error.message, last_error.at = f"{type(exc).__name__}: {exc}"[:500], clock.now().isoformat()
        log.exception("%s: the stream stopped", resource_id)
        code = 1
    finally:
        stop.set()
        beat.join(timeout=5)
        _write_heartbeat(resource_id, last_error, exit_code=code)
    return code


def _heartbeat(resource_id: str, last_error: _LastError, stop: threading.Event) -> None:
    while not stop.is_set():
        _write_heartbeat(resource_id, last_error)
        stop.wait(HEARTBEAT_S)


def _write_heartbeat(resource_id: str, last_error: _LastError, exit_code: int | None = None) -> None:
    _write_json(
        heartbeat_path(resource_id),
        {
            "resource": resource_id,
            "pid": os.getpid(),
            "at": clock.now().isoformat(),
            "last_error": last_error.message,
            "last_error_at": last_error.at,
            "exit_code": exit_code,
        },
    )


# ---- the supervisor -------------------------------------------------------------------------------


@dataclass
class Stream:
    """One supervised 实时 resource and what its children did."""

    resource: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0  # monotonic
    started_at_iso: str | None = None
    restarts: int = 0
    crashes_in_a_row: int = 0
    next_start: float = 0.0  # monotonic; 0: now
    last_exit: int | None = None
    last_error: str | None = None
    last_error_at: str | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Keeps one child per 实时 resource alive until `stop()` (or SIGTERM/SIGINT in `run`)."""

    def __init__(self, resources: list[str] | None = None, *, poll_seconds: float = 5.0):
        self.fixed = resources  # None: the catalogue's 实时 resources, re-read every RECONCILE_S
        self.poll_seconds = poll_seconds
        self.streams: dict[str, Stream] = {}
        self.stopping = threading.Event()
        self.started_at = clock.now().isoformat()
        self.lag = LagReader()

    def run(self) -> None:
        """Supervise until stopped; one supervisor per hub home (an flock under <var>/streams)."""
        try:
            with exclusive_lock(lock_path(), blocking=False, note=str(os.getpid())):
                self._install_signals()
                try:
                    self._loop()
                finally:
                    self._stop_children()
                    self._write_status(state="stopped")
                    self.lag.close()
        except LockHeld as held:
            raise SupervisorRunning(
                f"a streams supervisor already runs for {get_settings().var_dir} (pid {held.holder or '?'}): "
                "`hub streams status` shows it, `hub streams down` stops it"
            ) from None

    def stop(self) -> None:
        self.stopping.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self.stop())

    def _loop(self) -> None:
        next_reconcile = next_status = 0.0
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= next_reconcile:
                self._reconcile()
                next_reconcile = now + RECONCILE_S
            for stream in list(self.streams.values()):
                self._tend(stream, now)
            if now >= next_status:
                self._write_status(state="running")
                next_status = now + STATUS_S
            self.stopping.wait(0.5)

    def _reconcile(self) -> None:
        """Start supervising new 实时 resources; stop the children of those no longer 实时 or bound."""
        try:
            wanted = self.fixed if self.fixed is not None else layout.realtime_resources(reader.catalogue())
        except Exception as exc:  # the catalogue DB away for a moment: keep what runs
            log.error("could not read the catalogue's 实时 resources (%s); keeping the streams as they are", exc)
            return
        for resource_id in wanted:
            self.streams.setdefault(resource_id, Stream(resource_id))
        for resource_id, stream in list(self.streams.items()):
            if resource_id not in wanted:
                log.info("%s: no longer a bound 实时 resource; stopping its stream", resource_id)
                _terminate(stream.process)
                del self.streams[resource_id]

    def _tend(self, stream: Stream, now: float) -> None:
        if stream.process is not None:
            code = stream.process.poll()
            if code is None:
                self._check_heartbeat(stream)
                return
            self._record_exit(stream, code, now)
        if now >= stream.next_start and not self.stopping.is_set():
            self._start(stream, now)

    def _start(self, stream: Stream, now: float) -> None:
        path = log_path(stream.resource)
        path.parent.mkdir(parents=True, exist_ok=True)
        heartbeat_path(stream.resource).unlink(missing_ok=True)  # the new child's beats only
        with open(path, "ab") as output:
            stream.process = subprocess.Popen(
                [HUB, "streams", "run", stream.resource, "--poll", str(self.poll_seconds)],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches the supervisor, which stops it
            )
        stream.started_at, stream.started_at_iso = now, clock.now().isoformat()
        log.info("%s: stream started (pid %d, log %s)", stream.resource, stream.process.pid, path)

    def _record_exit(self, stream: Stream, code: int, now: float) -> None:
        beat = read_json(heartbeat_path(stream.resource)) or {}
        stream.last_exit = code
        if code < 0:
            reason = f"killed by {signal.Signals(-code).name}"
            stream.last_error = reason + (
                f" (last error before: {beat['last_error']})" if beat.get("last_error") else ""
            )
        else:
            stream.last_error = beat.get("last_error") or f"exited with code {code}"
        stream.last_error_at = clock.now().isoformat()
        stream.crashes_in_a_row = 1 if now - stream.started_at >= STABLE_AFTER_S else stream.crashes_in_a_row + 1
        wait = backoff_seconds(stream.crashes_in_a_row)
        stream.next_start = now + wait
        stream.restarts += 1
        stream.process = None
        log.warning(
            "%s: stream ended (%s); restart %d in %.0f s", stream.resource, stream.last_error, stream.restarts, wait
        )

    def _check_heartbeat(self, stream: Stream) -> None:
        try:  # wall-clock age of the file: the hub's clock may be pinned by a simulation
            since = time.time() - heartbeat_path(stream.resource).stat().st_mtime
        except FileNotFoundError:
            since = time.monotonic() - stream.started_at
        if since > FROZEN_AFTER_S:
            log.error("%s: no heartbeat for %.0f s; killing pid %d", stream.resource, since, stream.process.pid)
            _kill_group(stream.process, signal.SIGKILL)

    def _stop_children(self) -> None:
        running = [stream.process for stream in self.streams.values() if stream.running]
        for process in running:  # all at once: each gets the whole grace to flush and save
            _kill_group(process, signal.SIGTERM)
        for process in running:
            _reap(process)

    # ---- status ---------------------------------------------------------------------------------

    def _write_status(self, state: str) -> None:
        rows = [self._row(stream) for stream in self.streams.values()]
        _write_json(
            status_path(),
            {
                "supervisor": {
                    "state": state,
                    "pid": os.getpid(),
                    "started_at": self.started_at,
                    "heartbeat_at": clock.now().isoformat(),
                },
                "streams": sorted(rows, key=lambda row: row["resource"]),
            },
        )

    def _row(self, stream: Stream) -> dict:
        beat = read_json(heartbeat_path(stream.resource)) or {}
        running = stream.running
        if running:
            state = "running"
        elif self.stopping.is_set():
            state = "stopped"
        else:
            state = "backoff"
        return {
            "resource": stream.resource,
            "state": state,
            "pid": stream.process.pid if running else None,
            "started_at": stream.started_at_iso,
            "heartbeat_at": beat.get("at") if running else None,
            "restarts": stream.restarts,
            "next_start_in_s": round(max(0.0, stream.next_start - time.monotonic()), 1) if state == "backoff" else None,
            "last_exit": stream.last_exit,
            "last_error": beat.get("last_error") if running and beat.get("last_error") else stream.last_error,
            "last_error_at": beat.get("last_error_at") if running and beat.get("last_error") else stream.last_error_at,
            **delivered_totals(stream.resource),
            **self.lag.lag(stream.resource),
        }


class SupervisorRunning(RuntimeError):
    """Another supervisor holds this hub home's streams."""


def _kill_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def _terminate(process: subprocess.Popen | None) -> None:
    """SIGTERM (the connector flushes and saves its state), SIGKILL after STOP_GRACE_S."""
    if process is None or process.poll() is not None:
        return
    _kill_group(process, signal.SIGTERM)
    _reap(process)


def _reap(process: subprocess.Popen) -> None:
    """Wait for a process told to stop; SIGKILL it after STOP_GRACE_S."""
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _kill_group(process, signal.SIGKILL)
        process.wait(timeout=10)
