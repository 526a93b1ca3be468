"""The `mqtt` kind: IoT telemetry from the broker, QoS 1, on a persistent session.

The broker holds the state: the session (fixed client id `hub-connector-<resource>`, clean_start
False, no expiry) keeps every message published while the connector is away, and a message is
acknowledged (PUBACK, paho's manual_ack) only when Kafka confirmed its delivery — `delivered()` is
called from the producer's I/O thread. A PUBACK is never sent for a message received on an earlier
connection: after a reconnect the broker redelivers it (a duplicate, never a loss).
A read ends after `idle_s` seconds (default 2) without a message; time spent disconnected does not
count as idle, and a broker away longer than `reconnect_wait_s` (default 30) stops the run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from connectors.base import BaseSource, SourceItem, SourceRecord, Unreadable
from connectors.errors import SourceUnavailable
from connectors.systems import mqtt_host_port

log = logging.getLogger(__name__)

SESSION_NEVER_EXPIRES = 0xFFFFFFFF
# How many unacknowledged messages the broker may have in flight to us (MQTT 5 Receive Maximum):
# acks wait for Kafka, so a small window (Mosquitto's default is 20) would throttle the connector.
RECEIVE_MAXIMUM = 2000
CONNECT_TIMEOUT_S = 10.0


def client_id(resource_id: str) -> str:
    return f"hub-connector-{resource_id}"


class MqttSource(BaseSource):
    kind = "mqtt"
    acks_deliveries = True
    required_config = ("topic_filter",)

    def __init__(self, resource, binding):
        super().__init__(resource, binding)
        self.topic_filter = str(self.config["topic_filter"])
        self.idle_s = float(self.config.get("idle_s", 2.0))
        self.reconnect_wait_s = float(self.config.get("reconnect_wait_s", 30.0))
        self.stats = {"messages": 0, "acked": 0, "stale_acks_skipped": 0, "connects": 0, "disconnects": 0}
        self._messages: queue.SimpleQueue = queue.SimpleQueue()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._generation = 0
        self._client: mqtt.Client | None = None

    @property
    def object_name(self) -> str:
        return self.topic_filter

    # ---- session ----------------------------------------------------------------------------------

    def _ensure_connected(self) -> None:
        if self._client is None:
            host, port = mqtt_host_port()
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id(self.resource.id),
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
            client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
            client.on_subscribe, client.on_message = self._on_subscribe, self._on_message
            client.reconnect_delay_set(min_delay=0.2, max_delay=2)
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_NEVER_EXPIRES
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            try:
                client.connect(host, port, keepalive=15, clean_start=False, properties=properties)
            except OSError as exc:
                raise SourceUnavailable(
                    f"MQTT broker {host}:{port} is not reachable ({exc}); "
                    f"start it with `hub sources up` or set HUB_MQTT_HOST/HUB_MQTT_PORT"
                ) from None
            client.loop_start()
            self._client = client
        if not self._subscribed.wait(CONNECT_TIMEOUT_S):
            raise SourceUnavailable(
                f"resource {self.resource.id!r}: no subscription to {self.topic_filter!r} "
                f"within {CONNECT_TIMEOUT_S:.0f} s; is the MQTT broker up (`hub sources up`)?"
            )

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("%s: MQTT broker refused the connection: %s", self.resource.id, reason_code)
            return
        # Runs on the network thread before any message of this connection is handed to on_message.
        self._generation += 1
        self.stats["connects"] += 1
        if self.stats["connects"] > 1:
            log.warning(
                "%s: reconnected to the MQTT broker (session present: %s); unacknowledged messages come again",
                self.resource.id,
                flags.session_present,
            )
        self._connected.set()
        client.subscribe(self.topic_filter, options=SubscribeOptions(qos=1))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error(
                "%s: the broker refused the subscription to %r: %s", self.resource.id, self.topic_filter, reason_codes
            )
            return
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if self._client is not None:  # not our own close()
            self.stats["disconnects"] += 1
            log.warning("%s: lost the MQTT broker (%s); reconnecting", self.resource.id, reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self._messages.put((self._generation, message))

    def prepare(self) -> None:
        """Create the persistent session and its subscription, so the broker keeps what comes next."""
        self._ensure_connected()

    # ---- reading and acknowledging ----------------------------------------------------------------

    def read(self, state: dict) -> Iterator[SourceItem]:
        self._ensure_connected()
        quiet_since = time.monotonic()
        away_since: float | None = None
        while True:
            try:
                generation, message = self._messages.get(timeout=0.1)
            except queue.Empty:
                now = time.monotonic()
                if not self._connected.is_set():
                    away_since = away_since or now
                    if now - away_since > self.reconnect_wait_s:
                        raise SourceUnavailable(
                            f"resource {self.resource.id!r}: the MQTT broker has been away for {self.reconnect_wait_s:.0f} s; "
                            f"unacknowledged messages stay in the session — rerun when it is back"
                        ) from None
                    quiet_since = now
                    continue
                away_since = None
                if now - quiet_since >= self.idle_s:
                    return
                continue
            quiet_since = time.monotonic()
            self.stats["messages"] += 1
            yield self._item(generation, message)

    def _item(self, generation: int, message) -> SourceItem:
        position = (generation, message.mid, message.qos)
        payload = message.payload
        try:
            value = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return Unreadable(payload, f"topic {message.topic}: payload is not UTF-8 JSON ({exc})", position)
        if not isinstance(value, dict):
            return Unreadable(
                payload, f"topic {message.topic}: payload is JSON {type(value).__name__}, expected an object", position
            )
        return SourceRecord(value, position)

    def advance(self, state: dict, position) -> None:
        """Nothing to keep locally: the broker's session is the state."""

    def delivered(self, position) -> None:
        generation, mid, qos = position
        if qos == 0 or self._client is None:
            return
        if generation != self._generation:
            self.stats["stale_acks_skipped"] += 1  # the broker redelivers it on this connection
            return
        self._client.ack(mid, qos)
        self.stats["acked"] += 1

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()  # queued after the PUBACKs, so they reach the broker first
            client.loop_stop()
        self._subscribed.clear()
        self._connected.clear()
        # Messages received but not sent come again from the session; keeping them would only duplicate.
        while not self._messages.empty():
            self._messages.get_nowait()
