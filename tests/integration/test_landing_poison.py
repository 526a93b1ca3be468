"""Poison messages never crash a landing: each goes to hub.dlq.<resource> with its reason, counted."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import orjson
import pyarrow as pa
import pytest
from kafka import TopicPartition

from catalog import derive
from catalog.spec import Item, Resource
from hub.envelope import Record, encode
from hub.kafka_clients import ensure_topics, make_consumer, make_producer
from warehouse import deadletters, decode, gate, landing, store

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
ITEMS = [
    Item(name="gmsfhm", label="公民身份号码", type="C", nullable=False, key=True),
    Item(name="xm", label="姓名", type="C"),
    Item(name="hs", label="户数", type="I"),
    Item(name="csrq", label="出生日期", type="D"),
    Item(name="zxbz", label="注销标志", type="L"),
]
GOOD = {"gmsfhm": "440606199001010001", "xm": "张三", "hs": 3, "csrq": "1990-01-01", "zxbz": False}
TEN_MB = 10 * 1024 * 1024
CREATED: list[str] = []


def make_resource(prefix: str = "t_poison") -> Resource:
    """A throw-away population resource with ITEMS, its topics dropped when this module ends."""
    resource = Resource(
        id=f"{prefix}_{uuid.uuid4().hex[:10]}",
        code="101001/000001",
        name="测试人口",
        provider="gaj",
        classification="基础/人口/户籍人口",
        abstract="测试",
        format="数据库",
        domain="population",
        update_cycle="每日",
        sharing_type="无条件共享",
        open_type="不开放",
        release_date=date(2024, 1, 1),
        items=ITEMS,
    )
    CREATED.append(resource.id)
    return resource


@pytest.fixture(scope="module", autouse=True)
def _drop_topics():
    """The shared broker keeps no topics of this module's throw-away resources."""
    yield
    from kafka_kit import drop_resource_topics

    drop_resource_topics(CREATED)


def headers(resource, op=b"upsert", moment=b"2026-05-01T08:00:00+08:00"):
    return [
        ("hub-resource", resource.id.encode()),
        ("hub-op", op),
        ("hub-event-time", moment),
        ("hub-source", b"test"),
        ("hub-schema", derive.schema_fingerprint(resource).encode()),
    ]


POISON = {  # name → (value, header overrides, a phrase the DLQ reason must contain)
    "not_utf8": (b'{"gmsfhm": "\xff\xfe"}', {}, "not UTF-8"),
    "not_json": (b"{gmsfhm: 1", {}, "not JSON"),
    "array": (b"[1, 2, 3]", {}, "JSON array"),
    "null": (b"null", {}, "JSON null"),
    "wrong_type_string": (orjson.dumps({**GOOD, "gmsfhm": 440606}), {}, "item gmsfhm"),
    "wrong_type_int": (orjson.dumps({**GOOD, "gmsfhm": "X1", "hs": "three"}), {}, "item hs"),
    "float_for_int": (orjson.dumps({**GOOD, "gmsfhm": "X2", "hs": 2.5}), {}, "item hs"),
    "bad_date": (orjson.dumps({**GOOD, "gmsfhm": "X3", "csrq": "1990/2/30"}), {}, "item csrq"),  # no such day
    "missing_key": (orjson.dumps({"xm": "无名"}), {}, "key item gmsfhm"),
    "bad_op": (orjson.dumps({**GOOD, "gmsfhm": "X4"}), {"op": b"merge"}, "hub-op"),
    "naive_event_time": (orjson.dumps({**GOOD, "gmsfhm": "X5"}), {"moment": b"2026-05-01 08:00"}, "hub-event-time"),
    "ten_mb": (orjson.dumps({**GOOD, "gmsfhm": "X6", "xm": "x" * TEN_MB}), {}, "exceeds the landing limit"),
}


@pytest.mark.kafka
def test_poison_goes_to_the_dlq_with_reasons_and_the_run_succeeds(kafka_bootstrap, hub_env, kafka_backend):
    resource = make_resource()
    topic, dlq = derive.topics(resource)
    ensure_topics([topic], partitions=1, **{"max.message.bytes": str(16 * 1024 * 1024)})
    producer = make_producer()
    good_keys = []
    for n in range(30):
        good = {**GOOD, "gmsfhm": f"44060619900101{n:04d}"}
        good_keys.append(good["gmsfhm"])
        key, value, hdrs = encode(
            Record(key=good["gmsfhm"].encode(), value=good, resource=resource.id, event_time=T0 + timedelta(seconds=n))
        )
        producer.send(topic, key=key, value=value, headers=hdrs)
    for name, (value, overrides, _) in POISON.items():
        producer.send(topic, key=name.encode(), value=value, headers=headers(resource, **overrides))
    producer.send(topic, key=b"no_headers", value=orjson.dumps({**GOOD, "gmsfhm": "X7"}))
    producer.send(topic, key=b"tombstone", value=None, headers=headers(resource))
    producer.flush()
    producer.close()

    result = landing.land(resource.id, catalogue=[resource])
    assert (result.rows, result.dlq_rows) == (30, len(POISON) + 2)
    checked = gate.check(resource.id, result.to_dict(), catalogue=[resource], docs=False, publish=False)
    store.update_staging(resource.id, result, catalogue=[resource])
    assert len(store.staging_arrow(resource.id, ["gmsfhm"])) == 30

    letters = _read_all(dlq)
    reasons = {letter["key"]: letter for letter in letters}
    assert len(letters) == len(POISON) + 2
    for name, (_value, _overrides, phrase) in POISON.items():
        assert phrase in reasons[name]["reason"], (name, reasons[name]["reason"])
        assert reasons[name]["stage"] == "landing" and reasons[name]["topic"] == topic
    assert "lacks header" in reasons["no_headers"]["reason"]
    assert "no value" in reasons["tombstone"]["reason"]
    big = reasons["ten_mb"]
    assert big["truncated"] and big["raw_bytes"] > TEN_MB and len(big["raw"]) == deadletters.MAX_DLQ_RAW

    # The gate counts what landing could not decode as the critical rule "schema".
    assert checked.passed_rows == 30 and checked.rows == 30 + len(POISON) + 2
    assert checked.pass_rate == pytest.approx(30 / (30 + len(POISON) + 2))
    assert checked.failed_critical == ["schema"]  # under 95 % decodable


