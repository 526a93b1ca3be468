"""A real Mosquitto broker on loopback for the IoT sensors: config, persistence, pid and log under
`var/sources/mosquitto/`. Installed with apt-get when missing and running as root; otherwise a
clear error says to run `apt-get install mosquitto`.

Persistence is on and the per-client queue unlimited (`max_queued_messages 0`), so a connector
with a persistent session receives what sensors published while it was away.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from connectors import systems
from synthetic.base import SyntheticError

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
_SEARCH_PATH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


class MosquittoError(SyntheticError):
    """The broker cannot be installed, started or reached."""


def folder() -> Path:
    return systems.sources_dir() / "mosquitto"


def pid_file() -> Path:
    return folder() / "mosquitto.pid"


def log_file() -> Path:
    return folder() / "mosquitto.log"


def binary() -> str | None:
    """The mosquitto executable, or None when it is not installed."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path=os.pathsep.join(_SEARCH_PATH))


def ensure_installed() -> str:
    """The mosquitto executable, installing the Debian package first when root and missing."""
    found = binary()
    if found:
        return found
    if os.geteuid() != 0:
        raise MosquittoError(
            "mosquitto is not installed: run `sudo apt-get install mosquitto` "
            "(or point HUB_MQTT_HOST/HUB_MQTT_PORT at a running broker)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "mosquitto"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise MosquittoError(
                f"`apt-get install mosquitto` failed: {result.stderr.strip()[-400:]}; "
                "install it by hand and retry `hub sources up`"
            )
    found = binary()
    if not found:
        raise MosquittoError("apt-get installed mosquitto but no executable is on PATH; check `dpkg -L mosquitto`")
    return found


def write_config(port: int) -> Path:
    """mosquitto.conf for a loopback listener with persistence and an unlimited queue."""
    base = folder()
    (base / "data").mkdir(parents=True, exist_ok=True)
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {base / 'data'}/",
        "autosave_interval 60",
        "max_queued_messages 0",
        f"log_dest file {log_file()}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
    ]
    if os.geteuid() == 0:
        # Otherwise mosquitto drops to user `mosquitto`, which cannot write var/sources/mosquitto.
        lines.append("user root")
    config = base / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def running_pid() -> int | None:
    """The pid of the broker this module started, when it is still alive."""
    try:
        pid = int(pid_file().read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def up() -> str:
    """Start the broker (a no-op when ours is running); returns a one-line status."""
    host, port = systems.mqtt_host_port()
    pid = running_pid()
    if pid:
        return f"mosquitto already running (pid {pid}) on {host}:{port}"
    if reachable(host, port):
        raise MosquittoError(f"something else listens on {host}:{port}: stop it or set HUB_MQTT_PORT to a free port")
    executable = ensure_installed()
    config = write_config(port)
    with open(folder() / "stdout.log", "ab") as out:
        process = subprocess.Popen(
            [executable, "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file().write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pid_file().unlink(missing_ok=True)
            raise MosquittoError(
                f"mosquitto exited with {process.returncode}; see {log_file()} and {folder() / 'stdout.log'}"
            )
        if reachable(host, port):
            return f"mosquitto started (pid {process.pid}) on {host}:{port}, data in {folder()}"
        time.sleep(0.1)
    raise MosquittoError(f"mosquitto did not listen on {host}:{port} within {START_TIMEOUT_S:.0f} s; see {log_file()}")


def down() -> str:
    """Stop the broker this module started (SIGTERM, so it saves its persistence file)."""
    pid = running_pid()
    if pid is None:
        pid_file().unlink(missing_ok=True)
        return "mosquitto is not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        _reap(pid)
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file().unlink(missing_ok=True)
    return f"mosquitto stopped (pid {pid})"


def _reap(pid: int) -> None:
    """Collect the exit status when this process started the broker (no zombie left behind)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def status() -> dict:
    host, port = systems.mqtt_host_port()
    pid = running_pid()
    return {
        "service": "mosquitto",
        "state": "running" if pid and reachable(host, port) else "stopped",
        "pid": pid,
        "address": f"{host}:{port}",
        "log": str(log_file()),
        "installed": binary() is not None,
    }
