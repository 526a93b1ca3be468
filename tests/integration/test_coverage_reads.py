"""Coverage read from the catalogue database: reading never writes a snapshot (CLI, library), the
freshness clock counts only landings with rows, the window adds the grace to the cycle, the source's
own clock gives update timeliness, and snapshots of an older definition stay readable as stored."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select, update

from catalog.coverage import DEFINITION_VERSION
from catalog.db import make_engine, migrate, session_factory
from catalog.events import apply_events
from catalog.models import CoverageSnapshot, Resource
from catalog.snapshots import coverage_report, history, snapshot_today, stored_document, take_snapshot
from catalog.store import load_catalogue_into, resource_facts
from hub import settings as hub_settings
from hub.events import make_event

TARGET_DATE = date(2026, 12, 31)


class Db:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        migrate(engine=self.engine)
        self.sessions = session_factory(self.engine)

    def run(self, work):
        with self.sessions() as session, session.begin():
            return work(session)

    def report(self, as_of: datetime) -> dict:
        return self.run(lambda s: coverage_report(s, as_of, target=0.7, target_date=TARGET_DATE))

    def snapshots(self) -> list[tuple]:
        return self.run(
            lambda s: [
                (row.snapshot_date, row.definition_version, row.ratio, row.as_of)
                for row in s.scalars(select(CoverageSnapshot).order_by(CoverageSnapshot.id))
            ]
        )


@pytest.fixture
def db(new_catalog_url, small_catalogue, t0):
    made = Db(new_catalog_url())
    made.run(lambda s: load_catalogue_into(s, small_catalogue, now=t0 - timedelta(days=60)))
    yield made
    made.engine.dispose()


def _load(resource: str, at: datetime, rows: int, load: str, source_time: datetime | None = None) -> list[dict]:
    """connector.produced, landing.completed and a passing quality.completed for one load."""
    landing = make_event(
        "landing.completed",
        resource,
        ts=at,
        load_id=load,
        rows=rows,
        offsets={"0": [0, max(rows, 1) - 1]},
        max_event_time=source_time.isoformat() if source_time else None,
    )
    return [
        make_event("connector.produced", resource, ts=at - timedelta(minutes=5), run_id=f"{load}-run", records=rows),
        landing,
        make_event(
            "quality.completed",
            resource,
            ts=at + timedelta(minutes=1),
            load_id=load,
            rows_checked=rows,
            rows_valid=rows,
            failed_rules=[],
            failed_critical=[],
        ),
    ]


def _facts(db: Db, resource: str, as_of: datetime):
    return next(f for f in db.run(lambda s: resource_facts(s, as_of)) if f.resource_id == resource)


def _reason(document: dict, code: str) -> str | None:
    return next((gap["reason"] for gap in document["gaps"] if gap["resource_code"] == code), None)


# --- reading never writes ---------------------------------------------------------------------------


def test_hub_coverage_at_any_as_of_leaves_the_snapshot_table_unchanged(db, evidence_events, t0, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from catalog.cli import coverage

    db.run(lambda s: apply_events(s, evidence_events))
    snapshot_today(t0 - timedelta(days=1), url=db.url)  # the daily job ran yesterday
    before = db.snapshots()
    monkeypatch.setenv("HUB_CATALOG_URL", db.url)
    monkeypatch.setenv("HUB_TARGET_DATE", TARGET_DATE.isoformat())
    hub_settings.reset_settings()
    cli = typer.Typer()
    cli.command()(coverage)
    try:
        for as_of in ("2026-04-01", (t0 + timedelta(hours=1)).isoformat(), "2026-05-02", "2027-03-01", None):
            for output in ([], ["--json"]):
                result = CliRunner().invoke(cli, output + (["--as-of", as_of] if as_of else []))
                assert result.exit_code == 0, result.output
    finally:
        hub_settings.reset_settings()
    assert db.snapshots() == before and len(before) == 1


def test_only_the_daily_snapshot_writes_and_the_days_first_one_stands(db, evidence_events, t0):
    db.run(lambda s: apply_events(s, evidence_events))
    for when in (t0, t0 - timedelta(days=40), t0 + timedelta(days=400)):
        db.report(when)
    assert db.snapshots() == []
    first = snapshot_today(t0, url=db.url)
    again = snapshot_today(t0 + timedelta(hours=3), url=db.url)
    assert again == first and [row[:2] for row in db.snapshots()] == [(t0.date(), DEFINITION_VERSION)]


# --- the freshness clock and the window ---------------------------------------------------------------


def test_a_landing_with_no_rows_does_not_reset_the_freshness_clock(db, t0):
    with_rows = t0 - timedelta(hours=40)
    events = _load("hjrk_jbxx", with_rows, 100, "rows-1", source_time=with_rows - timedelta(hours=1))
    events += _load("hjrk_jbxx", t0 - timedelta(hours=1), 0, "empty-1")  # we polled; nothing arrived
    db.run(lambda s: apply_events(s, events))
    facts = _facts(db, "hjrk_jbxx", t0)
    assert facts.last_landing_at == with_rows and facts.landed_rows == 100
    assert _reason(db.report(t0), "101001/000001") == "stale"  # 每日: 40 h > 36 h


def test_no_monthly_resource_is_stale_three_days_after_its_load(db, t0):
    # qy_jbxx is 每月; with a stated grace of 72 h the window is 35 d + 72 h (the grace used to replace it).
    db.run(lambda s: s.execute(update(Resource).where(Resource.id == "qy_jbxx").values(freshness_grace_hours=72)))
    db.run(lambda s: apply_events(s, _load("qy_jbxx", t0, 500, "qy-1", source_time=t0 - timedelta(hours=2))))
    for days in (3, 20, 38):
        document = db.report(t0 + timedelta(days=days))
        assert _reason(document, "102001/000003") is None, days  # aggregated
    assert _reason(db.report(t0 + timedelta(days=38, seconds=1)), "102001/000003") == "stale"


def test_a_stored_absurd_grace_is_reported_and_does_not_break_the_readers(db, evidence_events, t0):
    db.run(lambda s: apply_events(s, evidence_events))
    db.run(lambda s: s.execute(update(Resource).where(Resource.id == "qy_jbxx").values(freshness_grace_hours=1e300)))
    document = db.report(t0 + timedelta(hours=1))
    assert [(p["resource_code"], p["applied_grace_hours"]) for p in document["problems"]] == [("102001/000003", 8784.0)]
    assert _reason(document, "102001/000003") is None  # 40 days old, within 35 d + a year
    assert orjson.loads(orjson.dumps(document)) == document


# --- the source's clock -----------------------------------------------------------------------------


def test_update_timeliness_reads_the_sources_own_time(db, t0):
    events = _load("hjrk_jbxx", t0 - timedelta(hours=1), 100, "h-1", source_time=t0 - timedelta(hours=2))
    # Landed just now, but the newest record the source changed is 3 days old.
    events += _load("ldrk_jbxx", t0 - timedelta(hours=1), 100, "l-1", source_time=t0 - timedelta(days=3))
    # A source clock ahead of the landing is wrong: it counts as the landing's own time.
    events += _load("gtgsh_jbxx", t0 - timedelta(days=10), 100, "g-1", source_time=t0 + timedelta(days=300))
    db.run(lambda s: apply_events(s, events))
    assert _facts(db, "gtgsh_jbxx", t0).source_changed_at == t0 - timedelta(days=10)
    document = db.report(t0)
    assert _reason(document, "101002/000002") is None  # aggregated: mounted and fresh on our side
    part = document["timeliness"]
    assert part["overall"] == {"timely": 1, "total": 3, "ratio": 0.3333}
    assert {row["resource_code"]: row["reason"] for row in part["late"]} == {
        "101002/000002": "source not updated",
        "102002/000004": "no update cycle",
    }


# --- definition versions ----------------------------------------------------------------------------


def test_snapshots_of_an_older_definition_are_read_as_they_were_stored(db, evidence_events, t0):
    db.run(lambda s: apply_events(s, evidence_events))
    old_day = t0 - timedelta(days=2)
    old = {**db.report(old_day), "definition_version": "2026.1"}
    old["overall"] = {"aggregated": 3, "total": 6, "ratio": 0.5}  # what the old definition counted that day
    db.run(lambda s: take_snapshot(s, old, old_day))
    snapshot_today(t0 - timedelta(days=1), url=db.url)
    document = db.report(t0 + timedelta(hours=1))
    assert [(p["date"], p["ratio"], p["definition_version"]) for p in document["trend"]] == [
        (old_day.date().isoformat(), 0.5, "2026.1"),
        ((t0 - timedelta(days=1)).date().isoformat(), db.snapshots()[1][2], DEFINITION_VERSION),
        (t0.date().isoformat(), document["overall"]["ratio"], DEFINITION_VERSION),
    ]
    assert db.run(lambda s: stored_document(s, old_day.date()))["definition_version"] == "2026.1"
    assert db.run(lambda s: stored_document(s, old_day.date(), DEFINITION_VERSION)) is None
    # Two snapshots on one day (the day the version changed): the trend shows the current one.
    db.run(lambda s: take_snapshot(s, {**db.report(old_day), "definition_version": DEFINITION_VERSION}, old_day))
    points = db.run(lambda s: history(s, before=t0.date()))
    assert [p.definition_version for p in points if p.date == old_day.date()][-1] == DEFINITION_VERSION
    assert db.run(lambda s: s.scalar(select(func.count()).select_from(CoverageSnapshot))) == 3


def test_the_projection_leaves_out_points_of_another_definition(db, t0):
    for days in (3, 2, 1):
        day = t0 - timedelta(days=days)
        db.run(lambda s, day=day: take_snapshot(s, {**db.report(day), "definition_version": "2026.1"}, day))
    projection = db.report(t0)["projection"]
    assert projection["method"] == "insufficient history"