def _read_all(topic: str) -> list[dict]:
    consumer = make_consumer(group_id=None)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(partitions)
    letters = []
    while any(consumer.position(tp) < ends[tp] for tp in partitions):
        for records in consumer.poll(timeout_ms=2000).values():
            for record in records:
                letter = orjson.loads(record.value)
                letter["key"] = record.key.decode() if record.key else None
                assert dict(record.headers)["hub-dlq-stage"] == b"landing"
                letters.append(letter)
    consumer.close()
    return letters


# --- the decoder on its own ------------------------------------------------------------------

ITEM_SCHEMA = pa.schema(
    [
        pa.field("k", pa.string(), nullable=False),
        pa.field("n", pa.int64()),
        pa.field("f", pa.float64()),
        pa.field("d", pa.date32()),
        pa.field("t", pa.timestamp("us", "Asia/Shanghai")),
    ]
)


@pytest.mark.parametrize(
    "value, reason",
    [
        (b"null", "JSON null"),
        (b'{"k": "a"} {"k": "b"}', "not JSON"),
        (b'{"k": "x", "n": 1.5}', "item n"),
        (b'{"k": "x", "f": "1.5"}', "item f"),
        (b'{"k": "x", "d": "2026-02-30"}', "item d"),
        (b'{"k": "x", "t": "tomorrow"}', "item t"),
        (b"", "not JSON"),
        (None, "no value"),
    ],
)
def test_one_bad_value_among_good_ones_is_isolated(value, reason):
    good = [
        orjson.dumps({"k": f"g{n}", "n": n, "f": n / 2, "d": "2026-01-05", "t": "2026-01-05 08:00:00"})
        for n in range(2000)
    ]
    values = good[:1500] + [value] + good[1500:]
    table, rejects, _ = decode.decode_values(values, ITEM_SCHEMA)
    assert list(rejects) == [1500] and reason in rejects[1500]
    assert table.num_rows == 2001 and table.column("k")[1501].as_py() == "g1500"


def test_times_with_and_without_zone_and_odd_shapes_that_still_decode():
    values = [
        b'{"k": "zoned", "t": "2026-01-05T08:00:00+08:00"}',
        b'{"k": "utc", "t": "2026-01-05T00:00:00Z"}',
        b'{"k": "naive", "t": "2026-01-05 08:00:00"}',
        b'  {"k": "padded"}  ',
        b'{"k": "pretty",\n "n": 2}',
        b'{"k": "dup", "k": "last"}',
    ]
    table, rejects, _ = decode.decode_values(values, ITEM_SCHEMA)
    assert rejects == {}
    instants = table.column("t").cast(pa.timestamp("us", "UTC")).to_pylist()
    assert instants[:3] == [datetime(2026, 1, 5, tzinfo=timezone.utc)] * 3
    assert table.column("k").to_pylist() == ["zoned", "utc", "naive", "padded", "pretty", "last"]
    assert table.column("n").to_pylist()[4] == 2


def test_mixed_dates_and_utc_times_are_repaired_before_the_cast_and_reported_by_row():
    values = [orjson.dumps({"k": f"g{n}", "d": "2026-01-05", "t": "2026-01-05T08:00:00+08:00"}) for n in range(3000)]
    values[10] = b'{"k": "slash", "d": "2026/1/5", "t": "2026-01-05T00:00:00Z"}'
    values[2500] = b'{"k": "han", "d": "2026\xe5\xb9\xb41\xe6\x9c\x885\xe6\x97\xa5"}'  # 2026年1月5日
    values[2999] = b'{"k": "none", "d": "2026/2/30"}'
    table, rejects, repairs = decode.decode_values(values, ITEM_SCHEMA)
    assert repairs == {"date_iso": [10, 2500], "timestamp_to_local": [10]}
    assert list(rejects) == [2999] and "'2026/2/30' is not a date" in rejects[2999]
    assert set(table.column("d").to_pylist()[:2999]) == {date(2026, 1, 5)}
    assert table.column("t")[10] == table.column("t")[0]
    assert decode.decode_values(values[:10], ITEM_SCHEMA)[2] == {}  # clean values: nothing to report
