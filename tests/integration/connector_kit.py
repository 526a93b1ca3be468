"""Small real sources for the connector tests, one kit per source kind, plus Kafka read helpers.

Each kit owns a tiny source of the contract's shape in a tmp dir (written through the synthetic
systems' own writers where they exist), a catalogue resource bound to it under a unique id, and
`add(n) -> keys` / `add_unreadable()` to grow it between connector runs.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from kafka import TopicPartition

from catalog.spec import Binding, Item, Resource
from hub.settings import reset_settings

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=CST)
ITEMS = [
    Item(name="bh", label="编号", type="C", length=20, nullable=False, key=True),
    Item(name="mc", label="名称", type="C", length=50),
    Item(name="sl", label="数量", type="N"),
    Item(name="rq", label="日期", type="D"),
    Item(name="gxsj", label="更新时间", type="T"),
]


class Env(dict):
    """The settings a kit needs: applied to this process at once (through monkeypatch) and kept,
    so a subprocess can be given the same."""

    def __init__(self, monkeypatch, **initial: str):
        super().__init__()
        self.monkeypatch = monkeypatch
        for name, value in initial.items():
            self.set(name, value)

    def set(self, name: str, value: str) -> None:
        self[name] = value
        self.monkeypatch.setenv(name, value)
        reset_settings()  # source endpoints are settings fields, read once per process


def make_resource(kind: str, system: str, config: dict, items=None, prefix: str = "t") -> Resource:
    """A bound catalogue resource with an id (and so topics) no other test uses."""
    rid = f"{prefix}_{kind}_{uuid.uuid4().hex[:10]}"
    return Resource(
        id=rid,
        code="301001/000001",
        name=f"测试资源 {rid}",
        provider="gaj",
        classification="部门/测试/测试",
        abstract="连接器测试",
        format="数据库",
        domain="population",
        update_cycle="每日",
        sharing_type="无条件共享",
        open_type="不开放",
        release_date=T0.date(),
        items=list(items or ITEMS),
        binding=Binding(kind=kind, system=system, config=config),
    )


def row(number: int) -> dict:
    return {
        "bh": f"B{number:06d}",
        "mc": f"名称{number}",
        "sl": number * 1.5,
        "rq": (T0.date() - timedelta(days=number % 300)).isoformat(),
        "gxsj": (T0 + timedelta(minutes=number)).isoformat(),
    }


# ---- Kafka -----------------------------------------------------------------------------------------


def read_topic(topic: str, start: dict | None = None) -> list:
    """Every message of `topic` (from `start` offsets if given), read up to the current end."""
    from hub.kafka_clients import make_consumer

    consumer = make_consumer(group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return []
        consumer.assign(assigned)
        ends = consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        messages = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < ends[tp] for tp in assigned) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
        return messages
    finally:
        consumer.close()


def end_offsets(topic: str) -> dict[int, int]:
    from hub.kafka_clients import make_consumer

    consumer = make_consumer(group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        consumer.close()


def events_for(resource_id: str, start: dict) -> list[dict]:
    from hub.events import decode_event
    from hub.topics import events_topic

    found = [decode_event(m.value) for m in read_topic(events_topic(), start) if m.key == resource_id.encode()]
    return [e for e in found if e["type"] == "connector.produced"]


# ---- sql -------------------------------------------------------------------------------------------


class SqlKit:
    kind = "sql"

    def __init__(self, tmp: Path, env: Env, url: str | None = None):
        from synthetic.sqlstore import SqlTable

        url = url or f"sqlite:///{tmp / 'population_db.sqlite'}"
        env.set("HUB_SOURCE_POPULATION_DB_URL", url)
        self.table_name = f"rk_{uuid.uuid4().hex[:8]}"
        self.resource = make_resource("sql", "population_db", {"table": self.table_name, "cursor_column": "updated_at"})
        self.engine = sa.create_engine(url)
        self.table = SqlTable(self.engine, self.resource)
        self.table.recreate()
        self.next_number = 0
        self.tick = T0

    def _clock(self, count: int, same_time: bool):
        from synthetic.base import Clock

        start = self.tick
        end = start if same_time else start + timedelta(seconds=count)
        self.tick = end + timedelta(seconds=1)
        return Clock(start, end, count)

    def add(self, count: int, same_time: bool = True) -> list[str]:
        """`count` new rows; by default all with one cursor value (the tie a bulk insert makes)."""
        rows = [row(self.next_number + i) for i in range(count)]
        self.next_number += count
        self.table.insert(rows, self._clock(count, same_time))
        return [r["bh"] for r in rows]

    def add_unreadable(self) -> list[str]:
        broken = row(900_000 + self.next_number) | {"mc": b"\xff\xfe" + "名称".encode("gbk")}
        self.next_number += 1
        self.table.insert([broken], self._clock(1, True))
        return []

    def close(self) -> None:
        self.engine.dispose()


# ---- file ------------------------------------------------------------------------------------------


class FileKit:
    """Alternates GeoJSON (EPSG:4490 points) and GeoPackage (EPSG:4547 polygons) files in one drop folder."""

    kind = "file"

    def __init__(self, tmp: Path, env: Env):
        self.drop = tmp / "gis_drop"
        env.set("HUB_GIS_DROP_DIR", str(self.drop))
        items = ITEMS + [Item(name="geometry", label="几何", type="C"), Item(name="crs", label="坐标系", type="C")]
        self.resource = make_resource("file", "gis_drop", {"pattern": "parcels/*", "crs": 4490}, items)
        self.next_number = 0
        self.files = 0

    def _features(self, count: int, polygon: bool) -> tuple[list[dict], list[str]]:
        features = []
        for i in range(count):
            props = row(self.next_number + i)
            x, y = 113.2 + i * 1e-4, 22.8 + i * 1e-4
            if polygon:
                x, y = 400_000.0 + i, 2_520_000.0 + i
                geometry = {"type": "Polygon", "coordinates": [[[x, y], [x + 10, y], [x + 10, y + 10], [x, y]]]}
            else:
                geometry = {"type": "Point", "coordinates": [x, y]}
            features.append({"properties": props, "geometry": geometry})
        self.next_number += count
        return features, [f["properties"]["bh"] for f in features]

    def add(self, count: int, unreadable: bool = False) -> list[str]:
        from synthetic.gisfiles import GpkgWriter, write_geojson

        self.files += 1
        gpkg = self.files % 2 == 0
        features, keys = self._features(count, polygon=gpkg)
        if unreadable:
            broken = {"properties": row(800_000 + self.next_number)}
            if gpkg:
                broken["geom_blob"] = b"\x00\x01broken"
            features.insert(count // 2, broken)
        folder = self.drop / "parcels"
        if gpkg:
            columns = {"bh": "TEXT", "mc": "TEXT", "sl": "REAL", "rq": "TEXT", "gxsj": "TEXT"}
            writer = GpkgWriter(
                folder / f"part{self.files:03d}.gpkg", "parcels", 4547, "Polygon", columns, T0.isoformat()
            )
            writer.add(features)
            writer.close()
            writer.db.close()
        else:
            write_geojson(folder / f"part{self.files:03d}.geojson", "parcels", 4490, features)
        return keys

    def add_unreadable(self) -> list[str]:
        """A file with a feature that has no (or a broken) geometry: the contract's DLQ case for files."""
        return self.add(2, unreadable=True)

    def close(self) -> None:
        pass


