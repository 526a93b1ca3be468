"""The typed catalogue events: every model round-trips through its wire form, every producer's
event fits its model, and what does not fit is refused with the reason."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import orjson
import pytest

from catalog.spec import Department, Item, Resource
from catalog.store import registration_payload
from connectors.runner import Connector, PassReport
from hub.events import (
    EVENT_MODELS,
    EVENT_TYPES,
    VERSION,
    ConnectorProduced,
    EventInvalid,
    LandingCompleted,
    LandingFailed,
    ObjectionChanged,
    QualityCompleted,
    ResourceRegistered,
    ResourceUpdated,
    SchemaChanged,
    ShareRequestChanged,
    decode_event,
    make_event,
    parse_event,
)
from warehouse.events import landing_events
from warehouse.gate import GateResult, quality_event
from warehouse.landing import LandingResult

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
RESOURCE = Resource(
    id="hjrk_jbxx",
    code="101001/000001",
    name="户籍人口",
    provider="gaj",
    classification="基础/人口/户籍人口",
    abstract="测试",
    format="数据库",
    domain="population",
    update_cycle="每日",
    sharing_type="无条件共享",
    open_type="不开放",
    release_date=date(2024, 1, 1),
    items=[Item(name="gmsfhm", label="公民身份号码", type="C", nullable=False, key=True)],
)
DEPARTMENT = Department(id="gaj", name="佛山市顺德区公安分局", code="11440606MB2C9035XG", division="440606")

FULL = {  # every model with every field it has set
    ResourceRegistered: registration_payload(RESOURCE, DEPARTMENT),
    ResourceUpdated: registration_payload(RESOURCE, DEPARTMENT),
    ConnectorProduced: dict(
        records=7,
        dlq_records=1,
        source="population_db",
        kind="sql",
        object="hjrk_jbxx",
        topic="hub.raw.hjrk_jbxx",
        dlq_topic="hub.dlq.hjrk_jbxx",
        seconds=0.4,
        totals={"produced": 7, "dlq": 1},
        source_stats={"rows_read": 8},
        run_id="run-1",
        offsets={"0": [0, 6]},
        produced_at=T0,
        error=None,
    ),
    LandingCompleted: dict(
        load_id="l-1",
        rows=6,
        dlq_rows=1,
        files=["a.parquet"],
        offsets={"0": [0, 6]},
        max_event_time=T0 - timedelta(hours=1),
        schema_fingerprint="ae53",
        repairs={"date_iso": 2},
        completed_at=T0,
    ),
    LandingFailed: dict(load_id="l-2", error="broker down", offsets={"0": [7, 9]}, completed_at=T0),
    QualityCompleted: dict(
        rows_checked=7,
        rows_valid=5,
        pass_rate=5 / 7,
        failed_critical=["schema"],
        failed_rules=[{"name": "schema", "critical": True, "failed_rows": 1, "success": False}],
        failed_warning=[],
        quarantined_rows=1,
        dlq_rows=1,
        repairs={"x_upper": 1},
        run_id="q-1",
        load_id="l-1",
        suite="hub.hjrk_jbxx",
        docs="index.html",
        ran_at=T0,
    ),
    SchemaChanged: dict(
        note="source records differ", old="ae53", new="0bad", added=["zz"], removed=["yy"], changed=["xx"]
    ),
    ObjectionChanged: dict(
        objection="o-1",
        action="raised",
        actor="li",
        actor_role="analyst",
        actor_department="scjgj",
        item="xm",
        reason="姓名错字",
        at=T0,
    ),
    ShareRequestChanged: dict(
        request=3,
        action="approved",
        actor="wang",
        actor_role="steward",
        actor_department="gaj",
        at=T0,
        department="scjgj",
        purpose="核查",
        pii_requested=True,
        valid_until=T0 + timedelta(days=30),
        decided_by="wang",
        reason="同意",
        grant=2,
        pii=True,
    ),
}


def test_there_is_one_model_per_event_type():
    assert set(FULL) == set(EVENT_MODELS.values()) and len(EVENT_TYPES) == 9


@pytest.mark.parametrize("model", list(FULL), ids=lambda model: model.__name__)
def test_every_model_round_trips_through_its_wire_form(model):
    event = model.build("hjrk_jbxx", ts=T0, **FULL[model])
    wire = orjson.loads(orjson.dumps(event.wire()))
    assert wire["version"] == VERSION and wire["type"] == event.type and wire["ts"] == T0.isoformat()
    assert parse_event(wire) == event
    assert decode_event(orjson.dumps(wire)) == wire


def test_every_producer_builds_an_event_its_model_accepts():
    resource = SimpleNamespace(id="hjrk_jbxx", binding=SimpleNamespace(system="population_db"))
    connector = SimpleNamespace(
        resource=resource,
        source=SimpleNamespace(kind="sql", object_name="hjrk_jbxx"),
        raw_topic="hub.raw.hjrk_jbxx",
        dlq_topic="hub.dlq.hjrk_jbxx",
        state={"totals": {"produced": 7, "dlq": 1}},
    )
    produced = Connector.produced_event(connector, PassReport("hjrk_jbxx", produced=7, dlq=1, seconds=0.41234))
    completed = LandingResult(
        "hjrk_jbxx",
        "l-1",
        files=["a.parquet"],
        rows=6,
        dlq_rows=1,
        offsets={"0": [0, 6]},
        max_event_time=T0,
        schema_fingerprint="ae53",
        undeclared_fields=["zz"],
        repairs={"date_iso": 2},
    )
    failed = LandingResult("hjrk_jbxx", "l-2", error="KafkaTimeoutError: no broker")
    rule = {"name": "x", "critical": False, "failed_rows": 1, "success": True}
    judged = quality_event(
        GateResult("hjrk_jbxx", "q-1", rows=7, passed_rows=6, pass_rate=6 / 7, failed_rules=[rule]), "l-1"
    )
    registered = ResourceRegistered.build("hjrk_jbxx", **registration_payload(RESOURCE, DEPARTMENT)).wire()
    events = [produced, *landing_events(completed), *landing_events(failed), judged, registered]
    assert [e["type"] for e in events] == [
        "connector.produced",
        "landing.completed",
        "schema.changed",
        "landing.failed",
        "quality.completed",
        "resource.registered",
    ]
    for wire in events:
        assert parse_event(orjson.loads(orjson.dumps(wire))).wire() == wire
    assert (produced["payload"]["records"], produced["payload"]["dlq_records"]) == (7, 1)
    assert produced["payload"]["source"] == "population_db"
    assert judged["payload"]["rows_checked"] == 7 and judged["payload"]["failed_critical"] == []


def test_the_pass_rate_defaults_to_the_counts():
    assert QualityCompleted.build("r", rows_checked=8, rows_valid=6, failed_critical=[]).payload.pass_rate == 0.75
    assert QualityCompleted.build("r", rows_checked=0, rows_valid=0, failed_critical=[]).payload.pass_rate is None


def _wire(**changes) -> dict:
    event = ConnectorProduced.build("hjrk_jbxx", id="e-1", ts=T0, records=3).wire()
    event.update(changes)
    return event


@pytest.mark.parametrize(
    "event, reason",
    [
        (_wire(type="resource.deleted"), "unknown event type 'resource.deleted'"),
        (_wire(version=3), "event version 3 is not one this hub reads"),
        (_wire(version="2"), "event version '2'"),
        (_wire(payload={"records": 3, "produced": 3}), "payload.produced: Extra inputs are not permitted"),
        (_wire(payload={"records": True}), "payload.records: must be a non-negative integer, not True"),
        (_wire(payload={"records": "3"}), "payload.records: must be a non-negative integer, not '3'"),
        (_wire(payload={"records": 2.5}), "payload.records: must be a non-negative integer"),
        (_wire(payload={"records": 1, "produced_at": "2026-05-01 08:00"}), "has no time zone"),
        (_wire(payload={"records": 1, "produced_at": 1714550400}), "is not an ISO-8601 time"),
        (_wire(ts="yesterday"), "ts: 'yesterday' is not an ISO-8601 time"),
        (_wire(resource=""), "resource: String should have at least 1 character"),
        (_wire(id="x" * 65), "id: String should have at most 64 characters"),
        (_wire(extra="field"), "extra: Extra inputs are not permitted"),
        (_wire(payload=[1]), "payload: Input should be a valid dictionary"),
        ([1, 2], "event is JSON list, expected an object"),
    ],
)
def test_what_does_not_fit_is_refused_with_the_reason(event, reason):
    with pytest.raises(EventInvalid) as refused:
        parse_event(event)
    assert reason in str(refused.value)


def test_a_share_request_step_must_carry_what_rebuilds_it():
    with pytest.raises(EventInvalid, match="a requested step needs department, purpose, pii_requested, valid_until"):
        make_event("share_request.changed", "r", request=1, action="requested", actor="li", actor_role="analyst")
    with pytest.raises(EventInvalid, match="a denied step needs reason"):
        make_event(
            "share_request.changed", "r", request=1, action="denied", actor="w", actor_role="steward", decided_by="w"
        )
    with pytest.raises(EventInvalid, match="payload.request"):
        make_event("share_request.changed", "r", request=0, action="revoked", actor="w", actor_role="steward", grant=1)


def test_make_event_refuses_old_names_and_unknown_types():
    with pytest.raises(EventInvalid, match="produced: Extra inputs are not permitted"):
        make_event("connector.produced", "r", records=1, produced=1)
    with pytest.raises(EventInvalid, match="unknown event type"):
        make_event("resource.deleted", "r")


def test_a_version_1_event_is_upgraded_explicitly():
    old = {
        "id": "e-1",
        "type": "connector.produced",
        "ts": T0.isoformat(),
        "resource": "r",
        "payload": {"produced": 7, "dlq": 1, "system": "population_db", "kind": "sql", "unread": 1},
    }
    event = parse_event(old)
    assert (event.payload.records, event.payload.dlq_records, event.payload.source) == (7, 1, "population_db")
    assert event.version == VERSION and event.payload.kind == "sql"
