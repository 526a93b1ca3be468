"""What goes wrong in a department's system, on demand: an outage, and a bad batch later corrected.

These act on the stand-in department databases only (SQL bindings), as the real systems would show
it to a connector:

- **outage**: the department's tables stop answering. Each table is moved aside and a view that
  reads a missing relation takes its name, so a reader gets "no such table" from the database (the
  connector reports the source unavailable and lands nothing); `restore` puts the tables back as
  they were, with every row the department kept.
- **bad batch**: a nightly export rewrites some records with a value outside the item's value set
  (its cursor moves on, so the next incremental read picks them up and the quality gate fails the
  batch); asked again before a correction, the export writes the same wrong records again (cursor
  moved on); `correct` rewrites them with their original values, cursor moved again.

What is down or waiting for a correction is kept in `<var>/sources/incidents.json`.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from connectors import systems
from synthetic.base import SyntheticError, iso_ts
from synthetic.generate import bound_resources
from synthetic.sinks import dispose_engines, engine_for
from synthetic.sqlstore import DEFAULT_CURSOR

OUTAGE_SUFFIX = "__outage"
UNREACHABLE = "source system unreachable"
BAD_VALUE = "X"  # one character, so a length rule does not hide the value-set failure


def _state_path() -> Path:
    return systems.sources_dir() / "incidents.json"


def _state() -> dict:
    path = _state_path()
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"down": {}, "bad_batches": {}}


def _save(state: dict) -> None:
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def _sql_resources(department: str, catalogue_path) -> list:
    resources = [r for r in bound_resources(catalogue_path) if r.provider == department]
    if not resources:
        raise SyntheticError(f"department {department!r} has no bound resource in the catalogue")
    return [r for r in resources if r.binding.kind == "sql"]


def outage(department: str, catalogue_path=None) -> list[str]:
    """Take the department's database tables down; returns them as `system.table`."""
    state = _state()
    if department in state["down"]:
        raise SyntheticError(f"{department} is already down; `hub sources restore {department}` first")
    tables = [
        (r.binding.system, str(r.binding.config["table"]))
        for r in _sql_resources(department, catalogue_path)
        if str(r.binding.config["table"]) in sa.inspect(engine_for(r.binding.system)).get_table_names()
    ]  # a table never built (a partial seed) has nothing to take down
    try:
        for system, table in tables:
            with _altering(system) as (conn, quote):
                conn.exec_driver_sql(f"ALTER TABLE {quote(table)} RENAME TO {quote(table + OUTAGE_SUFFIX)}")
                conn.exec_driver_sql(f"CREATE VIEW {quote(table)} AS SELECT * FROM {quote(UNREACHABLE)}")
    finally:
        dispose_engines()
    taken = [f"{system}.{table}" for system, table in tables]
    state["down"][department] = taken
    _save(state)
    return taken


def restore(department: str, catalogue_path=None) -> list[str]:
    """Bring the department's tables back (a no-op for tables that are up)."""
    state = _state()
    back: list[str] = []
    try:
        for resource in _sql_resources(department, catalogue_path):
            system, table = resource.binding.system, str(resource.binding.config["table"])
            if table + OUTAGE_SUFFIX not in sa.inspect(engine_for(system)).get_table_names():
                continue
            with _altering(system) as (conn, quote):
                conn.exec_driver_sql(f"DROP VIEW IF EXISTS {quote(table)}")
                conn.exec_driver_sql(f"ALTER TABLE {quote(table + OUTAGE_SUFFIX)} RENAME TO {quote(table)}")
            back.append(f"{system}.{table}")
    finally:
        dispose_engines()
    state["down"].pop(department, None)
    _save(state)
    return back


@contextmanager
def _altering(system: str):
    """A transaction on the system's database for renaming tables while other views are broken:
    legacy_alter_table keeps SQLite from re-checking every view (an outage's views do not resolve)."""
    engine = engine_for(system)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA legacy_alter_table = ON")
        yield conn, engine.dialect.identifier_preparer.quote


def _resource(resource_id: str, catalogue_path):
    found = [r for r in bound_resources(catalogue_path) if r.id == resource_id]
    if not found or found[0].binding.kind != "sql":
        raise SyntheticError(f"{resource_id!r} is not a resource bound to a department database (sql)")
    return found[0]


def _broken_item(resource) -> str:
    """The first value-set item that is neither a key nor derived from another item."""
    for item in resource.items:
        rules = item.rules
        if not item.key and rules.values and rules.derived_from is None and BAD_VALUE not in rules.values:
            return item.name
    raise SyntheticError(f"{resource.id} has no item with a value set to break; pick another resource")


def _step_time() -> str:
    """Now in the synthetic world: the time of the last `hub seed` step (cursors stay non-decreasing)."""
    manifest = json.loads(systems.manifest_path().read_text(encoding="utf-8"))
    return manifest["generated_at"]


def bad_batch(resource_id: str, rows: int = 10, catalogue_path=None) -> dict:
    """Rewrite `rows` records of the resource with a value outside the item's set; returns what was broken."""
    resource = _resource(resource_id, catalogue_path)
    state = _state()
    waiting = state["bad_batches"].get(resource_id)
    if waiting is not None:  # the uncorrected export runs again: the same records, still wrong
        _rewrite(resource, waiting["item"], [(rowid, BAD_VALUE) for rowid, _ in waiting["rows"]])
        return {"resource": resource_id, "item": waiting["item"], "rows": len(waiting["rows"]), "value": BAD_VALUE}
    item = _broken_item(resource)
    table = str(resource.binding.config["table"])
    engine = engine_for(resource.binding.system)
    q = engine.dialect.identifier_preparer.quote
    try:
        with engine.connect() as conn:
            picked = conn.exec_driver_sql(
                f"SELECT rowid, {q(item)} FROM {q(table)} WHERE {q(item)} IS NOT NULL ORDER BY rowid LIMIT ?", (rows,)
            ).all()
    finally:
        dispose_engines()
    _rewrite(resource, item, [(rowid, BAD_VALUE) for rowid, _ in picked])
    state["bad_batches"][resource_id] = {"item": item, "rows": [[rowid, value] for rowid, value in picked]}
    _save(state)
    return {"resource": resource_id, "item": item, "rows": len(picked), "value": BAD_VALUE}


def correct(resource_id: str, catalogue_path=None) -> dict:
    """Rewrite the bad batch's records with their original values (cursor moved on)."""
    resource = _resource(resource_id, catalogue_path)
    state = _state()
    batch = state["bad_batches"].get(resource_id)
    if batch is None:
        raise SyntheticError(f"{resource_id} has no bad batch to correct")
    _rewrite(resource, batch["item"], batch["rows"])
    del state["bad_batches"][resource_id]
    _save(state)
    return {"resource": resource_id, "item": batch["item"], "rows": len(batch["rows"])}


def _rewrite(resource, item: str, values) -> None:
    """Set `item` of the rows (rowid, value) and move their cursor to the synthetic now, so the next
    incremental read picks them up."""
    table = str(resource.binding.config["table"])
    cursor = str(resource.binding.config.get("cursor_column") or DEFAULT_CURSOR)
    engine = engine_for(resource.binding.system)
    q = engine.dialect.identifier_preparer.quote
    stamp = iso_ts(datetime.fromisoformat(_step_time()))
    try:
        with engine.begin() as conn:
            for rowid, value in values:
                conn.exec_driver_sql(
                    f"UPDATE {q(table)} SET {q(item)} = ?, {q(cursor)} = ? WHERE rowid = ?", (value, stamp, rowid)
                )
    finally:
        dispose_engines()
