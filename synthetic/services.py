"""`hub sources up|down|status`: the running parts of the synthetic systems — the video platform's
HTTP service (a background `python -m synthetic.video_service`, pid and log under
var/sources/) and the Mosquitto broker. The databases and the GIS drop folder are plain files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from connectors import systems
from hub.settings import REPO_ROOT
from synthetic import mosquitto
from synthetic.base import SyntheticError
from synthetic.sinks import VIDEO_STORE

START_TIMEOUT_S = 15.0


class VideoServiceError(SyntheticError):
    """The video platform service cannot be started or reached."""


def _pid_file() -> Path:
    return systems.sources_dir() / "video_platform.pid"


def _log_file() -> Path:
    return systems.sources_dir() / "video_platform.log"


def _address() -> tuple[str, int]:
    url = urlsplit(systems.video_url())
    return url.hostname or "127.0.0.1", url.port or 80


def video_pid() -> int | None:
    try:
        pid = int(_pid_file().read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def video_healthy(timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"{systems.video_url()}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def video_up() -> str:
    """Start the video platform service in the background (a no-op when ours runs)."""
    pid = video_pid()
    if pid:
        return f"video platform already running (pid {pid}) at {systems.video_url()}"
    host, port = _address()
    if video_healthy(0.3):
        raise VideoServiceError(f"something already answers at {systems.video_url()}: stop it or set HUB_VIDEO_URL")
    store = systems.sources_dir() / VIDEO_STORE
    store.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "synthetic.video_service",
        "--host",
        host,
        "--port",
        str(port),
        "--store",
        str(store),
    ]
    with open(_log_file(), "ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
    _pid_file().write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _pid_file().unlink(missing_ok=True)
            raise VideoServiceError(f"the video platform exited with {process.returncode}; see {_log_file()}")
        if video_healthy(0.3):
            return f"video platform started (pid {process.pid}) at {systems.video_url()}"
        time.sleep(0.1)
    raise VideoServiceError(
        f"the video platform did not answer at {systems.video_url()} within {START_TIMEOUT_S:.0f} s; see {_log_file()}"
    )


def video_down() -> str:
    pid = video_pid()
    if pid is None:
        _pid_file().unlink(missing_ok=True)
        return "video platform is not running"
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    _pid_file().unlink(missing_ok=True)
    return f"video platform stopped (pid {pid})"


def up() -> list[str]:
    return [video_up(), mosquitto.up()]


def down() -> list[str]:
    return [video_down(), mosquitto.down()]


def status() -> list[dict]:
    pid = video_pid()
    video = {
        "service": "video_platform",
        "state": "running" if pid and video_healthy() else "stopped",
        "pid": pid,
        "address": systems.video_url(),
        "log": str(_log_file()),
    }
    return [video, mosquitto.status()]
