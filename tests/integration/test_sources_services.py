"""The synthetic sources' running services against real clients: the video platform's HTTP API
(paging, cursors, 429 / 503 with Retry-After, 400 / 404) with httpx, and a real Mosquitto that
delivers the seeded IoT outbox to a paho subscriber, also to a persistent session that was away."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from hub.settings import reset_settings
from synthetic import generate, mosquitto, publisher, services
from synthetic.base import SyntheticError
from synthetic.sinks import VIDEO_STORE
from synthetic.video_service import build_server, encode_cursor

# Every test runs with an isolated HUB_VAR_DIR (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hub_env")

VIDEO = {"camera_devices", "camera_status"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def platform(hub_env):
    """The seeded store served in-process; yields (base url, server, manifest)."""
    manifest = generate.seed("tiny", 8, only=VIDEO)
    servers = []

    def serve(**settings):
        server = build_server("127.0.0.1", free_port(), hub_env / "sources" / VIDEO_STORE, **settings)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve, manifest
    for server in servers:
        server.shutdown()
        server.server_close()


def test_devices_page_through_the_whole_catalogue(platform):
    serve, manifest = platform
    base = serve(rate=1000, fault_rate=0, fault_burst=0)
    with httpx.Client(base_url=base) as client:
        first = client.get("/api/v1/devices", params={"page": 1, "page_size": 7}).json()
        assert first["total"] == manifest["resources"]["camera_devices"]["records"]
        assert (first["page"], first["page_size"], len(first["items"])) == (1, 7, 7)
        items, page = [], 1
        while True:
            body = client.get("/api/v1/devices", params={"page": page, "page_size": 7}).json()
            if not body["items"]:
                break
            items += body["items"]
            page += 1
    assert len(items) == first["total"]
    names = ["device_id", "name", "manufacturer", "status", "longitude", "latitude"]
    assert all(set(names) <= set(item) for item in items if "device_id" in item)
    assert sum("device_id" not in item for item in items) == 1  # the unreadable item: no DeviceID at all


def test_status_events_follow_the_cursor_in_order(platform):
    serve, manifest = platform
    base = serve(rate=1000, fault_rate=0, fault_burst=0)
    events, cursor = [], None
    with httpx.Client(base_url=base) as client:
        while True:
            params = {"limit": 25, **({"after": cursor} if cursor else {})}
            body = client.get("/api/v1/device-status", params=params).json()
            if body["next"] is None:
                assert body["items"] == []
                break
            events += body["items"]
            cursor = body["next"]
        assert client.get("/api/v1/device-status", params={"after": cursor}).json() == {"items": [], "next": None}
    assert len(events) == manifest["resources"]["camera_status"]["records"]
    stamps = [event["ts"] for event in events]
    assert stamps == sorted(stamps)


def test_bad_requests_are_400_and_unknown_paths_404(platform):
    serve, _manifest = platform
    base = serve(rate=1000, fault_rate=0, fault_burst=0)
    with httpx.Client(base_url=base) as client:
        assert client.get("/api/v1/devices", params={"page_size": 0}).status_code == 400
        assert client.get("/api/v1/devices", params={"page": "x"}).status_code == 400
        assert client.get("/api/v1/device-status", params={"after": "not-a-cursor"}).status_code == 400
        assert client.get("/api/v1/device-status", params={"after": encode_cursor(-1)}).status_code == 400
        assert client.get("/api/v1/nothing").status_code == 404


def test_rate_limit_answers_429_with_retry_after(platform):
    serve, _manifest = platform
    base = serve(rate=3, fault_rate=0, fault_burst=0)
    with httpx.Client(base_url=base) as client:
        answers = [client.get("/api/v1/devices") for _ in range(10)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited and all(a.headers["Retry-After"] == "1" for a in limited)
        assert client.get("/healthz").status_code == 200  # health checks are never limited
        time.sleep(1.1)
        assert client.get("/api/v1/devices").status_code == 200


def test_fault_bursts_answer_503_then_recover(platform):
    serve, _manifest = platform
    base = serve(rate=1000, fault_rate=0, fault_burst=3)
    with httpx.Client(base_url=base) as client:
        codes = [client.get("/api/v1/devices").status_code for _ in range(4)]
        assert codes == [503, 503, 503, 200]
        assert client.post("/_admin/fault-burst", params={"n": 2}).json() == {"fault_burst": 2}
        failed = client.get("/api/v1/device-status")
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
        assert [client.get("/api/v1/devices").status_code for _ in range(2)] == [503, 200]


def test_random_faults_hit_a_fraction_of_requests(platform):
    serve, _manifest = platform
    base = serve(rate=10_000, fault_rate=0.3, fault_burst=0)
    with httpx.Client(base_url=base) as client:
        codes = [client.get("/api/v1/devices", params={"page_size": 1}).status_code for _ in range(100)]
    assert 10 <= codes.count(503) <= 60 and codes.count(200) == 100 - codes.count(503)


def test_sources_up_runs_the_service_in_the_background(hub_env, monkeypatch):
    generate.seed("tiny", 8, only=VIDEO)
    monkeypatch.setenv("HUB_VIDEO_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HUB_VIDEO_FAULT_RATE", "0")
    reset_settings()
    try:
        assert "started" in services.video_up()
        assert "already running" in services.video_up()
        assert httpx.get(f"{services.systems.video_url()}/api/v1/devices").status_code == 200
    finally:
        assert "stopped" in services.video_down()
    assert services.video_pid() is None


@pytest.fixture
def broker(hub_env, monkeypatch):
    monkeypatch.setenv("HUB_MQTT_PORT", str(free_port()))
    reset_settings()
    try:
        mosquitto.up()
    except SyntheticError as exc:
        pytest.skip(f"mosquitto unavailable ({exc}); install it with `apt-get install mosquitto`")
    yield mosquitto.status()
    mosquitto.down()


def _subscriber(client_id: str, received: list, *, clean: bool):
    import paho.mqtt.client as mqtt

    from connectors.systems import mqtt_host_port

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv311
    )
    client.on_message = lambda _client, _userdata, message: received.append((message.topic, message.payload))
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(*mqtt_host_port())
    client.loop_start()
    client.subscribe("sd/+/pm25/+/telemetry", qos=1)
    assert subscribed.wait(5)
    return client


def _wait_for(received: list, count: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_mosquitto_round_trip_of_the_outbox(broker):
    manifest = generate.seed("tiny", 8, only={"air_quality"})
    expected = manifest["resources"]["air_quality"]["records"]
    received: list = []
    client = _subscriber("test-live", received, clean=True)
    try:
        assert publisher.publish() == expected
        _wait_for(received, expected)
    finally:
        client.disconnect()
        client.loop_stop()
    assert len(received) == expected
    assert all(topic.split("/")[2] == "pm25" for topic, _payload in received)
    assert publisher.publish() == 0  # nothing new since the marker


def test_a_persistent_session_gets_what_was_published_while_away(broker):
    manifest = generate.seed("tiny", 8, only={"air_quality"})
    received: list = []
    client = _subscriber("hub-connector-air_quality-test", received, clean=False)
    client.disconnect()
    client.loop_stop()
    publisher.publish()
    client = _subscriber("hub-connector-air_quality-test", received, clean=False)
    try:
        _wait_for(received, manifest["resources"]["air_quality"]["records"])
    finally:
        client.disconnect()
        client.loop_stop()
    assert len(received) == manifest["resources"]["air_quality"]["records"]


def test_department_databases_can_live_in_postgres(hub_env, monkeypatch, pg_server):
    """HUB_SOURCE_<SYSTEM>_URL moves a department database to any SQLAlchemy URL (here PostgreSQL)."""
    import sqlalchemy as sa

    url = pg_server.create_database("hub_sources")
    monkeypatch.setenv("HUB_SOURCE_POPULATION_DB_URL", url)
    reset_settings()
    generate.seed("tiny", 8, only={"resident_population"})
    after = generate.seed("tiny", 8, step=1, only={"resident_population"})
    entry = after["resources"]["resident_population"]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM rk_czrk").scalar() == entry["records"]
            latest = conn.exec_driver_sql("SELECT max(updated_at) FROM rk_czrk").scalar()
            keys = {row[0] for row in conn.exec_driver_sql("SELECT gmsfhm FROM rk_czrk")}
    finally:
        engine.dispose()
    assert latest.startswith("2026-11-20T0") and entry["updated"] > 0
    assert "unreadable_row" not in entry["defects"]  # PostgreSQL TEXT cannot hold undecodable bytes
    assert all(identity in keys for ids in entry["defects"].values() for identity in ids)
