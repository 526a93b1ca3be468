"""The stand-ins' incidents as a connector meets them: a department's database down (its reader gets
"source unavailable", other departments' tables in the same database still answer; restored, every
row is there), a bad batch that the next incremental read picks up and a correction that puts the
original values back, and daily steps that move the synthetic clock a day at a time."""

from __future__ import annotations

import json
import sqlite3

import orjson
import pytest

from connectors.errors import SourceUnavailable
from connectors.kinds.sql import SqlSource
from connectors.records import RecordBuilder
from synthetic import generate, incidents
from synthetic.base import SyntheticError

pytestmark = pytest.mark.usefixtures("hub_env")

SCJGJ = {"market_entities", "food_sampling"}
OTHER = "corporate_credit_rating"  # zsj's table in the same legal_entity_db


def _resource(resource_id):
    return next(r for r in generate.bound_resources() if r.id == resource_id)


def _read_all(resource_id) -> list[dict | str]:
    """Each row's record value, or why it goes to the DLQ."""
    resource = _resource(resource_id)
    source = SqlSource(resource, resource.binding)
    try:
        messages = RecordBuilder(resource, "test").messages(source.read({}))
        return [orjson.loads(m[1]) if isinstance(m, tuple) else str(m) for m in messages]
    finally:
        source.close()


def test_an_outage_takes_down_only_the_departments_tables_and_restore_keeps_every_row(hub_env):
    generate.seed("tiny", 7, only=SCJGJ | {OTHER})
    before = _read_all("market_entities")
    down = incidents.outage("scjgj")
    assert "legal_entity_db.fr_sczt" in down  # market_entities' table
    with pytest.raises(SourceUnavailable, match="not reachable"):
        _read_all("market_entities")
    assert _read_all(OTHER)  # the same database still answers for another department
    with pytest.raises(SyntheticError, match="already down"):
        incidents.outage("scjgj")
    assert "legal_entity_db.fr_sczt" in incidents.restore("scjgj")
    assert _read_all("market_entities") == before


def test_a_bad_batch_is_read_by_the_next_pass_and_the_correction_restores_it(hub_env):
    generate.seed("tiny", 7, only={"resident_population"})
    database = hub_env / "sources" / "population_db.sqlite"
    with sqlite3.connect(database) as db:
        original = dict(db.execute("SELECT gmsfhm, hyzk FROM rk_czrk ORDER BY rowid LIMIT 4"))
        latest = db.execute("SELECT max(updated_at) FROM rk_czrk").fetchone()[0]
    broken = incidents.bad_batch("resident_population", rows=4)
    assert broken == {"resource": "resident_population", "item": "hyzk", "rows": 4, "value": "X"}
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT gmsfhm, hyzk, updated_at FROM rk_czrk WHERE updated_at >= ?", (latest,)).fetchall()
    assert {key: value for key, value, _ in rows if key in original} == dict.fromkeys(original, "X")
    stamped = {key: at for key, _, at in rows if key in original}
    generate.seed("tiny", 7, step=1, only={"resident_population"})  # the next night
    assert incidents.bad_batch("resident_population", rows=4) == broken  # not corrected: exported again
    with sqlite3.connect(database) as db:
        again = {key: (value, at) for key, value, at in db.execute("SELECT gmsfhm, hyzk, updated_at FROM rk_czrk")}
    assert all(again[key][0] == "X" and again[key][1] > stamped[key] for key in original)
    incidents.correct("resident_population")
    with sqlite3.connect(database) as db:
        assert dict(db.execute("SELECT gmsfhm, hyzk FROM rk_czrk ORDER BY rowid LIMIT 4")) == original
    with pytest.raises(SyntheticError, match="no bad batch"):
        incidents.correct("resident_population")


def test_daily_steps_move_the_synthetic_clock_a_day_and_skip_a_department_that_is_down(hub_env):
    generate.seed("tiny", 7, only={"market_entities", OTHER}, step_hours=24)
    first = generate.seed("tiny", 7, step=1, only={"market_entities", OTHER}, skip_departments={"scjgj"})
    assert first["generated_at"].startswith("2026-11-21T00:00") and first["step_hours"] == 24
    manifest = json.loads((hub_env / "sources" / "manifest.json").read_text())
    assert manifest["resources"]["market_entities"]["updated"] == 0  # down: nothing entered there
    assert manifest["resources"][OTHER]["updated"] > 0
    with pytest.raises(SyntheticError, match="step by 24 h"):
        generate.seed("tiny", 7, step=2, step_hours=1)
