"""The one contract every source kind keeps, each against its real source and the real Kafka:
records match the catalogue schema, keys are unique where declared, state is saved and resumed
with no gaps and no re-reads, unreadable rows go to the DLQ with the reason, and each run reports
a `connector.produced` event with its counts.
"""

from __future__ import annotations

import connector_kit as kits  # noqa: E402  (tests/integration is on sys.path under pytest)
import orjson
import pytest

from catalog.derive import schema_fingerprint, topics
from catalog.systems import CONNECTOR_KINDS
from connectors.base import load_state
from connectors.runner import run_resources
from hub.envelope import decode
from hub.topics import events_topic

JSON_TYPES = {
    "C": (str,),
    "D": (str,),
    "T": (str,),
    "N": (int, float),
    "F": (int, float),
    "B": (int, float),
    "I": (int,),
    "L": (bool,),
}
KINDS = list(CONNECTOR_KINDS)  # every kind the declared source systems use (catalog/systems.py)


@pytest.fixture
def kit(request, tmp_path, monkeypatch, hub_env, kafka_bootstrap):
    env = kits.Env(monkeypatch)
    made = {"sql": kits.SqlKit, "file": kits.FileKit, "http": kits.HttpKit, "mqtt": kits.MqttKit}[request.param](
        tmp_path, env
    )
    yield made
    made.close()


def run(resource, **options):
    [report] = run_resources([resource], progress=False, **options)
    assert report.ok, report.error
    return report


def assert_matches_schema(resource, message) -> None:
    record = decode(message.key, message.value, message.headers)
    assert record.resource == resource.id
    assert record.schema == schema_fingerprint(resource)
    config = resource.binding.config
    source_object = config.get("table") or config.get("pattern") or config.get("endpoint") or config.get("topic_filter")
    assert record.source == f"{resource.binding.system}.{source_object}"
    assert list(record.value) == [item.name for item in resource.items]
    for item in resource.items:
        value = record.value[item.name]
        assert value is None or type(value) in JSON_TYPES[item.type], (item.name, value)
        if item.key:
            assert value not in (None, "")


@pytest.mark.kafka
@pytest.mark.usefixtures("kafka_backend")
@pytest.mark.parametrize("kit", KINDS, indirect=True)
def test_source_kind_contract(kit):
    resource = kit.resource
    raw_topic, dlq_topic = topics(resource)
    events_start = kits.end_offsets(events_topic())
    if hasattr(kit, "prepare"):
        kit.prepare()
    expected = kit.add(12)
    expected += kit.add_unreadable()
    expected += kit.add(8)

    first = run(resource, limit=7)
    assert first.produced + first.dlq == 7
    saved = load_state(resource.id)
    assert saved["totals"]["produced"] + saved["totals"]["dlq"] == 7

    second = run(resource)  # resumes where the first stopped
    assert (first.produced + second.produced, first.dlq + second.dlq) == (len(expected), 1)

    more = kit.add(5)
    expected += more
    third = run(resource)  # only what is new
    assert (third.produced, third.dlq) == (5, 0)
    fourth = run(resource)
    assert (fourth.produced, fourth.dlq) == (0, 0)

    messages = kits.read_topic(raw_topic)
    keys = [m.key.decode() for m in messages]
    assert sorted(keys) == sorted(expected), "every source row exactly once: no gap, no re-read"
    assert len(set(keys)) == len(keys), "keys are unique where the catalogue declares them"
    for message in messages:
        assert_matches_schema(resource, message)

    [dead] = kits.read_topic(dlq_topic)
    headers = dict(dead.headers)
    assert headers["hub-dlq-stage"] == b"connector" and headers["hub-dlq-reason"]
    body = orjson.loads(dead.value)
    assert body["raw"] and body["reason"] == headers["hub-dlq-reason"].decode()

    events = kits.events_for(resource.id, events_start)
    assert [(e["payload"]["records"], e["payload"]["dlq_records"]) for e in events] == [
        (first.produced, first.dlq),
        (second.produced, second.dlq),
        (5, 0),
        (0, 0),
    ]
    assert events[-1]["payload"]["totals"] == {"produced": len(expected), "dlq": 1}


@pytest.mark.kafka
@pytest.mark.usefixtures("kafka_backend")
@pytest.mark.parametrize("kit", ["file"], indirect=True)
def test_geometry_is_wkt_with_its_crs(kit):
    kit.add(2)  # GeoJSON, EPSG:4490 points
    kit.add(2)  # GeoPackage, EPSG:4547 polygons
    run(kit.resource)
    values = [orjson.loads(m.value) for m in kits.read_topic(topics(kit.resource)[0])]
    shapes = sorted((v["geometry"].split(" ")[0], v["crs"]) for v in values)
    assert shapes == [("POINT", "EPSG:4490")] * 2 + [("POLYGON", "EPSG:4547")] * 2
    assert "POINT (113.2 22.8)" in {v["geometry"] for v in values}


@pytest.mark.kafka
@pytest.mark.usefixtures("kafka_backend")
def test_http_snapshot_pages_resume_and_refresh(tmp_path, monkeypatch, hub_env, kafka_bootstrap):
    kit = kits.HttpKit(tmp_path, kits.Env(monkeypatch), endpoint="/api/v1/devices", page_size=5)
    try:
        expected = kit.add(23)
        first = run(kit.resource, limit=7)
        assert load_state(kit.resource.id)["source"] == {"page": 2, "row": 1, "done": False}
        second = run(kit.resource)
        assert first.produced + second.produced == 23
        assert load_state(kit.resource.id)["source"]["done"] is True
        assert run(kit.resource).produced == 0  # the snapshot is fresh (refresh_s)
        kit.resource.binding.config["refresh_s"] = 0
        assert run(kit.resource).produced == 23  # a new snapshot, from page 1
    finally:
        kit.close()
    keys = [m.key.decode() for m in kits.read_topic(topics(kit.resource)[0])]
    assert sorted(keys) == sorted(expected * 2)


@pytest.mark.kafka
@pytest.mark.usefixtures("kafka_backend")
def test_sql_kind_on_postgresql(tmp_path, monkeypatch, hub_env, kafka_bootstrap, pg_server):
    """The same incremental read on PostgreSQL (no rowid: the key items break ties)."""
    kit = kits.SqlKit(
        tmp_path, kits.Env(monkeypatch), url=pg_server.create_database(f"src_{tmp_path.name[-8:].lower()}")
    )
    try:
        expected = kit.add(12)
        first = run(kit.resource, limit=5)
        expected += kit.add(4)
        second = run(kit.resource)
        assert first.produced + second.produced == len(expected)
        assert run(kit.resource).produced == 0
    finally:
        kit.close()
    keys = [m.key.decode() for m in kits.read_topic(topics(kit.resource)[0])]
    assert sorted(keys) == sorted(expected)
