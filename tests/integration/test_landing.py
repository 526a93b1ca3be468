"""Landing against the real broker: Kafka → Parquet files → raw view → staging → events → marts."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta, timezone

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kafka_kit import gate_and_stage

from catalog import derive
from catalog.spec import Item, Resource
from hub.envelope import Record, encode
from hub.events import decode_event
from hub.kafka_clients import ensure_topics, make_consumer, make_producer
from hub.topics import events_topic, raw_topic
from warehouse import lake, landing, marts, store
from warehouse.events import landing_events, publish_landing_event

pytestmark = pytest.mark.kafka
T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
ITEMS = [
    Item(name="gmsfhm", label="公民身份号码", type="C", length=18, nullable=False, key=True, pii="id_number"),
    Item(name="xm", label="姓名", type="C", pii="name"),
    Item(name="csrq", label="出生日期", type="D"),
    Item(name="sg", label="身高", type="F"),
    Item(name="gxsj", label="更新时间", type="T"),
]
CREATED: list[str] = []


def make_resource(items=ITEMS, resource_id: str | None = None) -> Resource:
    resource = Resource(
        id=resource_id or f"t_land_{uuid.uuid4().hex[:10]}",
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
        items=list(items),
    )
    CREATED.append(resource.id)
    return resource


@pytest.fixture(scope="module", autouse=True)
def _drop_topics():
    """The shared broker keeps no topics of this module's throw-away resources."""
    yield
    from kafka_kit import drop_resource_topics

    drop_resource_topics(CREATED)


def person(n: int, **changes) -> dict:
    return {
        "gmsfhm": f"44060619900101{n:04d}",
        "xm": f"人{n}",
        "csrq": "1990-01-01",
        "sg": 160.0 + n % 30,
        "gxsj": "2026-05-01T08:00:00+08:00",
        **changes,
    }


def produce(resource, values, *, op="upsert", start=T0, step=timedelta(seconds=1), partitions=3) -> None:
    """Send `values` as hub records (event times start, start+step, …), keyed by gmsfhm."""
    topic, _ = derive.topics(resource)
    ensure_topics([topic], partitions=partitions)
    producer = make_producer()
    for n, value in enumerate(values):
        record = Record(
            key=value["gmsfhm"].encode(),
            value=value,
            resource=resource.id,
            op=op,
            event_time=start + n * step,
            source="test",
            schema=derive.schema_fingerprint(resource),
        )
        key, body, headers = encode(record)
        producer.send(topic, key=key, value=body, headers=headers)
    producer.flush()
    producer.close()


def staging(resource, order="gmsfhm") -> list[dict]:
    connection = store.connect_reader()
    try:
        rows = connection.sql(f'SELECT * EXCLUDE (_event_time, gxsj) FROM staging."{resource.id}" ORDER BY {order}')
        return rows.to_arrow_table().to_pylist()
    finally:
        connection.close()


def query(sql: str):
    connection = store.connect_reader()
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def land_and_stage(resource, **kwargs) -> landing.LandingResult:
    result = landing.land(resource.id, catalogue=[resource], **kwargs)
    gate_and_stage(resource, result)
    return result


def test_land_writes_one_file_per_partition_range_and_stages_the_latest_per_key(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, [person(n % 40, xm=f"v{n}") for n in range(100)])  # 40 keys, later values win
    result = land_and_stage(resource)

    assert (result.rows, result.dlq_rows) == (100, 0)
    assert sum(last - first + 1 for first, last in result.offsets.values()) == 100
    for relative_path in result.files:
        topic, partition, first, last = lake.parse_file_name(relative_path.rsplit("/", 1)[1])
        assert topic == raw_topic(resource.id) and result.offsets[str(partition)] == [first, last]
        assert relative_path.startswith(f"population/{resource.id}/dt={lake.landing_day()}/")
    assert result.max_event_time == T0 + timedelta(seconds=99)
    assert query(f'SELECT count(*), count(DISTINCT (_partition, _offset)) FROM raw."{resource.id}"') == [(100, 100)]
    rows = staging(resource)
    assert len(rows) == 40
    assert {row["gmsfhm"]: row["xm"] for row in rows}[person(0)["gmsfhm"]] == "v80"

    again = land_and_stage(resource)  # offsets were committed: nothing is read twice
    assert (again.rows, again.files) == (0, [])
    assert query(f'SELECT count(*) FROM raw."{resource.id}"') == [(100,)]


