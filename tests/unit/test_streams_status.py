"""The streams supervisor's pure parts: the restart backoff and how its status file is read."""

from __future__ import annotations

import os
import time

import orjson
import pytest

from catalog.streams import read_status
from pipeline.streams import backoff_seconds


def test_backoff_doubles_per_crash_in_a_row_and_is_capped():
    assert [backoff_seconds(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert backoff_seconds(30) == 300.0
    assert backoff_seconds(0) == 1.0


def _write(hub_env, age_s: float, state: str = "running") -> None:
    """A status file as the supervisor leaves it, last rewritten `age_s` seconds ago."""
    path = hub_env / "streams" / "status.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "supervisor": {"state": state, "pid": 4242, "heartbeat_at": "2026-12-06T03:00:00+00:00"},
        "streams": [{"resource": "air_quality", "state": "running", "pid": 4343, "restarts": 1, "lag": 0}],
    }
    path.write_bytes(orjson.dumps(document))
    written = time.time() - age_s
    os.utime(path, (written, written))


def test_no_status_file_reads_as_not_started(hub_env):
    assert read_status() == {
        "supervisor": {"state": "not started", "status_file": str(hub_env / "streams" / "status.json")},
        "streams": [],
    }


@pytest.mark.parametrize(
    ("age_s", "written", "seen", "stream_state"),
    [
        (5, "running", "running", "running"),
        (60, "running", "stale", "unknown (supervisor stale)"),  # killed without a word: nothing is known
        (600, "stopped", "stopped", "running"),  # its last word stands
    ],
)
def test_supervisor_state_follows_its_heartbeat(hub_env, age_s, written, seen, stream_state):
    _write(hub_env, age_s, written)
    document = read_status()
    assert document["supervisor"]["state"] == seen
    assert abs(document["supervisor"]["heartbeat_age_s"] - age_s) < 2
    assert document["streams"][0]["state"] == stream_state
