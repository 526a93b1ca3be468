"""Helpers of the end-to-end tests (imported as `e2e_kit`: tests/e2e is on sys.path)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HUB = str(Path(sys.executable).parent / "hub")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hub_json(env, *args) -> dict:
    out = subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout)