def test_updates_deletes_and_late_records_merge_incrementally(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, [person(n) for n in range(10)])
    land_and_stage(resource)
    # Later: two updates, two deletes, and a stale update of key 3 older than its delete.
    produce(resource, [person(1, xm="新名"), person(2, xm="新名")], start=T0 + timedelta(hours=1))
    produce(resource, [person(3), person(4)], op="delete", start=T0 + timedelta(hours=2))
    produce(resource, [person(3, xm="迟到")], start=T0 + timedelta(minutes=30))
    second = landing.land(resource.id, catalogue=[resource])
    assert second.rows == 5

    changed = gate_and_stage(resource, second)
    rows = {row["gmsfhm"]: row["xm"] for row in staging(resource)}
    assert len(rows) == 8 and person(3)["gmsfhm"] not in rows and person(4)["gmsfhm"] not in rows
    assert rows[person(1)["gmsfhm"]] == "新名" and rows[person(0)["gmsfhm"]] == "人0"
    assert changed == 4  # two upserts and two deletes applied; the late upsert lost to its delete
    loads = query(f"SELECT load_id, count(*) FROM meta.loads WHERE resource = '{resource.id}' GROUP BY ALL ORDER BY 1")
    assert sum(files for _, files in loads) == len(lake.list_files(resource))
    assert second.load_id in {load for load, _ in loads}
    assert gate_and_stage(resource, second) == 0  # nothing merged twice


def test_duplicate_deliveries_do_not_duplicate_staging_rows(kafka_bootstrap, hub_env):
    resource = make_resource()
    values = [person(n) for n in range(20)]
    produce(resource, values)
    produce(resource, values)  # the same records delivered again (a producer retry, a re-run connector)
    produce(resource, values, start=T0)
    result = land_and_stage(resource)
    assert result.rows == 60
    assert len(staging(resource)) == 20


def test_events_carry_rows_files_offsets(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, [person(n) for n in range(5)])
    consumer = make_consumer(group_id=None)
    ensure_topics([events_topic()], partitions=1)
    from kafka import TopicPartition

    partitions = [TopicPartition(events_topic(), p) for p in consumer.partitions_for_topic(events_topic())]
    consumer.assign(partitions)
    ends = consumer.end_offsets(partitions)
    for tp in partitions:
        consumer.seek(tp, ends[tp])

    result = landing.land(resource.id, catalogue=[resource])
    as_xcom = orjson.loads(orjson.dumps(result.to_dict()))  # what an Airflow task hands the next one
    assert gate_and_stage(resource, as_xcom) == 5
    published = publish_landing_event(as_xcom)
    seen, deadline = [], time.monotonic() + 30
    while len(seen) < len(published) and time.monotonic() < deadline:
        for message in (m for records in consumer.poll(timeout_ms=1000).values() for m in records):
            event = decode_event(message.value)
            if event["resource"] == resource.id:
                seen.append(event)
    consumer.close()
    assert [e["type"] for e in seen] == ["landing.completed"]  # quality.completed is the gate's
    completed = seen[0]["payload"]
    assert completed["load_id"] == result.load_id and completed["rows"] == 5 and completed["dlq_rows"] == 0
    assert completed["files"] == result.files and completed["offsets"] == result.offsets
    assert datetime.fromisoformat(completed["max_event_time"]) == T0 + timedelta(seconds=4)
    assert [e["id"] for e in seen] == [e["id"] for e in landing_events(result)[:1]]  # ids are stable per load
    assert publish_landing_event(landing.land(resource.id, catalogue=[resource])) == []  # empty load


