"""Crash tests: the lander dies at the worst moments, is run again, and the warehouse is exact.

How a crash is made: the pipeline (land → update_staging → publish_landing_event) runs in a
subprocess with HUB_LANDING_CRASH_AT=<point>; at that point warehouse.landing calls os._exit(137),
which, like SIGKILL, runs no finally blocks, flushes nothing and closes no Kafka client cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from kafka_kit import gate_and_stage

from catalog import derive
from catalog.spec import Item, Resource
from hub.envelope import Record, encode
from hub.kafka_clients import ensure_topics, make_producer
from hub.settings import REPO_ROOT
from warehouse import lake, landing, store
from warehouse.events import publish_landing_event

# Every crash drill runs once per Kafka client backend (HUB_KAFKA_CLIENT reaches the killed child too).
pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("kafka_backend")]
T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
PIPELINE = """
import sys
from catalog.spec import Resource
from warehouse import gate
from warehouse import landing, store
from warehouse.events import publish_landing_event

resource = Resource.model_validate_json(sys.argv[1])
result = landing.land(resource.id, catalogue=[resource])
gate.check(resource.id, result.to_dict(), catalogue=[resource], docs=False, publish=False)
store.update_staging(resource.id, result, catalogue=[resource])
publish_landing_event(result)
"""
CREATED: list[str] = []


def make_resource() -> Resource:
    resource = Resource(
        id=f"t_crash_{uuid.uuid4().hex[:10]}",
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
        items=[
            Item(name="gmsfhm", label="公民身份号码", type="C", nullable=False, key=True),
            Item(name="xm", label="姓名", type="C"),
        ],
    )
    CREATED.append(resource.id)
    return resource


@pytest.fixture(scope="module", autouse=True)
def _drop_topics():
    """The shared broker keeps no topics of this module's throw-away resources."""
    yield
    from kafka_kit import drop_resource_topics

    drop_resource_topics(CREATED)


def produce(resource, keys, start=T0) -> None:
    topic, _ = derive.topics(resource)
    ensure_topics([topic], partitions=3)
    producer = make_producer()
    for n, key in enumerate(keys):
        record = Record(
            key=key.encode(),
            value={"gmsfhm": key, "xm": f"name-{n}"},
            resource=resource.id,
            event_time=start + timedelta(seconds=n),
        )
        k, v, h = encode(record)
        producer.send(topic, key=k, value=v, headers=h)
    producer.flush()
    producer.close()


def run_pipeline(resource, crash_at: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != landing.CRASH_ENV}
    if crash_at:
        env[landing.CRASH_ENV] = crash_at
    done = subprocess.run(
        [sys.executable, "-c", PIPELINE, resource.model_dump_json()],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 137), done.stderr[-3000:]
    return done.returncode


def rerun(resource) -> tuple[landing.LandingResult, list[dict]]:
    result = landing.land(resource.id, catalogue=[resource])
    gate_and_stage(resource, result)
    return result, publish_landing_event(result)


def assert_exact(resource, keys: set[str], records: int) -> None:
    """Staging holds each key once; the raw view holds each Kafka record once."""
    connection = store.connect_reader()
    try:
        staged = connection.execute(f'SELECT count(*), count(DISTINCT gmsfhm) FROM staging."{resource.id}"').fetchall()
        landed = connection.execute(
            f'SELECT count(*), count(DISTINCT (_partition, _offset)) FROM raw."{resource.id}"'
        ).fetchall()
        staged_keys = {k for (k,) in connection.execute(f'SELECT gmsfhm FROM staging."{resource.id}"').fetchall()}
    finally:
        connection.close()
    assert staged == [(len(keys), len(keys))]
    assert staged_keys == keys
    assert landed == [(records, records)]


def keys(count: int, offset: int = 0) -> list[str]:
    return [f"K{n % 37 + offset:05d}" for n in range(count)]


def test_killed_after_rename_before_commit_replays_the_range(kafka_bootstrap, hub_env):
    resource = make_resource()
    first, second, third = keys(40), keys(60, offset=20), keys(25, offset=50)
    produce(resource, first)
    assert run_pipeline(resource, None) == 0
    produce(resource, second, start=T0 + timedelta(hours=1))
    assert run_pipeline(resource, "after_rename") == 137
    orphaned = {f.path.name for f in lake.list_files(resource)}
    # More records arrive before the rerun, so the replayed range is cut differently.
    produce(resource, third, start=T0 + timedelta(hours=2))
    result, events = rerun(resource)
    assert result.rows == len(second) + len(third)
    assert_exact(resource, set(first + second + third), len(first) + len(second) + len(third))
    assert orphaned - {f.path.name for f in lake.list_files(resource)}, "uncommitted files were replaced"
    assert [e["payload"]["load_id"] for e in events if e["type"] == "landing.completed"] == [result.load_id]


def test_killed_after_rename_on_the_first_load_keeps_the_files(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, keys(50))
    assert run_pipeline(resource, "after_rename") == 137
    result, events = rerun(resource)
    assert_exact(resource, set(keys(50)), 50)
    # Without committed offsets the lake's own ranges say how far the load got: nothing read twice,
    # and the killed load's manifest stands, so its events go out now.
    assert result.rows == 0
    assert [e["type"] for e in events] == ["landing.completed"]
    assert events[0]["payload"]["rows"] == 50


def test_killed_after_commit_before_staging_and_events(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, keys(80))
    assert run_pipeline(resource, "after_commit") == 137
    result, events = rerun(resource)
    assert result.rows == 0  # committed: nothing is read again
    assert_exact(resource, set(keys(80)), 80)
    crashed = [e for e in events if e["type"] == "landing.completed"]
    assert (
        len(crashed) == 1 and crashed[0]["payload"]["rows"] == 80 and crashed[0]["payload"]["load_id"] != result.load_id
    )


def test_killed_after_staging_before_events(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, keys(30))
    assert run_pipeline(resource, "after_staging") == 137
    assert_exact(resource, set(keys(30)), 30)
    result, events = rerun(resource)
    assert_exact(resource, set(keys(30)), 30)
    assert [e["payload"]["rows"] for e in events if e["type"] == "landing.completed"] == [30]


def test_killed_twice_in_a_row_then_clean(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, keys(20))
    assert run_pipeline(resource, None) == 0
    produce(resource, keys(30, offset=10), start=T0 + timedelta(hours=1))
    assert run_pipeline(resource, "after_rename") == 137
    assert run_pipeline(resource, "after_rename") == 137
    assert run_pipeline(resource, None) == 0
    assert_exact(resource, set(keys(20) + keys(30, offset=10)), 50)
