"""The streams supervisor's status as people read it: `hub streams status` and the service's
/api/streams. The supervisor (pipeline/streams.py) writes the file under the path the settings name
(`Settings.streams_dir`); this module only reads it, so the service needs no Kafka and no pipeline.
"""

from __future__ import annotations

import time

import orjson

from hub.settings import get_settings

# The supervisor rewrites the file every few seconds: older than this, it is not running any more.
SUPERVISOR_STALE_S = 20.0


def read_status() -> dict:
    """{supervisor: {state, pid, started_at, heartbeat_at, heartbeat_age_s, status_file}, streams: [...]}.

    supervisor.state: running | stopped (it said so on its way out) | stale (its heartbeat stopped:
    killed, or the machine slept) | not started (no status file)."""
    path = get_settings().streams_dir / "status.json"
    try:
        document = orjson.loads(path.read_bytes())
        # Liveness is wall-clock time (the file's age), not the hub's clock, which a simulation may pin.
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return {"supervisor": {"state": "not started", "status_file": str(path)}, "streams": []}
    except orjson.JSONDecodeError as exc:  # written atomically, so only a hand-edited file gets here
        return {"supervisor": {"state": "unreadable", "status_file": str(path), "error": str(exc)}, "streams": []}
    supervisor = document.get("supervisor") or {}
    if supervisor.get("state") == "running" and age > SUPERVISOR_STALE_S:
        supervisor["state"] = "stale"
        for stream in document.get("streams") or []:
            stream["state"] = f"unknown (supervisor {supervisor['state']})"
    supervisor["heartbeat_age_s"] = round(age, 1)
    supervisor["status_file"] = str(path)
    return {"supervisor": supervisor, "streams": document.get("streams") or []}
