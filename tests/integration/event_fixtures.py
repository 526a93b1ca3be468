"""Recorded hub.events payloads of version 1 (before typed events) and the catalogue state they made.

Each file under tests/fixtures/events/ holds one old event (`event`), the old events it follows
(`prelude`, applied first) and what the catalogue of commit 8c76a56 (the last version-1 consumer)
made of them (`expected`: the outcome and every table the event changed, rows as `dump_state`
gives them). The shapes are those the version-1 producers sent (connectors/runner.py,
warehouse/events.py, quality/gate.py, catalog/store.py) and the synonyms the version-1 consumer
accepted. Recorded once, with the old code first on the path:

    PYTHONPATH=<a checkout of 8c76a56> .venv/bin/python tests/integration/event_fixtures.py --record
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)


def _at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def _v1(event_id: str, type_: str, resource: str, minutes: float, **payload) -> dict:
    return {"id": event_id, "type": type_, "ts": _at(minutes), "resource": resource, "payload": payload}


PRODUCED_BY_RUNNER = _v1(
    "fx-produced-runner",
    "connector.produced",
    "hjrk_jbxx",
    0,
    produced=7,
    dlq=1,
    seconds=0.412,
    kind="sql",
    system="population_db",
    object="hjrk_jbxx",
    topic="hub.raw.hjrk_jbxx",
    dlq_topic="hub.dlq.hjrk_jbxx",
    totals={"produced": 7, "dlq": 1},
    source_stats={"rows_read": 8},
    error=None,
)
LANDED_BY_WAREHOUSE = _v1(
    "fx-landed-warehouse",
    "landing.completed",
    "hjrk_jbxx",
    5,
    load_id="hjrk_jbxx-20260501T080500-a1b2c3",
    rows=6,
    files=["hjrk_jbxx/2026-05-01/hub.raw.hjrk_jbxx-p0-0-6.parquet"],
    offsets={"0": [0, 6]},
    max_event_time=_at(-60),
    dlq_rows=1,
    schema_fingerprint="ae53f4a1a2ff50d8",
    repairs={"date_iso": 2},
)


def _registration(resource, department) -> dict:
    spec = resource.model_dump(mode="json", exclude={"line", "file"})
    dept = department.model_dump(mode="json", exclude={"line", "file"})
    import hashlib

    digest = hashlib.sha256(orjson.dumps({"spec": spec, "department": dept}, option=orjson.OPT_SORT_KEYS))
    return {"spec": spec, "department": dept, "spec_hash": digest.hexdigest()}


def fixtures() -> dict[str, dict]:
    """name → {prelude, event}: the version-1 shapes, one per event type and per synonym variant."""
    conftest = _conftest()
    catalogue = conftest.build_catalogue()
    gaj = next(d for d in catalogue.departments if d.id == "gaj")
    new = conftest._resource("fx_new_jbxx", "gaj", "101009/000009")
    renamed = catalogue.resources[0].model_copy(update={"name": "户籍人口基本信息（更名）"})
    return {
        "resource_registered": {
            "prelude": [],
            "event": _v1("fx-registered", "resource.registered", "fx_new_jbxx", 0, **_registration(new, gaj)),
        },
        "resource_updated": {
            "prelude": [],
            "event": _v1("fx-updated", "resource.updated", "hjrk_jbxx", 0, **_registration(renamed, gaj)),
        },
        "resource_registered_without_hash": {
            "prelude": [],
            "event": _v1(
                "fx-registered-nohash",
                "resource.registered",
                "fx_new_jbxx",
                0,
                **{k: v for k, v in _registration(new, gaj).items() if k != "spec_hash"},
            ),
        },
        "connector_produced_runner": {"prelude": [], "event": PRODUCED_BY_RUNNER},
        "connector_produced_records": {
            "prelude": [],
            "event": _v1(
                "fx-produced-records",
                "connector.produced",
                "ldrk_jbxx",
                0,
                records=1000,
                dlq_records=3,
                source="population_db",
                run_id="ldrk_jbxx-run",
                offsets={"0": [0, 999]},
                produced_at=_at(-1),
                error=None,
            ),
        },
        "connector_produced_records_dlq": {
            "prelude": [],
            "event": _v1(
                "fx-produced-records-dlq", "connector.produced", "qy_jbxx", 0, run_id="qy_jbxx-run", records=1000, dlq=3
            ),
        },
        "connector_produced_zero_with_error": {
            "prelude": [],
            "event": _v1(
                "fx-produced-error",
                "connector.produced",
                "dl_sp",
                0,
                produced=0,
                dlq=0,
                kind="http",
                system="video_platform",
                source="",
                error="video platform answered 503",
            ),
        },
        "connector_produced_negative": {
            "prelude": [],
            "event": _v1("fx-produced-negative", "connector.produced", "hjrk_jbxx", 0, records=-1),
        },
        "landing_completed_warehouse": {"prelude": [PRODUCED_BY_RUNNER], "event": LANDED_BY_WAREHOUSE},
        "landing_completed_minimal": {
            "prelude": [PRODUCED_BY_RUNNER],
            "event": _v1(
                "fx-landed-minimal",
                "landing.completed",
                "hjrk_jbxx",
                5,
                load_id="hjrk_jbxx-1",
                rows=5,
                completed_at=_at(4),
                max_event_time="",
            ),
        },
        "landing_completed_without_load_id": {
            "prelude": [PRODUCED_BY_RUNNER],
            "event": _v1("fx-landed-no-load", "landing.completed", "hjrk_jbxx", 5, rows=5),
        },
        "landing_failed_warehouse": {
            "prelude": [PRODUCED_BY_RUNNER],
            "event": _v1(
                "fx-failed",
                "landing.failed",
                "hjrk_jbxx",
                5,
                load_id="hjrk_jbxx-20260501T080500-d4e5f6",
                error="KafkaTimeoutError: Failed to update metadata after 60.0 secs.",
            ),
        },
        "landing_failed_without_error": {
            "prelude": [PRODUCED_BY_RUNNER],
            "event": _v1("fx-failed-no-error", "landing.failed", "hjrk_jbxx", 5, load_id="hjrk_jbxx-2"),
        },
        "quality_completed_gate": {
            "prelude": [PRODUCED_BY_RUNNER, LANDED_BY_WAREHOUSE],
            "event": _v1(
                "fx-quality-gate",
                "quality.completed",
                "hjrk_jbxx",
                6,
                run_id="hjrk_jbxx-0123456789ab",
                load_id=LANDED_BY_WAREHOUSE["payload"]["load_id"],
                suite="hub.hjrk_jbxx",
                ran_at=_at(6),
                rows_checked=7,
                rows_valid=5,
                pass_rate=5 / 7,
                quarantined_rows=1,
                dlq_rows=1,
                failed_rules=[
                    {"name": "schema", "critical": True, "failed_rows": 1, "success": False},
                    {"name": "gmsfhm_valid", "critical": True, "failed_rows": 1, "success": False},
                    {"name": "xm_length", "critical": False, "failed_rows": 2, "success": False},
                ],
                failed_critical=["gmsfhm_valid", "schema"],
                failed_warning=["xm_length"],
                repairs={"full_width_codes": 1},
                docs="var/quality/docs/index.html",
            ),
        },
        "quality_completed_rows_and_names": {
            "prelude": [PRODUCED_BY_RUNNER, LANDED_BY_WAREHOUSE],
            "event": _v1(
                "fx-quality-rows",
                "quality.completed",
                "hjrk_jbxx",
                6,
                load_id="hjrk_jbxx-1",
                rows=10,
                failed_rules=["xm_length", {"name": "gmsfhm_valid", "critical": True, "failed_rows": 1}],
                repairs={"date_iso": 2, "note": "text"},
            ),
        },
        "quality_completed_landing_schema_check": {
            "prelude": [PRODUCED_BY_RUNNER, LANDED_BY_WAREHOUSE],
            "event": _v1(
                "fx-quality-schema",
                "quality.completed",
                "hjrk_jbxx",
                6,
                run_id="hjrk_jbxx-1-schema",
                load_id="hjrk_jbxx-1",
                suite="schema",
                rows=7,
                valid_rows=6,
                rows_checked=7,
                rows_valid=6,
                pass_rate=6 / 7,
                failed_critical=["schema"],
                failed_warning=[],
            ),
        },
        "quality_completed_valid_only": {
            "prelude": [PRODUCED_BY_RUNNER, LANDED_BY_WAREHOUSE],
            "event": _v1("fx-quality-valid", "quality.completed", "hjrk_jbxx", 6, rows_checked=1000, rows_valid=990),
        },
        "schema_changed_landing": {
            "prelude": [],
            "event": _v1(
                "fx-schema-landing",
                "schema.changed",
                "hjrk_jbxx",
                7,
                old="ae53f4a1a2ff50d8",
                new="0badc0ffee000001",
                added=["zz", "yy"],
                note="source records differ from the catalogue entry",
            ),
        },
        "schema_changed_message": {
            "prelude": [],
            "event": _v1(
                "fx-schema-message",
                "schema.changed",
                "ldrk_jbxx",
                7,
                message="column csrq became a string",
                removed=["csrq"],
                changed=["hs"],
            ),
        },
        "schema_changed_bare": {"prelude": [], "event": _v1("fx-schema-bare", "schema.changed", "ldrk_jbxx", 7)},
    }


def replay(fixture: dict, url: str) -> dict:
    """Load the small catalogue into `url`, apply the prelude, then the event; returns
    {outcome, changed: {table: {"added": rows, "removed": rows}}} for the tables the event changed
    (rows as JSON-ready lists; a changed row is removed in its old form and added in its new one)."""
    from catalog import events as catalog_events
    from catalog.db import make_engine, migrate, session_factory
    from catalog.store import dump_state, load_catalogue_into

    engine = make_engine(url)
    migrate(engine=engine)
    sessions = session_factory(engine)
    try:
        with sessions() as session, session.begin():
            load_catalogue_into(session, _conftest().build_catalogue(), now=T0 - timedelta(days=1))
            for event in fixture["prelude"]:
                assert catalog_events.apply_event(session, event) == "applied", event["id"]
        with sessions() as session, session.begin():
            before = _json(dump_state(session))
            outcome = catalog_events.apply_event(session, fixture["event"])
            after = _json(dump_state(session))
    finally:
        engine.dispose()
    changed = {}
    for name, rows in after.items():
        old = before.get(name, [])
        if rows != old:
            changed[name] = {
                "added": [row for row in rows if row not in old],
                "removed": [row for row in old if row not in rows],
            }
    return {"outcome": outcome, "changed": changed}


def _json(value):
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


def _conftest():
    path = Path(__file__).resolve().parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("hub_tests_integration_conftest", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _record() -> None:
    import tempfile

    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for name, fixture in fixtures().items():
            expected = replay(fixture, f"sqlite:///{folder}/{name}.db")
            data = {**fixture, "expected": expected}
            (FIXTURES / f"{name}.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
            print(f"{name}: {expected['outcome']}, changed {sorted(expected['changed'])}")


if __name__ == "__main__" and "--record" in sys.argv:
    _record()