def test_mixed_date_formats_and_utc_times_are_repaired_counted_and_land(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(
        resource,
        [
            person(0),
            person(1, csrq="2023/1/5"),
            person(2, csrq="20230105"),
            person(3, csrq="2023年1月5日"),
            person(4, gxsj="2026-05-01T00:00:00Z"),  # the instant of the usual 2026-05-01T08:00:00+08:00
            person(5, csrq="2023/2/30"),  # no such day: no rule repairs it
            person(6, csrq="2023/1/5", gxsj="tomorrow"),  # repaired, but dead-lettered for gxsj: not counted
        ],
        partitions=1,
    )
    result = landing.land(resource.id, catalogue=[resource])

    assert (result.rows, result.dlq_rows) == (5, 2)
    assert result.repairs == {"date_iso": 3, "timestamp_to_local": 1}
    files = pa.concat_tables(pq.read_table(lake.absolute(path)) for path in result.files)
    landed = {row["gmsfhm"]: (row["csrq"], row["gxsj"]) for row in files.to_pylist()}
    assert [landed[person(n)["gmsfhm"]][0] for n in (1, 2, 3)] == [date(2023, 1, 5)] * 3
    assert landed[person(4)["gmsfhm"]][1] == landed[person(0)["gmsfhm"]][1] == datetime(2026, 5, 1, tzinfo=timezone.utc)
    reasons = dead_letters(resource)
    assert set(reasons) == {person(5)["gmsfhm"], person(6)["gmsfhm"]}
    assert reasons[person(5)["gmsfhm"]] == "item csrq: '2023/2/30' is not a date (YYYY-MM-DD)"
    assert reasons[person(6)["gmsfhm"]].startswith("item gxsj: 'tomorrow'")
    assert landing_events(result)[0]["payload"]["repairs"] == {"date_iso": 3, "timestamp_to_local": 1}


def dead_letters(resource) -> dict[str, str]:
    """Key → reason of every dead letter of the resource so far (its DLQ topic from the beginning)."""
    from kafka import TopicPartition

    _, dlq = derive.topics(resource)
    consumer = make_consumer(group_id=None)
    try:
        partitions = [TopicPartition(dlq, p) for p in consumer.partitions_for_topic(dlq)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        reasons = {}
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=2000).values():
                reasons.update((r.key.decode(), orjson.loads(r.value)["reason"]) for r in records)
        return reasons
    finally:
        consumer.close()


def test_a_new_optional_item_becomes_a_column_and_old_files_still_read(kafka_bootstrap, hub_env):
    old = make_resource()
    produce(old, [person(n) for n in range(5)])
    land_and_stage(old)

    new = make_resource([*ITEMS, Item(name="lxdh", label="联系电话", type="C", pii="phone")], resource_id=old.id)
    produce(new, [person(n, lxdh=f"1390000{n:04d}") for n in range(3, 8)], start=T0 + timedelta(hours=1))
    result = land_and_stage(new)
    assert result.rows == 5
    assert query(f'SELECT count(*), count(lxdh) FROM raw."{old.id}"') == [(10, 5)]
    phones = {row["gmsfhm"]: row["lxdh"] for row in staging(new)}
    assert len(phones) == 8 and phones[person(0)["gmsfhm"]] is None and phones[person(7)["gmsfhm"]] == "13900000007"


def test_undeclared_source_fields_are_reported_not_landed(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, [person(n, extra_field="x") for n in range(3)])
    result = landing.land(resource.id, catalogue=[resource])
    assert result.undeclared_fields == ["extra_field"]
    assert [e["type"] for e in landing_events(result)] == ["landing.completed", "schema.changed"]


def test_max_records_lands_part_and_the_rest_next_time(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, [person(n) for n in range(50)], partitions=1)
    first = land_and_stage(resource, max_records=20)
    assert first.rows == 20 and first.offsets == {"0": [0, 19]}
    rest = land_and_stage(resource)
    assert rest.rows == 30 and rest.offsets == {"0": [20, 49]}
    assert len(staging(resource)) == 50


def test_a_resource_without_a_topic_lands_nothing(kafka_bootstrap, hub_env):
    resource = make_resource()
    result = landing.land(resource.id, catalogue=[resource])
    assert (result.rows, result.files, result.offsets) == (0, [], {})
    assert gate_and_stage(resource, result) == 0


# --- marts, from staging tables filled directly (the seed catalogue's resources) ----------------


def _fill(connection, resource, rows: list[dict]) -> None:
    schema = derive.arrow_schema(resource)
    envelope = {"_event_time": T0, "_op": "upsert", "_source": "test", "_partition": 0}
    table = pa.Table.from_pylist([{**envelope, "_offset": n, **row} for n, row in enumerate(rows)], schema=schema)
    store.ensure_staging_table(connection, resource)
    connection.register("_rows", table)
    connection.execute(f'INSERT INTO staging."{resource.id}" BY NAME SELECT * FROM _rows')
    connection.unregister("_rows")


def test_marts_aggregate_staging_and_skip_what_is_not_landed(seeded_catalogue):
    seed = {r.id: r for r in lake.catalogue_resources()}
    plan = marts.plan_marts(staged=set())
    assert all(sql is None for sql, _ in plan.values())
    assert "resident_population is not landed yet" in plan["population_by_town_age_sex"][1]

    at = datetime.fromisoformat
    with store.writer() as connection:
        _fill(
            connection,
            seed["resident_population"],
            [
                dict(
                    gmsfhm="1",
                    xb="1",
                    csrq=date(1990, 1, 1),
                    hjdz_xzqh="440606005001",
                    jzdz="佛山市顺德区大良街道东乐路1号",
                    rklx="户籍",
                    zxbz="0",
                ),
                dict(
                    gmsfhm="2",
                    xb="2",
                    csrq=date(1991, 1, 1),
                    hjdz_xzqh="430582001001",
                    jzdz="佛山市顺德区大良街道新桂路2号",
                    rklx="流动",
                    zxbz="0",
                ),
                dict(
                    gmsfhm="3", xb="2", csrq=date(1950, 1, 1), hjdz_xzqh="440606003001", jzdz="", rklx="户籍", zxbz="1"
                ),
            ],
        )
        _fill(
            connection,
            seed["electricity_readings"],
            [
                dict(
                    meter_id="m1",
                    address_code="4406061020010000001",
                    reading_time=at("2026-01-05T08:00:00+08:00"),
                    cumulative_value=100.0,
                    unit="kWh",
                ),
                dict(
                    meter_id="m1",
                    address_code="4406061020010000001",
                    reading_time=at("2026-02-05T08:00:00+08:00"),
                    cumulative_value=350.5,
                    unit="kWh",
                ),
            ],
        )
        _fill(
            connection,
            seed["camera_devices"],
            [
                dict(device_id="1", owner="区公安分局", civil_code="440606005", status="ON"),
                dict(device_id="2", owner="区公安分局", civil_code="440606005", status="OFF"),
            ],
        )
    assert set(marts.refresh_marts()) == {
        "mart.population_by_town_age_sex",
        "mart.utility_use_by_town_and_month",
        "mart.camera_online_rate_by_department_town",
    }
    assert query(
        "SELECT town_name, population_type, sum(persons) FROM mart.population_by_town_age_sex GROUP BY ALL ORDER BY 2"
    ) == [("大良街道", "户籍", 1), ("大良街道", "流动", 1)]
    assert query("SELECT town_name, month, use FROM mart.utility_use_by_town_and_month WHERE use IS NOT NULL") == [
        ("北滘镇", "2026-02", 250.5)
    ]
    assert query("SELECT department, online_rate FROM mart.camera_online_rate_by_department_town") == [
        ("区公安分局", 0.5)
    ]


def test_unknown_resource_is_a_clear_error(seeded_catalogue):
    from warehouse.errors import UnknownResource

    with pytest.raises(UnknownResource, match="not in the catalogue database"):
        landing.land("no_such_resource")


def test_result_round_trips_as_json():
    result = landing.LandingResult(
        "r", "r-1", files=["a"], rows=2, offsets={"0": [0, 1]}, max_event_time=T0, repairs={"date_iso": 1}
    )
    assert landing.LandingResult.from_dict(orjson.loads(orjson.dumps(result.to_dict()))) == result


def test_cli_refresh_marts_says_why_a_mart_waits(seeded_catalogue):
    from typer.testing import CliRunner

    from warehouse.cli import app

    outcome = CliRunner().invoke(app, ["refresh-marts"])
    assert outcome.exit_code == 0, outcome.output
    assert "mart.market_entities_by_industry_town_status skipped" in outcome.output
    assert "market_entities is not landed yet" in outcome.output
