"""`hub sources up|down|status`: the running parts of the synthetic systems — one HTTP service per
HTTP system of catalog/systems.py (the video platform and the three video clouds, each a background
`python -m synthetic.video_service` on its own store, pid and log under var/sources/) and the
Mosquitto broker. The databases and the GIS drop folder are plain files.
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
from synthetic.sinks import http_store

START_TIMEOUT_S = 15.0


class VideoServiceError(SyntheticError):
    """The video platform service cannot be started or reached."""


VIDEO_PLATFORM = "video_platform"


def _pid_file(system: str = VIDEO_PLATFORM) -> Path:
    return systems.sources_dir() / f"{system}.pid"


def _log_file(system: str = VIDEO_PLATFORM) -> Path:
    return systems.sources_dir() / f"{system}.log"


def _address(system: str) -> tuple[str, int]:
    url = urlsplit(systems.http_url(system))
    return url.hostname or "127.0.0.1", url.port or 80


def video_pid(system: str = VIDEO_PLATFORM) -> int | None:
    try:
        pid = int(_pid_file(system).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def video_healthy(timeout: float = 1.0, system: str = VIDEO_PLATFORM) -> bool:
    try:
        return httpx.get(f"{systems.http_url(system)}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def video_up(system: str = VIDEO_PLATFORM) -> str:
    """Start one HTTP platform (the video platform or a video cloud) in the background; a no-op when ours runs."""
    url = systems.http_url(system)
    pid = video_pid(system)
    if pid:
        return f"{system} already running (pid {pid}) at {url}"
    host, port = _address(system)
    if video_healthy(0.3, system):
        variable = "HUB_VIDEO_URL" if system == VIDEO_PLATFORM else f"HUB_{system.upper()}_URL"
        raise VideoServiceError(f"something already answers at {url}: stop it or set {variable}")
    store = http_store(system)
    store.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "synthetic.video_service", "--host", host, "--port", str(port)]
    command += ["--store", str(store)]
    with open(_log_file(system), "ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
    _pid_file(system).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _pid_file(system).unlink(missing_ok=True)
            raise VideoServiceError(f"{system} exited with {process.returncode}; see {_log_file(system)}")
        if video_healthy(0.3, system):
            return f"{system} started (pid {process.pid}) at {url}"
        time.sleep(0.1)
    raise VideoServiceError(f"{system} did not answer at {url} within {START_TIMEOUT_S:.0f} s; see {_log_file(system)}")


def video_down(system: str = VIDEO_PLATFORM) -> str:
    pid = video_pid(system)
    if pid is None:
        _pid_file(system).unlink(missing_ok=True)
        return f"{system} is not running"
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
    _pid_file(system).unlink(missing_ok=True)
    return f"{system} stopped (pid {pid})"


def up() -> list[str]:
    return [*(video_up(system) for system in systems.HTTP_SYSTEMS), mosquitto.up()]


def down() -> list[str]:
    return [*(video_down(system) for system in systems.HTTP_SYSTEMS), mosquitto.down()]


def _http_status(system: str) -> dict:
    pid = video_pid(system)
    return {
        "service": system,
        "state": "running" if pid and video_healthy(system=system) else "stopped",
        "pid": pid,
        "address": systems.http_url(system),
        "log": str(_log_file(system)),
    }


def status() -> list[dict]:
    return [*(_http_status(system) for system in systems.HTTP_SYSTEMS), mosquitto.status()]
