from datetime import datetime, timedelta, timezone

import pytest

from hub.envelope import (
    BadHeader,
    BadKey,
    EnvelopeError,
    MissingHeader,
    NotAnObject,
    NotJson,
    NotUtf8,
    Record,
    decode,
    encode,
)

CST = timezone(timedelta(hours=8))


def sample(**changes) -> Record:
    fields = dict(
        key=b"44060619900101123X",
        value={"gmsfhm": "44060619900101123X", "xm": "陈𰻝", "zczb": 12.5, "tags": [1, None]},
        resource="rk_czrk",
        op="upsert",
        event_time=datetime(2026, 11, 23, 8, 30, tzinfo=CST),
        source="population_db.rk_czrk",
        schema="a1b2c3",
    )
    fields.update(changes)
    return Record(**fields)


def good_message():
    return encode(sample())


@pytest.mark.parametrize("op", ["upsert", "delete"])
def test_round_trip(op):
    record = sample(op=op)
    assert decode(*encode(record)) == record


def test_value_is_utf8_json_and_headers_are_named():
    key, value, headers = good_message()
    assert "陈𰻝".encode() in value
    assert [name for name, _ in headers] == ["hub-resource", "hub-op", "hub-event-time", "hub-source", "hub-schema"]


def test_encode_refuses_naive_time_and_unknown_op():
    with pytest.raises(BadHeader):
        encode(sample(event_time=datetime(2026, 1, 1)))
    with pytest.raises(BadHeader):
        encode(sample(op="merge"))


def _without(headers, name):
    return [(n, v) for n, v in headers if n != name]


def _replace(headers, name, raw):
    return [(n, raw if n == name else v) for n, v in headers]


@pytest.mark.parametrize(
    "mutate, error",
    [
        (lambda k, v, h: (None, v, h), BadKey),
        (lambda k, v, h: (b"", v, h), BadKey),
        (lambda k, v, h: (k, b"\xff\xfe{}", h), NotUtf8),
        (lambda k, v, h: (k, "{“gmsfhm”: 1}".encode("gbk"), h), NotUtf8),
        (lambda k, v, h: (k, b"{not json", h), NotJson),
        (lambda k, v, h: (k, None, h), NotJson),
        (lambda k, v, h: (k, b"[1, 2]", h), NotAnObject),
        (lambda k, v, h: (k, b'"text"', h), NotAnObject),
        (lambda k, v, h: (k, v, None), MissingHeader),
        (lambda k, v, h: (k, v, _without(h, "hub-schema")), MissingHeader),
        (lambda k, v, h: (k, v, _replace(h, "hub-op", b"merge")), BadHeader),
        (lambda k, v, h: (k, v, _replace(h, "hub-event-time", b"yesterday")), BadHeader),
        (lambda k, v, h: (k, v, _replace(h, "hub-event-time", b"2026-11-23T08:30:00")), BadHeader),
        (lambda k, v, h: (k, v, _replace(h, "hub-resource", b"\xc3\x28")), BadHeader),
    ],
)
def test_every_decode_error_is_typed(mutate, error):
    with pytest.raises(error) as caught:
        decode(*mutate(*good_message()))
    assert isinstance(caught.value, EnvelopeError)
    assert caught.value.kind == "skippable"
    assert str(caught.value)
