"""The quality gate against the real broker: landed rows → GX suite → quarantine / passed → staging,
and the catalogue's coverage following the gate's verdict (a broken critical rule drops a resource
out with the rule named; clean data brings it back)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from catalog import derive
from catalog.db import session_scope
from catalog.events import apply_events
from catalog.reference import make_resident_id
from catalog.selection import SEED_DIR
from catalog.snapshots import report
from catalog.spec import Binding, Catalogue, Item, Resource, ValueRules, load_catalogue
from catalog.store import load_catalogue_into
from hub import outbox
from hub.envelope import Record, encode
from hub.events import make_event
from hub.kafka_clients import ensure_topics, make_producer
from warehouse import gate, lake, landing, store
from warehouse.events import landing_events

pytestmark = pytest.mark.kafka
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)  # fresh for a 每日 resource
ITEMS = [
    Item(
        name="gmsfhm",
        label="公民身份号码",
        type="C",
        length=18,
        nullable=False,
        key=True,
        pii="id_number",
        rules=ValueRules(validator="resident_id"),
    ),
    Item(name="xm", label="姓名", type="C", length=50, nullable=False, pii="name"),
    Item(name="xb", label="性别", type="C", length=1, nullable=False, rules=ValueRules(values=["1", "2"])),
    Item(name="lxdh", label="联系电话", type="C", length=20, pii="phone", rules=ValueRules(validator="mobile")),
    Item(name="gxsj", label="更新时间", type="T", nullable=False),
]
CREATED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _drop_topics():
    yield
    from kafka_kit import drop_resource_topics

    drop_resource_topics(CREATED)


def make_resource() -> Resource:
    resource = Resource(
        id=f"t_gate_{uuid.uuid4().hex[:10]}",
        code=f"101001/{uuid.uuid4().int % 10**5:05d}",
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
        quality_threshold=0.9,
        items=list(ITEMS),
        binding=Binding(kind="sql", system="population_db", config={"table": "rk_test", "cursor_column": "gxsj"}),
    )
    CREATED.append(resource.id)
    return resource


def person(n: int, **changes) -> dict:
    return {
        "gmsfhm": make_resident_id("440606", date(1980, 1, 1) + timedelta(days=n), 101 + 2 * (n % 400)),
        "xm": f"张{n}",
        "xb": "1",
        "lxdh": f"138{n:08d}",
        "gxsj": "2026-05-01T08:00:00+08:00",
        **changes,
    }


def produce(resource, values, start=T0) -> None:
    topic, _ = derive.topics(resource)
    ensure_topics([topic], partitions=2)
    producer = make_producer()
    for n, value in enumerate(values):
        record = Record(
            key=value["gmsfhm"].encode(),
            value=value,
            resource=resource.id,
            op="upsert",
            event_time=start + timedelta(seconds=n),
            source="test",
            schema=derive.schema_fingerprint(resource),
        )
        key, body, headers = encode(record)
        producer.send(topic, key=key, value=body, headers=headers)
    producer.flush()
    producer.close()


def load(resource) -> tuple[landing.LandingResult, gate.GateResult]:
    """One pass of the pipeline: land → gate → stage (the DAG's order)."""
    landed = landing.land(resource.id, catalogue=[resource])
    checked = gate.check(resource.id, landed.to_dict(), catalogue=[resource], docs=False, publish=False)
    store.update_staging(resource.id, landed, catalogue=[resource])
    return landed, checked


def zone_rows(resource, zone: str) -> list[dict]:
    return [row for f in lake.list_files(resource, zone=zone) for row in pq.read_table(f.path).to_pylist()]


def staged_keys(resource) -> set[str]:
    return set(store.staging_arrow(resource.id, ["gmsfhm"]).column("gmsfhm").to_pylist())


def test_failing_rows_are_quarantined_with_their_rules_and_never_reach_staging(kafka_bootstrap, hub_env):
    resource = make_resource()
    good = [person(n) for n in range(40)]
    bad_check = dict(
        person(100), gmsfhm=person(100)["gmsfhm"][:17] + ("0" if person(100)["gmsfhm"][-1] != "0" else "1")
    )
    lower_x = person(200, gmsfhm=make_resident_id("440606", date(1990, 5, 5), 7))
    while not lower_x["gmsfhm"].endswith("X"):  # a sequence number whose check character is X
        lower_x = person(200, gmsfhm=make_resident_id("440606", date(1990, 5, 5), int(lower_x["gmsfhm"][14:17]) + 1))
    lower_x["gmsfhm"] = lower_x["gmsfhm"][:17] + "x"
    bad_sex = person(300, xb="9")
    no_phone = person(400, lxdh=None)
    produce(resource, good + [bad_check, lower_x, bad_sex, no_phone])

    landed, checked = load(resource)

    assert (checked.rows, checked.quarantined_rows, checked.passed_rows) == (44, 2, 42)
    assert checked.repairs == {"resident_id_upper_x": 1}
    rules = {rule["name"]: rule for rule in checked.failed_rules}
    assert rules["gmsfhm.resident_id"]["failed_rows"] == 1 and rules["gmsfhm.resident_id"]["critical"]
    assert rules["xb.in_set"]["failed_rows"] == 1
    assert rules["lxdh.present"] == {**rules["lxdh.present"], "critical": False, "failed_rows": 1}
    assert checked.failed_critical == []  # 2 of 44 is inside the 0.9 threshold's tolerance
    quarantined = zone_rows(resource, "_quarantine")
    assert {(row["gmsfhm"], tuple(row["_failed_rules"])) for row in quarantined} == {
        (bad_check["gmsfhm"], ("gmsfhm.resident_id",)),
        (bad_sex["gmsfhm"], ("xb.in_set",)),
    }
    staged = staged_keys(resource)
    assert bad_check["gmsfhm"] not in staged and bad_sex["gmsfhm"] not in staged
    assert lower_x["gmsfhm"].upper() in staged and no_phone["gmsfhm"] in staged  # repaired / only flagged
    findings = zone_rows(resource, "_findings")
    assert {(f["key"], f["check"], f["outcome"]) for f in findings} >= {
        (lower_x["gmsfhm"], "gmsfhm.resident_id_upper_x", "repaired"),
        (no_phone["gmsfhm"], "lxdh.present", "flagged"),
        (bad_sex["gmsfhm"], "xb.in_set", "quarantined"),
    }


def test_gate_judges_each_landed_file_once(kafka_bootstrap, hub_env):
    resource = make_resource()
    produce(resource, [person(n) for n in range(10)])
    _, first = load(resource)
    again = gate.check(resource.id, catalogue=[resource], docs=False, publish=False)
    assert first.rows == 10 and again.rows == 0 and again.files == []
    produce(resource, [person(n) for n in range(10, 15)], start=T0 + timedelta(hours=1))
    _, second = load(resource)
    assert second.rows == 5 and staged_keys(resource) == {person(n)["gmsfhm"] for n in range(15)}


def test_a_broken_critical_rule_drops_the_resource_out_of_coverage_until_clean_data_lands(kafka_bootstrap, hub_env):
    resource = make_resource()
    seed = load_catalogue(SEED_DIR)
    catalogue = Catalogue(departments=[d for d in seed.departments if d.id == "gaj"], resources=[resource])
    with session_scope() as session:
        load_catalogue_into(session, catalogue, now=T0)

    def publish_pass(values, start):
        produce(resource, values, start=start)
        landed, checked = load(resource)
        events = [
            make_event("connector.produced", resource.id, records=len(values), run_id=str(uuid.uuid4())),
            *landing_events(landed),
            gate.quality_event(checked, landed.load_id),
        ]
        with session_scope() as session:
            apply_events(session, events)
        document = report()
        return checked, {gap["resource_code"]: gap["reason"] for gap in document["gaps"]}

    broken = [
        person(n, gmsfhm=person(n)["gmsfhm"][:17] + ("0" if person(n)["gmsfhm"][-1] != "0" else "1")) for n in range(6)
    ]
    checked, gaps = publish_pass([person(n) for n in range(10, 24)] + broken, T0)
    assert checked.failed_critical == ["gmsfhm.resident_id"]
    assert gaps[resource.code] == "failing rule gmsfhm.resident_id"

    checked, gaps = publish_pass([person(n) for n in range(30, 60)], T0 + timedelta(hours=1))
    assert checked.failed_critical == [] and checked.quarantined_rows == 0
    assert resource.code not in gaps


def test_an_event_the_broker_did_not_take_is_sent_by_the_next_gate_run(kafka_bootstrap, hub_env, monkeypatch):
    resource = make_resource()
    produce(resource, [person(n) for n in range(5)])
    landed = landing.land(resource.id, catalogue=[resource])

    def broker_down(*args, **kwargs):
        raise outbox.OutboxError("broker down")

    with monkeypatch.context() as patched:
        patched.setattr(outbox, "flush", broker_down)
        with pytest.raises(outbox.OutboxError):
            gate.check(resource.id, landed.to_dict(), catalogue=[resource], docs=False)
    kept = outbox.kept()
    assert [(e["type"], e["payload"]["rows_checked"]) for e in kept] == [("quality.completed", 5)]
    again = gate.check(resource.id, catalogue=[resource], docs=False)
    assert again.rows == 0  # the files were judged before the broker failed
    assert outbox.kept() == []  # sent by this run, then forgotten


def test_data_docs_noted_by_the_gate_are_built_once_at_the_page_its_event_named(kafka_bootstrap, hub_env):
    from quality import suites
    from warehouse import gate_docs

    resource = make_resource()
    produce(resource, [person(n) for n in range(30)] + [person(900, xb="9")])
    landed = landing.land(resource.id, catalogue=[resource])
    checked = gate.check(resource.id, landed.to_dict(), catalogue=[resource], docs="later", publish=False)
    page = suites.docs_dir() / checked.docs_path
    assert checked.docs_path.startswith(f"validations/hub/{resource.id}/{checked.run_id}/")
    assert not page.exists() and len(gate_docs.pending()) == 1  # noted, not built: no GX in the gate

    built = gate_docs.build(catalogue=[resource])

    assert built == {"pages": 1, "dropped": []} and gate_docs.pending() == []
    text = page.read_text()  # the page the event named, with the run's failing rule on it
    assert checked.run_id in text and "xb" in text
    assert gate_docs.build(catalogue=[resource]) == {"pages": 0, "dropped": []}  # nothing waits any more


def test_a_batch_beyond_the_docs_rows_is_documented_on_a_labelled_sample(kafka_bootstrap, hub_env, monkeypatch):
    from quality import suites
    from warehouse import gate_docs

    monkeypatch.setattr(gate_docs, "DOCS_ROWS", 10)
    resource = make_resource()
    produce(resource, [person(n) for n in range(40)])
    landed = landing.land(resource.id, catalogue=[resource])
    checked = gate.check(resource.id, landed.to_dict(), catalogue=[resource], docs="later", publish=False)

    assert gate_docs.build(catalogue=[resource])["pages"] == 1
    text = (suites.docs_dir() / checked.docs_path).read_text()
    assert "a sample:" in text and "of 40 rows" in text and "1 of 4 hash buckets" in text
    assert "the gate judged every row" in text
    assert checked.passed_rows == 40  # the verdict is over every row, whatever the page shows


def test_a_noted_page_whose_landed_files_were_replaced_is_dropped(kafka_bootstrap, hub_env):
    from warehouse import gate_docs

    resource = make_resource()
    produce(resource, [person(n) for n in range(5)])
    landed = landing.land(resource.id, catalogue=[resource])
    gate.check(resource.id, landed.to_dict(), catalogue=[resource], docs="later", publish=False)
    for landed_file in lake.list_files(resource):  # as a crashed landing's tidy-up would
        landed_file.path.unlink()

    built = gate_docs.build(catalogue=[resource])

    assert built["pages"] == 0 and len(built["dropped"]) == 1 and gate_docs.pending() == []