# ---- mqtt ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """The synthetic systems' own Mosquitto (synthetic.mosquitto) on a free port, under
    this test's HUB_VAR_DIR, so a test can restart it."""

    def __init__(self, env: Env):
        from synthetic import mosquitto

        self.port = free_port()
        env.set("HUB_MQTT_HOST", "127.0.0.1")
        env.set("HUB_MQTT_PORT", str(self.port))
        self.module = mosquitto

    def start(self) -> None:
        self.module.up()

    def stop(self) -> None:
        self.module.down()


class MqttKit:
    kind = "mqtt"

    def __init__(self, tmp: Path, env: Env):
        self.broker = Broker(env)
        self.broker.start()
        self.device_type = f"t{uuid.uuid4().hex[:8]}"
        items = [
            Item(name="device_id", label="设备编码", type="C", nullable=False, key=True),
            Item(name="ts", label="采集时间", type="T", nullable=False, key=True),
            Item(name="value", label="读数", type="N"),
            Item(name="town", label="镇街", type="C"),
        ]
        self.resource = make_resource(
            "mqtt", "iot_broker", {"topic_filter": f"sd/+/{self.device_type}/+/telemetry", "idle_s": 1.0}, items
        )
        self.next_number = 0
        self._publisher = None

    def prepare(self) -> None:
        """The connector's persistent session, created before the sensors publish (as `hub connect` does)."""
        from connectors.kinds import make_source

        source = make_source(self.resource)
        source.prepare()
        source.close()

    def publish(self, payloads: list[tuple[str, bytes]]) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sensor-{uuid.uuid4().hex[:6]}")
        client.max_inflight_messages_set(1000)
        client.connect("127.0.0.1", self.broker.port)
        client.loop_start()
        try:
            infos = [client.publish(topic, payload, qos=1) for topic, payload in payloads]
            for info in infos:
                info.wait_for_publish(10)
        finally:
            client.disconnect()
            client.loop_stop()

    def add(self, count: int) -> list[str]:
        messages, keys = [], []
        for i in range(count):
            number = self.next_number + i
            device = f"D{number % 7:04d}"
            ts = (T0 + timedelta(seconds=number)).isoformat()
            payload = {"device_id": device, "ts": ts, "value": number / 10, "town": "440606005"}
            messages.append((f"sd/440606005/{self.device_type}/{device}/telemetry", json.dumps(payload).encode()))
            keys.append(f"{device}|{ts}")
        self.next_number += count
        self.publish(messages)
        return keys

    def add_unreadable(self) -> list[str]:
        self.publish([(f"sd/440606005/{self.device_type}/D9999/telemetry", b'{"device_id":"D9999","value":')])
        return []

    def close(self) -> None:
        self.broker.stop()


