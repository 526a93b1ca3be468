"""Faults the connectors must survive without losing a record: SIGKILL mid-run, the MQTT broker
restarting under a running connector, and the video platform answering bursts of 503.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time

import connector_kit as kits  # noqa: E402  (tests/integration is on sys.path under pytest)
import pytest
import sqlalchemy as sa

from catalog.derive import topics
from connectors.base import load_state, state_path
from connectors.runner import run_resources

pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("kafka_backend")]  # once per Kafka client backend


def wait_for(condition, timeout: float, what: str, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def saved_count(resource_id: str) -> int:
    if not state_path(resource_id).exists():
        return 0
    totals = load_state(resource_id)["totals"]
    return totals["produced"] + totals["dlq"]


def test_sigkill_mid_run_then_rerun_loses_nothing(tmp_path, monkeypatch, hub_env, kafka_bootstrap):
    env = kits.Env(monkeypatch, HUB_VAR_DIR=str(hub_env))
    kit = kits.SqlKit(tmp_path, env)
    expected = []
    for _ in range(3):
        expected += kit.add(10_000, same_time=False)
    rid = kit.resource.id
    kits.register([kit.resource])
    command = kits.connect_command(rid, "--checkpoint-every", "2000")

    victim = subprocess.Popen(command, env=kits.subprocess_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: saved_count(rid) >= 4000 or victim.poll() is not None, 30, "two checkpoints")
        victim.send_signal(signal.SIGKILL)
    finally:
        output = victim.communicate(timeout=10)[0].decode(errors="replace")
    assert victim.returncode == -signal.SIGKILL, f"the connector ended before the kill:\n{output}"

    saved = load_state(rid)
    assert 4000 <= saved["totals"]["produced"] < len(expected), "the kill landed mid-run"
    in_kafka = {m.key.decode() for m in kits.read_topic(topics(kit.resource)[0])}
    # The state is never ahead of Kafka: every row up to the saved (cursor, rowid) is in the topic.
    position = saved["source"]
    with kit.engine.connect() as conn:
        covered = [
            r[0]
            for r in conn.execute(
                sa.text(f'SELECT bh FROM "{kit.table_name}" WHERE (updated_at, _rowid_) <= (:cursor, :after)'), position
            )
        ]
    assert len(covered) == saved["totals"]["produced"]
    assert set(covered) <= in_kafka

    rerun = subprocess.run(command, env=kits.subprocess_env(env), capture_output=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr.decode(errors="replace")
    messages = kits.read_topic(topics(kit.resource)[0])
    keys = [m.key.decode() for m in messages]
    assert set(keys) == set(expected), "every source record is in Kafka at least once"
    # Re-sent at most what was sent after the last save before the kill.
    assert len(keys) - len(expected) <= len(in_kafka) - len(covered)
    assert load_state(rid)["totals"]["produced"] == len(expected)


def test_mqtt_broker_restart_during_a_run(tmp_path, monkeypatch, hub_env, kafka_bootstrap, caplog):
    kit = kits.MqttKit(tmp_path, kits.Env(monkeypatch))
    broker = kit.broker
    try:
        kit.resource.binding.config.update(idle_s=3.0, reconnect_wait_s=20.0)
        kit.prepare()
        expected = kit.add(5000)
        reports: list = []
        caplog.set_level(logging.WARNING, logger="connectors")
        runner = threading.Thread(
            target=lambda: reports.extend(run_resources([kit.resource], progress=False, checkpoint_every=500))
        )
        runner.start()
        wait_for(lambda: saved_count(kit.resource.id) >= 1000, 20, "the connector to be mid-run")
        broker.stop()
        time.sleep(0.5)
        broker.start()
        runner.join(60)
        assert not runner.is_alive()
    finally:
        broker.stop()
    [report] = reports
    assert report.ok, report.error
    assert report.stats["disconnects"] >= 1 and report.stats["connects"] >= 2
    assert report.produced >= len(expected)  # at least once: what was unacknowledged at the restart came again
    keys = [m.key.decode() for m in kits.read_topic(topics(kit.resource)[0])]
    assert set(keys) == set(expected), "every published message is in Kafka at least once"
    assert any("lost the MQTT broker" in r.getMessage() for r in caplog.records)
    assert any("reconnected to the MQTT broker (session present: True)" in r.getMessage() for r in caplog.records)


def test_video_platform_503_bursts_are_retried_and_lose_nothing(
    tmp_path, monkeypatch, hub_env, kafka_bootstrap, caplog
):
    kit = kits.HttpKit(tmp_path, kits.Env(monkeypatch), page_size=5)
    try:
        expected = kit.add(30)
        caplog.set_level(logging.WARNING, logger="connectors")
        kit.service.fault_burst(3)  # the next three requests answer 503 + Retry-After: 1
        [report] = run_resources([kit.resource], progress=False)
        assert report.ok, report.error
        assert (report.stats["server_errors"], report.stats["retries"]) == (3, 3)
        retries = [r.getMessage() for r in caplog.records if "HTTP 503; retry" in r.getMessage()]
        assert len(retries) == 3 and kit.resource.id in retries[0]

        # A burst longer than the retry deadline stops the run cleanly; the rerun misses nothing.
        more = kit.add(20)
        kit.resource.binding.config["retry_deadline_s"] = 1.5
        kit.service.fault_burst(50)
        [failed] = run_resources([kit.resource], progress=False)
        assert failed.error_kind == "retriable" and "still fails after" in failed.error and "rerun" in failed.error
        kit.service.fault_burst(0)
        [rerun] = run_resources([kit.resource], progress=False)
        assert rerun.ok and rerun.produced == len(more)
    finally:
        kit.close()
    keys = [m.key.decode() for m in kits.read_topic(topics(kit.resource)[0])]
    assert sorted(keys) == sorted(expected + more), "every event once: nothing lost, nothing doubled"


def test_rate_limit_429_honours_retry_after(tmp_path, monkeypatch, hub_env, kafka_bootstrap):
    kit = kits.HttpKit(tmp_path, kits.Env(monkeypatch), page_size=4, rate=3.0)  # 3 requests/s, bucket of 3
    try:
        expected = kit.add(24)
        [report] = run_resources([kit.resource], progress=False)
    finally:
        kit.close()
    assert report.ok, report.error
    assert report.stats["throttled"] >= 1 and report.produced == len(expected)


def test_a_request_the_platform_rejects_is_fatal(tmp_path, monkeypatch, hub_env, kafka_bootstrap):
    kit = kits.HttpKit(tmp_path, kits.Env(monkeypatch))
    try:
        kit.add(3)
        kit.resource.binding.config["endpoint"] = "/api/v1/no-such-endpoint"
        [report] = run_resources([kit.resource], progress=False)
    finally:
        kit.close()
    assert report.error_kind == "fatal"
    assert "HTTP 404" in report.error and "fix binding.config" in report.error
    assert report.stats["retries"] == 0


def test_follow_picks_up_new_rows_and_sigterm_stops_cleanly(tmp_path, monkeypatch, hub_env, kafka_bootstrap):
    env = kits.Env(monkeypatch, HUB_VAR_DIR=str(hub_env))
    kit = kits.SqlKit(tmp_path, env)
    expected = kit.add(5)
    kits.register([kit.resource])
    command = kits.connect_command(kit.resource.id, "--follow", "--poll", "0.2")
    follower = subprocess.Popen(command, env=kits.subprocess_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # The first pass includes the CLI's start-up: ~20 s on a busy 2-core machine (load ~17).
        wait_for(lambda: saved_count(kit.resource.id) == 5, 60, "the first pass", interval=0.05)
        expected += kit.add(3)
        wait_for(lambda: saved_count(kit.resource.id) == 8, 20, "the new rows", interval=0.05)
        follower.send_signal(signal.SIGTERM)
        output = follower.communicate(timeout=20)[0].decode(errors="replace")
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 130, output
    assert "interrupted" in output
    keys = [m.key.decode() for m in kits.read_topic(topics(kit.resource)[0])]
    assert sorted(keys) == sorted(expected)
