"""Source rows → envelope records, the DLQ message, the state file and the HTTP retry helpers."""

import base64
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import orjson
import pytest

from connectors.base import SourceRecord, load_state, parse_time, save_state, state_path
from connectors.errors import UnreadableRow
from connectors.kinds.file import normalise_crs
from connectors.kinds.http import backoff_delay, retry_after_seconds
from connectors.records import RecordBuilder, raw_as_text
from hub.envelope import decode


def item(name, type="C", key=False, label="标签"):
    return SimpleNamespace(name=name, label=label, type=type, length=None, nullable=not key, key=key, pii="none")


RESOURCE = SimpleNamespace(
    id="t_meters",
    items=[
        item("meter_id", key=True),
        item("reading_time", "T", key=True),
        item("cumulative_value", "N"),
        item("digits", "I"),
        item("auto", "L"),
        item("note"),
    ],
)


@pytest.fixture
def builder():
    return RecordBuilder(RESOURCE, "utility_db.meter_reading")


def test_record_envelope_key_and_event_time(builder):
    row = {
        "meter_id": "M1",
        "reading_time": "2026-11-23T08:00:00+08:00",
        "cumulative_value": "12.5",
        "digits": 6.0,
        "auto": "1",
        "note": 440606,
        "extra": "dropped",
    }
    record = decode(*builder.encode(SourceRecord(row)))
    assert record.key == b"M1|2026-11-23T08:00:00+08:00"
    assert record.value == {
        "meter_id": "M1",
        "reading_time": "2026-11-23T08:00:00+08:00",
        "cumulative_value": 12.5,
        "digits": 6,
        "auto": True,
        "note": "440606",
    }
    assert record.event_time == datetime(2026, 11, 23, tzinfo=timezone.utc)
    assert record.source == "utility_db.meter_reading" and record.resource == "t_meters"
    assert len(record.schema) == 16


def test_missing_items_are_null_and_bad_times_fall_back(builder):
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    record = decode(*builder.encode(SourceRecord({"meter_id": "M1", "reading_time": "2026年1月5日"}, event_time=when)))
    assert record.value["cumulative_value"] is None and record.value["note"] is None
    assert record.value["reading_time"] == "2026年1月5日"  # a format defect is quality's to judge, not a DLQ case
    assert record.event_time == when


@pytest.mark.parametrize(
    "row, problem",
    [
        ({"meter_id": "M1", "reading_time": "t", "cumulative_value": "N/A"}, "cumulative_value .* expects a number"),
        ({"meter_id": "M1", "reading_time": "t", "digits": 1.5}, "digits .* expects an integer"),
        ({"meter_id": "M1", "reading_time": "t", "auto": "maybe"}, "auto .* logical"),
        ({"meter_id": "M1", "reading_time": "t", "cumulative_value": True}, "expects a number"),
        ({"meter_id": "", "reading_time": "t"}, "key item meter_id is empty"),
        ({"reading_time": "t"}, "key item meter_id is empty"),
        ({"meter_id": b"\xff\xfe", "reading_time": "t"}, "UTF-8"),
    ],
)
def test_rows_that_cannot_be_records(builder, row, problem):
    with pytest.raises(UnreadableRow, match=problem):
        builder.encode(SourceRecord(row))


def test_resource_without_key_items_is_keyed_by_content():
    keyless = SimpleNamespace(id="t_keyless", items=[item("a"), item("b", "N")])
    build = RecordBuilder(keyless, "s.o")
    first = build.encode(SourceRecord({"a": "x", "b": 1}))[0]
    assert first == build.encode(SourceRecord({"b": 1, "a": "x"}))[0]
    assert first != build.encode(SourceRecord({"a": "y", "b": 1}))[0]


def test_dlq_message_carries_raw_and_reason(builder):
    key, value, headers = builder.dlq_message(b"\xff\x00 not text", "bad bytes")
    body = orjson.loads(value)
    assert base64.b64decode(body["raw"]) == b"\xff\x00 not text" and body["raw_encoding"] == "base64"
    assert dict(headers)["hub-dlq-reason"] == b"bad bytes" and dict(headers)["hub-dlq-stage"] == b"connector"
    assert key == b"utility_db.meter_reading"
    assert raw_as_text("行") == ("行", "utf-8")
    assert raw_as_text({"a": 1}) == ('{"a":1}', "utf-8")


def test_state_round_trip_is_atomic(hub_env):
    assert load_state("t_state") == {"source": {}, "totals": {"produced": 0, "dlq": 0}}
    save_state(
        "t_state", {"source": {"cursor": "2026-01-01T00:00:00+08:00", "after": 7}, "totals": {"produced": 7, "dlq": 0}}
    )
    assert load_state("t_state")["source"]["after"] == 7
    assert [p.name for p in state_path("t_state").parent.iterdir()] == ["t_state.json"]  # no temp left behind


def test_corrupt_state_says_what_to_do(hub_env):
    path = state_path("t_broken")
    path.parent.mkdir(parents=True)
    path.write_text("{half")
    with pytest.raises(Exception, match="delete it to re-read"):
        load_state("t_broken")


def test_parse_time_treats_naive_as_beijing():
    assert parse_time("2026-11-23 08:00:00") == datetime(2026, 11, 23, tzinfo=timezone.utc)
    assert parse_time("2026-11-23T00:00:00Z").utcoffset() == timedelta(0)
    assert parse_time("23/11/2026") is None and parse_time(None) is None


def test_retry_after_and_backoff():
    assert retry_after_seconds("1") == 1.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: retry now
    assert all(0 <= backoff_delay(n) <= min(5.0, 0.1 * 2 ** (n - 1)) for n in range(1, 12) for _ in range(20))


def test_crs_names_are_normalised():
    assert normalise_crs("urn:ogc:def:crs:EPSG::4490") == "EPSG:4490"
    assert normalise_crs("EPSG:4547") == "EPSG:4547"
    assert normalise_crs("urn:ogc:def:crs:OGC:1.3:CRS84") == "OGC:CRS84"
    assert normalise_crs(None) is None


def test_one_connector_per_resource_at_a_time(hub_env):
    from connectors.base import ResourceLock
    from connectors.errors import ConnectorError

    held = ResourceLock("t_locked")
    with pytest.raises(ConnectorError, match="being connected already") as caught:
        ResourceLock("t_locked")
    assert caught.value.kind == "retriable"
    held.release()
    ResourceLock("t_locked").release()
