"""Airflow's public REST API (v2), as far as the demo and its tests need it: sign in with the simple
auth manager, wait for a DAG to be parsed, trigger a run, wait for it to finish, read task logs.

The runs go through the scheduler the UI shows, so every task's log is where an engineer looks for it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from hub.errors import HubError

FINISHED = ("success", "failed")
POLL_S = 2.0
# Waits before asking again when Airflow answers "Database error": on SQLite a write (unpausing a DAG,
# say) loses to a busy scheduler now and then (seen unpausing quality_docs after nineteen ingest runs).
BUSY_RETRY_S = (0.5, 1.0, 2.0, 4.0)


class AirflowApiError(HubError):
    """Airflow's API refused, timed out, or a run failed; the message names the DAG, run and tasks."""


def admin_password(home: Path, user: str = "admin") -> str:
    """The password `airflow standalone` generated for `user` (simple auth manager)."""
    generated = home / "simple_auth_manager_passwords.json.generated"
    if not generated.is_file():
        raise AirflowApiError(f"no generated passwords in {generated}: is `airflow standalone` running on this home?")
    return json.loads(generated.read_text())[user]


@dataclass
class AirflowApi:
    base_url: str
    username: str
    password: str
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        self._client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout_s)
        self._token: str | None = None

    def close(self) -> None:
        self._client.close()

    # --- plumbing -----------------------------------------------------------------------------------

    def _sign_in(self) -> str:
        answer = self._client.post("/auth/token", json={"username": self.username, "password": self.password})
        if answer.status_code not in (200, 201):
            raise AirflowApiError(f"Airflow at {self.base_url} refused to sign in {self.username}: {answer.text[:300]}")
        return answer.json()["access_token"]

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        if self._token is None:
            self._token = self._sign_in()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        answer = self._client.request(method, f"/api/v2{path}", headers=headers, **kwargs)
        if answer.status_code == 401:  # the token expired: sign in once more
            self._token = self._sign_in()
            headers["Authorization"] = f"Bearer {self._token}"
            answer = self._client.request(method, f"/api/v2{path}", headers=headers, **kwargs)
        return answer

    def _json(self, method: str, path: str, **kwargs) -> dict:
        answer = self._call(method, path, **kwargs)
        for wait_s in BUSY_RETRY_S:  # SQLite's metadata DB was locked by the scheduler: try again
            if answer.status_code != 500 or "Database error" not in answer.text:
                break
            time.sleep(wait_s)
            answer = self._call(method, path, **kwargs)
        if answer.status_code >= 400:
            raise AirflowApiError(f"{method} /api/v2{path} answered {answer.status_code}: {answer.text[:500]}")
        return answer.json()

    # --- what the demo does ---------------------------------------------------------------------------

    def wait_until_up(self, timeout_s: float = 240) -> None:
        """Until the API answers and the scheduler reports healthy."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                health = self._client.get("/api/v2/monitor/health")
                if health.status_code == 200 and health.json().get("scheduler", {}).get("status") == "healthy":
                    return
                last = health.text[:300]
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(POLL_S)
        raise AirflowApiError(f"Airflow at {self.base_url} not up within {timeout_s:.0f} s: {last}")

    def wait_for_dag(self, dag_id: str, timeout_s: float = 240) -> dict:
        """Until the DAG processor has parsed `dag_id`; unpauses it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                answer = self._call("GET", f"/dags/{quote(dag_id)}")
            except httpx.TimeoutException:
                time.sleep(POLL_S)
                continue
            if answer.status_code == 200:
                dag = answer.json()
                if dag.get("is_paused"):
                    dag = self._json("PATCH", f"/dags/{quote(dag_id)}", json={"is_paused": False})
                return dag
            time.sleep(POLL_S)
        errors = self._call("GET", "/importErrors").text[:1500]
        raise AirflowApiError(f"DAG {dag_id} not parsed within {timeout_s:.0f} s; import errors: {errors}")

    def scheduled_run(self, dag_id: str, wait_s: float = 60) -> str | None:
        """The run the scheduler starts for a scheduled DAG once it is unpaused (its latest interval,
        catchup off), so that running a DAG does not run it twice; None for a DAG without a schedule."""
        summary = self._json("GET", f"/dags/{quote(dag_id)}").get("timetable_summary")
        if not summary or summary == "None":
            return None
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            waiting = [run for run in self.runs(dag_id) if run.get("state") not in FINISHED]
            if waiting:
                return waiting[0]["dag_run_id"]
            time.sleep(POLL_S)
        return None

    def trigger(self, dag_id: str, note: str | None = None) -> str:
        """A new run of `dag_id` now; returns its run id."""
        body = {"logical_date": None, **({"note": note} if note else {})}
        return self._json("POST", f"/dags/{quote(dag_id)}/dagRuns", json=body)["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 1800) -> str:
        """Until the run has finished; returns its state (success or failed)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                state = self._json("GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}")["state"]
            except httpx.TimeoutException:  # SQLite busy under the scheduler's writes: ask again
                state = None
            if state in FINISHED:
                return state
            time.sleep(POLL_S)
        raise AirflowApiError(f"run {run_id} of {dag_id} not finished within {timeout_s:.0f} s")

    def runs(self, dag_id: str) -> list[dict]:
        return self._json("GET", f"/dags/{quote(dag_id)}/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        found = self._json(
            "GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances", params={"limit": 1000}
        )
        return found["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task: dict) -> str:
        """The full log of a task instance's latest try, as the UI shows it, one line per event."""
        path = f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task['task_id'])}/logs/{task['try_number']}"
        params = {"full_content": "true", "map_index": task.get("map_index", -1)}
        content = self._json("GET", path, params=params)["content"]
        return "\n".join(_log_line(entry) for entry in content)

    def run_to_completion(self, dag_id: str, timeout_s: float = 1800) -> tuple[str, list[dict]]:
        """Trigger `dag_id`, wait, and return (run id, task instances); raises with the failed tasks' log tails."""
        run_id = self.scheduled_run(dag_id) or self.trigger(dag_id)
        state = self.wait_for_run(dag_id, run_id, timeout_s)
        tasks = self.task_instances(dag_id, run_id)
        if state != "success":
            failed = [task for task in tasks if task["state"] in ("failed", "upstream_failed")]
            tails = "\n".join(
                f"--- {task['task_id']} ({task['state']}):\n"
                + "\n".join(self.task_log(dag_id, run_id, task).splitlines()[-15:])
                for task in failed
                if task["state"] == "failed"
            )
            raise AirflowApiError(
                f"run {run_id} of {dag_id} {state}: {', '.join(task['task_id'] for task in failed) or 'no task failed'}"
                f"\n{tails}\n(all logs in the Airflow UI: {self.base_url}/dags/{dag_id})"
            )
        return run_id, tasks


def _log_line(entry) -> str:
    # Airflow 3 returns structured events ({"event", "level", "timestamp", …}) or plain strings.
    if isinstance(entry, str):
        return entry
    level = entry.get("level", "")
    line = f"{entry.get('timestamp', '')} {level.upper() if level else ''} {entry.get('event', '')}".strip()
    # A failure's exception comes as error_detail: [{exc_type, exc_value, frames, …}, …] (chained causes).
    for error in entry.get("error_detail") or []:
        if isinstance(error, dict):
            line += f"\n    {error.get('exc_type', '')}: {error.get('exc_value', '')}"
    return line
