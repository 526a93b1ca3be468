from datetime import datetime, timedelta, timezone

import pytest

from hub.envelope import (
    BadHeader,
    BadKey,
    EnvelopeError,
    HeaderColumns,
    MissingHeader,
    NotAnObject,
    NotJson,
    NotUtf8,
    Record,
    decode,
    decode_header_batch,
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


# --- the batch decoder ------------------------------------------------------------------------------


def test_a_batch_of_headers_decodes_to_the_columns_decode_gives_record_by_record():
    records = [
        sample(
            op="delete" if n % 3 == 0 else "upsert",
            event_time=datetime(2026, 11, 23, n, tzinfo=CST),
            source=f"system_{n % 2}",
        )
        for n in range(12)
    ]
    messages = [encode(record) for record in records]
    decoded = decode_header_batch([headers for _, _, headers in messages])
    assert decoded.errors == {}
    assert decoded.op.to_pylist() == [record.op for record in records]
    assert decoded.event_time.to_pylist() == [record.event_time for record in records]
    assert decoded.source.to_pylist() == [record.source for record in records]
    assert decoded.resource().to_pylist() == [record.resource for record in records]
    assert decoded.schema().to_pylist() == [record.schema for record in records]
    assert decoded.resources == {"rk_czrk"} and decoded.schemas == {"a1b2c3"}
    assert [decode(*message) for message in messages] == records


def test_headers_in_any_order_or_with_extras_decode_the_same():
    _, _, headers = good_message()
    shuffled = [("traceparent", b"00-abc"), *reversed(headers)]
    with_extra = [*headers, ("traceparent", b"00-abc")]
    decoded = decode_header_batch([headers, shuffled, with_extra])
    assert decoded.errors == {} and len(set(decoded.event_time.to_pylist())) == 1
    assert decoded.op.to_pylist() == ["upsert"] * 3 and decoded.source.to_pylist() == ["population_db.rk_czrk"] * 3


def test_every_broken_envelope_in_a_batch_gets_its_own_typed_error():
    _, _, good = good_message()
    batch = [
        good,
        None,  # confluent-kafka: a record without headers
        [],  # kafka-python: a record without headers
        _replace(good, "hub-op", b"merge"),
        _replace(good, "hub-op", b"\xff"),
        _without(good, "hub-event-time"),
        _replace(good, "hub-event-time", b"2026-11-23T08:30:00"),  # no offset
        _replace(good, "hub-source", b"\xc3\x28"),
        _replace(good, "hub-resource", b"\xc3\x28"),
        _replace(good, "hub-schema", b"\xfe"),
        _without(good, "hub-source"),  # optional: null, no error
        good,
    ]
    decoded = decode_header_batch(batch)
    kinds = {index: (type(error), str(error)) for index, error in decoded.errors.items()}
    lacks_op = (MissingHeader, "message lacks header hub-op: was it produced through hub.envelope?")
    assert kinds == {
        1: lacks_op,
        2: lacks_op,
        3: (BadHeader, "hub-op 'merge' is not upsert or delete"),
        4: (BadHeader, "header hub-op is not UTF-8 text"),
        5: (MissingHeader, "message lacks header hub-event-time: was it produced through hub.envelope?"),
        6: (BadHeader, "hub-event-time '2026-11-23T08:30:00' is not ISO-8601 with a UTC offset"),
        7: (BadHeader, "header hub-source is not UTF-8 text"),
        8: (BadHeader, "header hub-resource is not UTF-8 text"),
        9: (BadHeader, "header hub-schema is not UTF-8 text"),
    }
    assert all(error.kind == "skippable" for error in decoded.errors.values())
    assert decoded.source[10].as_py() is None and decoded.resource()[8].as_py() is None
    assert decoded.op.to_pylist()[10:] == ["upsert", "upsert"] and decoded.schemas == {"a1b2c3"}


def test_header_columns_fill_batch_by_batch():
    columns = HeaderColumns()
    _, _, headers = good_message()
    columns.extend([headers] * 3)
    columns.extend([None, headers])
    assert len(columns) == 5
    decoded = columns.decode()
    assert list(decoded.errors) == [3] and decoded.op.null_count == 1
