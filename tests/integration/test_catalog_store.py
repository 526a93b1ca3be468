"""The catalogue store on SQLite and on a real PostgreSQL: load, events, status, coverage."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from catalog import events as catalog_events
from catalog import evidence
from catalog.db import make_engine, migrate, session_factory
from catalog.models import (
    AppliedEvent,
    Base,
    CoverageSnapshot,
    Landing,
    Resource,
    SnapshotImmutableError,
    StatusChange,
)
from catalog.snapshots import coverage_report, history, take_snapshot
from catalog.store import dump_state, load_catalogue_into, resource_facts
from hub.events import make_event

CONTRACT_KEYS = {
    "target",
    "as_of",
    "definition_version",
    "overall",
    "by_department",
    "by_domain",
    "by_sharing_type",
    "weighted",
    "gaps",
    "trend",
    "projection",
    "timeliness",
    "scorecard",  # catalog.scorecard: the department figures a data bureau is held to
    "devices",  # catalog.devices: device-level coverage the warehouse computes
    "problems",
    "devices",  # device-level coverage, computed by the warehouse (keys are only ever added)
    "conflicts",  # catalog.conflicts: 一数一源 conflict rates the warehouse's daily check computes
}


class Db:
    """One migrated catalogue database and a session factory on it."""

    def __init__(self, url: str, t0):
        self.url, self.t0 = url, t0
        self.engine = make_engine(url)
        migrate(engine=self.engine)
        self.sessions = session_factory(self.engine)

    def run(self, work):
        with self.sessions() as session, session.begin():
            return work(session)

    def dump(self):
        return self.run(dump_state)

    def load(self, catalogue, now=None):
        now = now or self.t0 - timedelta(days=1)
        return self.run(lambda s: load_catalogue_into(s, catalogue, now=now))

    def apply(self, events):
        return self.run(lambda s: [catalog_events.apply_event(s, e) for e in events])


@pytest.fixture
def new_db(new_catalog_url, t0):
    made = []

    def factory() -> Db:
        made.append(Db(new_catalog_url(), t0))
        return made[-1]

    yield factory
    for db in made:
        db.engine.dispose()


def test_migration_matches_the_models_and_reruns(new_db):
    db = new_db()
    migrate(engine=db.engine)  # again: a no-op
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_loading_twice_writes_nothing_the_second_time(new_db, small_catalogue, t0):
    db = new_db()
    first = db.load(small_catalogue)
    assert len(first.registered) == 6 and not first.rejected
    state = db.dump()
    second = db.load(small_catalogue, now=t0)
    assert (second.registered, second.updated, second.unchanged, second.events) == ([], [], 6, [])
    assert db.dump() == state


def test_a_changed_entry_is_updated_in_place(new_db, small_catalogue, make_catalogue, t0):
    db = new_db()
    db.load(small_catalogue)
    changed = make_catalogue()
    entry = changed.resources[0]
    entry.name = "户籍人口基本信息（新）"
    entry.items = [entry.items[0], entry.items[2]] + [type(entry.items[0])(name="mz", label="民族", type="C")]
    entry.binding = None
    result = db.load(changed, now=t0)
    assert result.updated == ["hjrk_jbxx"] and result.events[0]["type"] == "resource.updated"

    def check(session):
        row = session.get(Resource, "hjrk_jbxx")
        assert row.name == "户籍人口基本信息（新）"
        assert [item.name for item in row.items] == ["gmsfhm", "csrq", "mz"]
        assert row.binding is None and row.status == evidence.UNBOUND

    db.run(check)


def test_an_older_registration_replayed_late_does_not_win(new_db, small_catalogue, make_catalogue, t0):
    db = new_db()
    first = db.load(small_catalogue, now=t0).events
    changed = make_catalogue()
    changed.resources[0].name = "户籍人口基本信息（新）"
    db.load(changed, now=t0 + timedelta(hours=1))
    assert db.apply([dict(first[0], id="an-older-copy")]) == [catalog_events.APPLIED]
    assert db.run(lambda s: s.get(Resource, "hjrk_jbxx").name) == "户籍人口基本信息（新）"


def test_applying_events_twice_equals_applying_them_once(new_db, small_catalogue, evidence_events):
    db = new_db()
    db.load(small_catalogue)
    assert set(db.apply(evidence_events)) == {catalog_events.APPLIED}
    once = db.dump()
    assert set(db.apply(evidence_events)) == {catalog_events.DUPLICATE}
    assert db.dump() == once


def test_two_consumers_applying_the_same_events_at_once_apply_each_once(new_db, small_catalogue, evidence_events):
    reference = new_db()
    registrations = reference.load(small_catalogue).events
    reference.apply(evidence_events)
    db = new_db()
    db.apply(registrations)
    outcomes: list[list[str]] = []
    together = threading.Barrier(2)

    def apply_all(session):
        together.wait(timeout=30)  # both transactions start at the same moment
        return catalog_events.apply_events(session, evidence_events)

    def consumer():
        outcomes.append(db.run(apply_all))

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    n = len(evidence_events)
    assert sorted(outcomes) == [[catalog_events.APPLIED] * n, [catalog_events.DUPLICATE] * n]
    assert db.dump() == reference.dump()


def test_replaying_every_event_into_an_empty_database_rebuilds_the_same_state(new_db, small_catalogue, evidence_events):
    original = new_db()
    loaded = original.load(small_catalogue)
    original.apply(evidence_events)
    rebuilt = new_db()
    rebuilt.apply(loaded.events + evidence_events)
    assert rebuilt.dump() == original.dump()


def test_status_follows_the_evidence_and_history_records_only_changes(new_db, small_catalogue, evidence_events, t0):
    db = new_db()
    db.load(small_catalogue)
    db.apply(evidence_events)

    def statuses(session):
        return dict(session.execute(select(Resource.id, Resource.status)).all())

    assert db.run(statuses) == {
        "hjrk_jbxx": "passing",
        "ldrk_jbxx": "quality_failed",
        "qy_jbxx": "passing",
        "gtgsh_jbxx": "passing",
        "sqwg_xx": "unbound",
        "dl_sp": "bound",
    }

    def hjrk_history(session):
        rows = session.scalars(
            select(StatusChange).where(StatusChange.resource_id == "hjrk_jbxx").order_by(StatusChange.changed_at)
        )
        return [(row.old_status, row.new_status, row.cause, row.note) for row in rows]

    assert db.run(hjrk_history) == [
        (None, "bound", "resource.registered", None),
        ("bound", "producing", "connector.produced", None),
        ("producing", "landing_failed", "landing.failed", None),
        ("landing_failed", "landed", "landing.completed", None),
        ("landed", "passing", "quality.completed", None),
        ("passing", "passing", "schema.changed", "schema changed; old: a1b2; new: c3d4; added: ['zz']"),
    ]
    # A second good quality run changes nothing, so no history row is written.
    db.apply([make_event("quality.completed", "hjrk_jbxx", ts=t0, rows_checked=10, rows_valid=10, failed_critical=[])])
    assert len(db.run(hjrk_history)) == 6
    db.apply([make_event("landing.failed", "hjrk_jbxx", ts=t0 + timedelta(minutes=1), load_id="x", error="disk full")])
    assert db.run(statuses)["hjrk_jbxx"] == "landing_failed"


def test_bad_events_are_recorded_not_raised(new_db, small_catalogue, t0):
    db = new_db()
    db.load(small_catalogue)

    def event(id_, type_, **payload):
        return {
            "id": id_,
            "type": type_,
            "ts": t0.isoformat(),
            "resource": "hjrk_jbxx",
            "version": 2,
            "payload": payload,
        }

    bad = [
        event("negative", "connector.produced", records=-1),
        event("no-load-id", "landing.completed", rows=5),
        {"id": "not-a-real-type", "type": "resource.deleted", "ts": t0.isoformat(), "resource": "x", "payload": {}},
        {
            "id": "naive-ts",
            "type": "connector.produced",
            "ts": "2026-05-01t08:00:00",
            "resource": "hjrk_jbxx",
            "payload": {"records": 1},
        },
        {"type": "connector.produced"},
    ]
    assert db.apply(bad) == ["rejected"] * 5

    def recorded(session):
        return {
            row.event_id: row.outcome
            for row in session.scalars(select(AppliedEvent).where(AppliedEvent.outcome != "applied"))
        }

    assert set(db.run(recorded).values()) == {"rejected"} and len(db.run(recorded)) == 4
    reasons = db.run(lambda s: {row.event_id: row.detail for row in s.scalars(select(AppliedEvent))})
    assert reasons["negative"] == "payload.records: must be a non-negative integer, not -1"
    assert reasons["no-load-id"] == "payload.load_id: Field required"
    assert "unknown event type 'resource.deleted'" in reasons["not-a-real-type"]
    assert "has no time zone" in reasons["naive-ts"]


def test_old_names_in_a_current_event_are_rejected_not_guessed(new_db, small_catalogue, t0):
    db = new_db()
    db.load(small_catalogue)
    synonyms = {
        "id": "synonyms",
        "type": "connector.produced",
        "ts": t0.isoformat(),
        "resource": "hjrk_jbxx",
        "version": 2,
        "payload": {"produced": 7, "dlq": 1, "system": "population_db"},
    }
    assert db.apply([synonyms]) == ["rejected"]
    detail = db.run(lambda s: s.get(AppliedEvent, "synonyms").detail)
    assert "payload.records: Field required" in detail and "payload.produced: Extra inputs are not permitted" in detail


def test_the_payloads_connectors_and_landing_publish_are_understood(new_db, small_catalogue, t0):
    db = new_db()
    db.load(small_catalogue)
    load_id = "dl_sp-20260501T080000-p0-0-6"
    published = [  # the shapes connectors/runner.py and warehouse/landing.py publish
        make_event(
            "connector.produced",
            "dl_sp",
            ts=t0,
            records=7,
            dlq_records=1,
            seconds=0.1,
            kind="http",
            source="video_platform",
            object="devices",
            topic="hub.raw.dl_sp",
            dlq_topic="hub.dlq.dl_sp",
            totals={"produced": 7, "dlq": 1},
            source_stats={},
            error=None,
        ),
        make_event(
            "landing.completed",
            "dl_sp",
            ts=t0 + timedelta(minutes=5),
            load_id=load_id,
            rows=6,
            files=["var/lake/dl_sp/part-0.parquet"],
            offsets={"0": [0, 6]},
            max_event_time=t0.isoformat(),
            dlq_rows=1,
            schema_fingerprint="ae53f4a1a2ff50d8",
        ),
        make_event(
            "quality.completed",
            "dl_sp",
            ts=t0 + timedelta(minutes=6),
            run_id=f"{load_id}-schema",
            load_id=load_id,
            suite="schema",
            rows_checked=7,
            rows_valid=6,
            pass_rate=6 / 7,
            failed_critical=["schema"],
            failed_warning=[],
        ),
    ]
    assert db.apply(published) == [catalog_events.APPLIED] * 3
    facts = {f.resource_id: f for f in db.run(lambda s: resource_facts(s))}
    video = facts["dl_sp"]
    assert (video.produced_at, video.landed_rows, video.quality_failed_critical) == (t0, 6, ("schema",))
    assert db.run(lambda s: s.get(Resource, "dl_sp").status) == evidence.QUALITY_FAILED
    dlq_rows = db.run(lambda s: s.scalars(select(Landing.dlq_rows).where(Landing.load_id == load_id)).one())
    assert dlq_rows == 1


def test_events_for_an_unknown_resource_apply_once_it_is_registered(new_db, small_catalogue, evidence_events):
    db = new_db()
    produced = [e for e in evidence_events if e["type"] == "connector.produced"]
    assert set(db.apply(produced)) == {catalog_events.UNKNOWN_RESOURCE}
    loaded = db.load(small_catalogue)
    assert set(db.apply(produced)) == {catalog_events.APPLIED}
    assert set(db.apply(produced)) == {catalog_events.DUPLICATE}
    assert loaded.registered


def test_resource_facts_come_from_the_evidence(new_db, small_catalogue, evidence_events, t0):
    db = new_db()
    db.load(small_catalogue)
    db.apply(evidence_events)
    facts = {f.resource_id: f for f in db.run(lambda s: resource_facts(s))}
    hjrk = facts["hjrk_jbxx"]
    assert hjrk.department == "区公安分局" and hjrk.bound and hjrk.landed_rows == 1000
    assert hjrk.last_landing_at == t0 - timedelta(hours=1.5) and hjrk.last_landing_at.tzinfo is not None
    assert hjrk.quality_pass_rate == pytest.approx(0.99) and hjrk.quality_failed_critical == ()
    assert facts["ldrk_jbxx"].quality_failed_critical == ("gmsfhm_valid",)
    assert facts["sqwg_xx"].department == "大良街道" and not facts["sqwg_xx"].bound
    assert facts["dl_sp"].produced_at is None
    before = {f.resource_id: f for f in db.run(lambda s: resource_facts(s, t0 - timedelta(hours=1.6)))}
    assert before["hjrk_jbxx"].last_landing_at is None and before["hjrk_jbxx"].quality_at is None


def test_coverage_document_and_daily_snapshots(new_db, small_catalogue, evidence_events, t0):
    db = new_db()
    db.load(small_catalogue)
    db.apply(evidence_events)
    as_of = t0 + timedelta(hours=1)
    report = lambda s, when=as_of: coverage_report(s, when, target=0.7, target_date=t0.date().replace(month=12, day=31))  # noqa: E731
    document = db.run(report)
    assert set(document) == CONTRACT_KEYS
    assert document["overall"] == {"aggregated": 1, "total": 6, "ratio": 0.1667}
    reasons = {gap["resource_code"]: gap["reason"] for gap in document["gaps"]}
    assert reasons == {
        "101002/000002": "failing rule gmsfhm_valid",
        "102001/000003": "stale",
        "102002/000004": "no update cycle",
        "203001/000005": "no binding",
        "203002/000006": "never produced",
    }
    # Reading stores nothing, at any as_of; the daily job's snapshot is the only writer.
    for when in (as_of, as_of - timedelta(days=30), as_of + timedelta(days=7)):
        db.run(lambda s, when=when: report(s, when))
    assert db.run(lambda s: s.scalar(select(func.count()).select_from(CoverageSnapshot))) == 0
    db.run(lambda s: take_snapshot(s, report(s), as_of))
    db.run(lambda s: take_snapshot(s, report(s), as_of + timedelta(minutes=5)))  # the day's first one stands
    assert db.run(lambda s: s.scalar(select(func.count()).select_from(CoverageSnapshot))) == 1
    next_day = db.run(lambda s: report(s, as_of + timedelta(days=1)))
    assert [point["date"] for point in next_day["trend"]] == ["2026-05-01", "2026-05-02"]
    db.run(lambda s: take_snapshot(s, next_day, as_of + timedelta(days=1)))
    assert [p.date.isoformat() for p in db.run(lambda s: history(s, before=as_of.date() + timedelta(days=5)))] == [
        "2026-05-01",
        "2026-05-02",
    ]


def test_snapshots_are_immutable(new_db, small_catalogue, t0):
    db = new_db()
    db.load(small_catalogue)
    db.run(lambda s: take_snapshot(s, coverage_report(s, t0, target=0.7, target_date=t0.date()), t0))

    def orm_update(session):
        session.scalars(select(CoverageSnapshot)).one().ratio = 1.0

    with pytest.raises(SnapshotImmutableError):
        db.run(orm_update)
    with pytest.raises(DBAPIError, match="immutable"):
        db.run(lambda s: s.execute(update(CoverageSnapshot).values(ratio=1.0)))


def test_landing_files_rows_offsets_are_kept(new_db, small_catalogue, evidence_events, t0):
    db = new_db()
    db.load(small_catalogue)
    db.apply(evidence_events)

    def landing(session):
        return session.scalars(select(Landing).where(Landing.load_id == "hjrk_jbxx-1")).one()

    row = db.run(landing)
    assert (row.rows, row.files, row.offsets) == (1000, ["hjrk_jbxx/p0/hjrk_jbxx-1.parquet"], {"0": [0, 999]})
    assert row.max_event_time == t0 - timedelta(hours=2.5)
    assert (
        db.run(lambda s: s.execute(text("SELECT count(*) FROM landings WHERE succeeded = :no"), {"no": False}).scalar())
        == 1
    )


def test_cli_coverage_json_prints_exactly_the_contract_document(
    new_db, small_catalogue, evidence_events, t0, monkeypatch, tmp_path
):
    import orjson
    import typer
    from typer.testing import CliRunner

    from catalog.cli import coverage
    from hub import settings as hub_settings

    db = new_db()
    db.load(small_catalogue)
    db.apply(evidence_events)
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_CATALOG_URL", db.url)
    monkeypatch.setenv("HUB_TARGET_DATE", "2026-12-31")
    hub_settings.reset_settings()
    cli = typer.Typer()
    cli.command()(coverage)
    try:
        as_json = CliRunner().invoke(cli, ["--json", "--as-of", (t0 + timedelta(hours=1)).isoformat()])
        table = CliRunner().invoke(cli, ["--as-of", "2026-05-01"])
    finally:
        hub_settings.reset_settings()
    assert as_json.exit_code == 0, as_json.output
    document = orjson.loads(as_json.stdout)
    assert set(document) == CONTRACT_KEYS
    assert document["overall"] == {"aggregated": 1, "total": 6, "ratio": 0.1667}
    assert document["projection"]["target_date"] == "2026-12-31"
    assert table.exit_code == 0, table.output
    assert "target 70%" in table.stdout and "区公安分局" in table.stdout and "never produced" in table.stdout


SEED = Path(__file__).resolve().parents[2] / "catalog" / "seed"


def test_the_seed_catalogue_loads_idempotently(new_db):
    if not (SEED / "departments.yaml").is_file():
        pytest.skip("catalog/seed/departments.yaml is not there yet")
    from catalog.spec import load_catalogue

    catalogue = load_catalogue(SEED)
    db = new_db()
    first = db.load(catalogue)
    assert not first.rejected and len(first.registered) == len(catalogue.resources)
    state = db.dump()
    assert db.load(catalogue).unchanged == len(catalogue.resources)
    assert db.dump() == state
    facts = db.run(lambda s: resource_facts(s))
    assert len(facts) >= 100 and len({f.department_id for f in facts}) >= 20


@pytest.mark.parametrize(
    "full, shown",
    [
        ("佛山市顺德区教育局", "区教育局"),
        ("区市场监督管理局", "区市场监督管理局"),
        ("佛山市公安局顺德分局", "区公安分局"),
        ("佛山市顺德区大良街道办事处", "大良街道"),
        ("佛山市顺德区陈村镇人民政府", "陈村镇"),
        ("佛山市顺德区燃气有限公司", "燃气公司"),
        ("广东电网有限责任公司佛山顺德供电局", "供电局"),
    ],
)
def test_department_names_read_as_leadership_reads_them(full, shown):
    from catalog.store import display_name

    assert display_name(full) == shown