# ---- http ------------------------------------------------------------------------------------------


class VideoService:
    """The synthetic video platform (synthetic.video_service) served in a thread on a free
    port, from the store under this test's HUB_VAR_DIR."""

    def __init__(self, env: Env, rate: float = 1000.0):
        from connectors import systems
        from synthetic.sinks import VIDEO_STORE
        from synthetic.video_service import build_server

        port = free_port()
        env.set("HUB_VIDEO_URL", f"http://127.0.0.1:{port}")
        self.url = f"http://127.0.0.1:{port}"
        self.server = build_server(
            "127.0.0.1", port, systems.sources_dir() / VIDEO_STORE, rate=rate, fault_rate=0.0, fault_burst=0
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fault_burst(self, count: int) -> None:
        """The next `count` requests answer 503 (the service's own admin endpoint)."""
        import httpx

        httpx.post(f"{self.url}/_admin/fault-burst", params={"n": count}).raise_for_status()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


STATUS_ITEMS = [
    Item(name="device_id", label="设备编码", type="C", nullable=False, key=True),
    Item(name="ts", label="事件时间", type="T", nullable=False, key=True),
    Item(name="status", label="状态", type="C"),
    Item(name="reason", label="原因", type="C"),
]


class HttpKit:
    """Device status events behind the video platform's cursor endpoint, in small pages."""

    kind = "http"

    def __init__(
        self, tmp: Path, env: Env, endpoint: str = "/api/v1/device-status", page_size: int = 7, rate: float = 1000.0
    ):
        self.resource = make_resource(
            "http", "video_platform", {"endpoint": endpoint, "page_size": page_size}, STATUS_ITEMS
        )
        self.service = VideoService(env, rate)
        self.next_number = 0
        self.step = 0

    def _write(self, rows: list[dict]) -> None:
        from types import SimpleNamespace

        from synthetic.sinks import HttpSink

        context = SimpleNamespace(resource=self.resource, step=self.step, key_columns=lambda: ["device_id", "ts"])
        sink = HttpSink(context)  # step 0 creates the endpoint's table afresh, later steps append
        try:
            sink.write(rows)
        finally:
            sink.close()
        self.step += 1

    def add(self, count: int) -> list[str]:
        rows = []
        for i in range(count):
            number = self.next_number + i
            rows.append(
                {
                    "device_id": f"4406060500132{number:07d}",
                    "ts": (T0 + timedelta(seconds=number)).isoformat(),
                    "status": "ON" if number % 3 else "OFF",
                    "reason": "keepalive",
                }
            )
        self.next_number += count
        self._write(rows)
        return [f"{r['device_id']}|{r['ts']}" for r in rows]

    def add_unreadable(self) -> list[str]:
        """An event without its device id: the platform leaves the key out, the record cannot be keyed."""
        self._write([{"device_id": None, "ts": T0.isoformat(), "status": "OFF", "reason": "unregister"}])
        return []

    def close(self) -> None:
        self.service.stop()


def subprocess_env(env: dict) -> dict:
    """The current environment plus the kit's settings, for `python -m connectors.cli`."""
    return {**os.environ, **env, "PYTHONUNBUFFERED": "1"}


def register(resources: list[Resource]) -> None:
    """Load `resources` into the test home's catalogue database, as `hub catalog load` would: the
    connectors read their bindings from there."""
    from datetime import datetime, timezone

    from catalog.db import session_scope
    from catalog.spec import Catalogue, Department
    from catalog.store import load_catalogue_into

    gaj = Department(id="gaj", name="佛山市顺德区公安分局", code="11440606MB2C9035XG", division="440606")
    with session_scope() as session:
        load_catalogue_into(session, Catalogue(departments=[gaj], resources=resources), now=datetime.now(timezone.utc))


def connect_command(target: str, *extra: str) -> list[str]:
    import sys

    return [
        sys.executable,
        "-m",
        "connectors.cli",
        "connect",
        target,
        "--no-progress",
        *extra,
    ]
