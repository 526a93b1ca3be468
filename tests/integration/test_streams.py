"""The streams supervisor against real Mosquitto and real Kafka: it keeps an MQTT stream delivering,
restarts its connector with backoff after SIGKILL without losing a message, and reports the landing
group's lag (going to 0 once landed) in `hub streams status` and the service's /api/streams."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import connector_kit as kits  # noqa: E402  (tests/integration is on sys.path under pytest)
import pytest

from catalog.derive import topics

pytestmark = pytest.mark.kafka
HUB = str(Path(sys.executable).parent / "hub")


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def status(env) -> dict:
    """`hub streams status --json`, as a person would run it."""
    result = subprocess.run(
        [HUB, "streams", "status", "--json"], env=kits.subprocess_env(env), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stream_row(env, resource_id: str) -> dict | None:
    document = status(env)
    return next((row for row in document["streams"] if row["resource"] == resource_id), None)


def running_pid(env, resource_id: str, other_than: int | None = None) -> int | None:
    row = stream_row(env, resource_id)
    if row and row["state"] == "running" and row["pid"] and row["pid"] != other_than:
        return row["pid"]
    return None


def publish_in_background(kit, batches: int, size: int, pause: float) -> tuple[threading.Thread, list[str]]:
    published: list[str] = []

    def publish():
        for _ in range(batches):
            published.extend(kit.add(size))
            time.sleep(pause)

    thread = threading.Thread(target=publish)
    thread.start()
    return thread, published


def test_supervised_mqtt_stream_survives_sigkill_with_backoff_and_loses_nothing(
    tmp_path, monkeypatch, hub_env, kafka_bootstrap
):
    env = kits.Env(monkeypatch, HUB_VAR_DIR=str(hub_env))
    kit = kits.MqttKit(tmp_path, env)
    kit.resource.update_cycle = "实时"  # the supervisor finds it in the catalogue as a 实时 resource
    rid = kit.resource.id
    raw = topics(kit.resource)[0]
    kits.register([kit.resource])
    kit.prepare()  # the persistent session first, as `hub connect iot --prepare` does before sensors publish
    supervisor = subprocess.Popen(
        [HUB, "streams", "up", "--poll", "0.5"],
        env=kits.subprocess_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        first = wait_for(lambda: running_pid(env, rid), 60, "the stream to start")
        expected = kit.add(300)
        wait_for(lambda: (stream_row(env, rid) or {}).get("records_delivered", 0) >= 300, 60, "the first delivery")

        # Kill the connector while sensors keep publishing; the supervisor restarts it after 1 s.
        publisher, published = publish_in_background(kit, batches=10, size=200, pause=0.3)
        time.sleep(1.0)
        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: running_pid(env, rid, other_than=first), 60, "the first restart")
        killed_again_at = time.monotonic()
        os.kill(second, signal.SIGKILL)  # a second crash in a row: the wait doubles to 2 s
        third = wait_for(lambda: running_pid(env, rid, other_than=second), 60, "the second restart", interval=0.1)
        restarted_after = time.monotonic() - killed_again_at
        publisher.join(60)
        expected += published

        row = stream_row(env, rid)
        assert row["restarts"] == 2 and row["pid"] == third
        assert "SIGKILL" in (row["last_error"] or "")
        assert restarted_after >= 2.0, f"restarted {restarted_after:.1f} s after the second kill: no backoff"

        # Nothing lost: every published message is in Kafka; repeats are replays of the same record.
        def all_in_kafka():
            messages = kits.read_topic(raw)
            return messages if {m.key.decode() for m in messages} >= set(expected) else None

        messages = wait_for(all_in_kafka, 90, "every published message in Kafka", interval=1.0)
        assert {m.key.decode() for m in messages} == set(expected)
        by_key: dict[str, set[bytes]] = {}
        for message in messages:
            by_key.setdefault(message.key.decode(), set()).add(message.value)
        assert all(len(values) == 1 for values in by_key.values()), "a repeated key must carry the same record"
        assert len(messages) >= len(expected)
        repeats = sum(count - 1 for count in Counter(m.key for m in messages).values())
        print(f"published {len(expected)}, in Kafka {len(messages)} ({repeats} replays), restarts {row['restarts']}")

        # Lag: what is delivered and not landed; landing (the micro-batch DAG's step) brings it to 0.
        wait_for(lambda: (stream_row(env, rid) or {}).get("lag") == len(messages), 30, "the lag to show the backlog")
        from pipeline import flow

        landed = flow.land(rid)
        assert landed["rows"] + landed["dlq_rows"] == len(messages)
        settled = wait_for(lambda: (r := stream_row(env, rid)) and r["lag"] == 0 and r, 30, "lag 0 after landing")
        # Counted at each checkpoint: what a killed process sent after its last one is in Kafka, not in the count.
        assert 300 <= settled["records_delivered"] <= len(messages) and settled["last_delivered_at"]

        _service_shows_the_same_streams(rid, settled)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        output = supervisor.communicate(timeout=60)[0].decode(errors="replace")
        kit.close()
        for log in sorted((hub_env / "streams" / "logs").glob("*.log")):  # shown when the test fails
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        print(f"--- supervisor\n{output[-3000:]}")
    assert supervisor.returncode == 0, output
    stopped = status(env)
    assert stopped["supervisor"]["state"] == "stopped"
    assert [row["state"] for row in stopped["streams"]] == ["stopped"]
    with pytest.raises(ProcessLookupError):
        os.kill(third, 0)  # the supervisor stopped its connector on the way out


def _service_shows_the_same_streams(resource_id: str, row: dict) -> None:
    from fastapi.testclient import TestClient

    from catalog.service.app import create_app
    from hub import settings as hub_settings

    token = "streams-test-token-0123456789"
    os.environ["HUB_API_TOKEN"] = token
    hub_settings.reset_settings()
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            refused = client.get("/api/streams")
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
            answer = client.get("/api/streams", headers={"Authorization": f"Bearer {token}"})
    finally:
        del os.environ["HUB_API_TOKEN"]
        hub_settings.reset_settings()
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["supervisor"]["state"] == "running"
    [served] = [s for s in document["streams"] if s["resource"] == resource_id]
    assert served["state"] == "running" and served["restarts"] == row["restarts"] and served["lag"] == 0
