"""`hub sources publish`: the sensors send what `hub seed` put in the outbox, QoS 1, each message
acknowledged by the broker (PUBACK) before the count moves on. A marker file remembers how many
outbox lines went out, so a later step publishes only its new messages (`--all` starts over).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt

from connectors import systems
from synthetic.mosquitto import MosquittoError
from synthetic.sinks import IOT_OUTBOX

PUBLISHED_MARKER = "iot_outbox.published"
WINDOW = 200  # messages in flight before waiting for their PUBACKs
ACK_TIMEOUT_S = 30.0


def outbox_path() -> Path:
    return systems.sources_dir() / IOT_OUTBOX


def _marker() -> Path:
    return systems.sources_dir() / PUBLISHED_MARKER


def published_count() -> int:
    try:
        return int(_marker().read_text().strip())
    except (OSError, ValueError):
        return 0


def pending_messages(start: int) -> Iterator[dict]:
    """Outbox lines from line number `start` (0-based) on."""
    path = outbox_path()
    if not path.exists():
        raise MosquittoError(f"no outbox at {path}: run `hub seed` first")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number >= start:
                yield json.loads(line)


def publish(rate: float | None = None, *, everything: bool = False, client_id: str = "hub-sensors") -> int:
    """Publish the outbox's unpublished messages (all with `everything`); returns how many went out."""
    host, port = systems.mqtt_host_port()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(0)
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise MosquittoError(f"cannot reach the MQTT broker at {host}:{port} ({exc}): run `hub sources up`") from exc
    client.loop_start()
    start = 0 if everything else published_count()
    sent, in_flight, started = 0, [], time.monotonic()
    try:
        for message in pending_messages(start):
            in_flight.append(
                client.publish(message["topic"], message["payload"].encode("utf-8"), qos=int(message.get("qos", 1)))
            )
            sent += 1
            if len(in_flight) >= WINDOW:
                _wait_acks(in_flight)
                _marker().write_text(f"{start + sent}\n")
            if rate:
                pause = started + sent / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        _wait_acks(in_flight)
        _marker().write_text(f"{start + sent}\n")
    finally:
        client.disconnect()  # first: it wakes the network loop, so loop_stop returns at once
        client.loop_stop()
    return sent


def _wait_acks(in_flight: list) -> None:
    for info in in_flight:
        info.wait_for_publish(timeout=ACK_TIMEOUT_S)
        if not info.is_published():
            raise MosquittoError(
                f"the broker did not acknowledge message {info.mid} within {ACK_TIMEOUT_S:.0f} s; "
                "check `hub sources status` and retry `hub sources publish`"
            )
    in_flight.clear()
