"""Helpers of the end-to-end tests (imported as `e2e_kit`: tests/e2e is on sys.path)."""

from __future__ import annotations

import json
import subprocess

from sim_kit import HUB, REPO, free_port, isolated_env  # noqa: F401 (re-exported for the e2e modules)


def hub_json(env, *args) -> dict:
    out = subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout)
