"""The one catalogue reader: once loaded, the catalogue database is the truth.

- `catalogue()` reads every entry from the database as catalog.spec models (what connectors,
  landing, the gate and the flows work from);
- `snapshot()` reads the copy of it kept at <var>/catalog/snapshot.json: what DAG files lay their
  tasks out from at parse time, which must open no connection. Every commit that changes a
  catalogue entry (`hub catalog load`, the API's create / update / retire, a resource event
  consumed from hub.events) rewrites the copy atomically, so the next parse sees the change;
- `resolve(resource_id, catalogue)` finds one entry, with an error that says where it looked.

The seed files under catalog/seed are only an input to `hub catalog load`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from catalog import spec
from catalog.db import session_scope
from catalog.errors import CatalogError
from catalog.models import Department, Resource
from hub.files import write_atomic
from hub.settings import get_settings

log = logging.getLogger(__name__)
CATALOGUE_CHANGED = "hub.catalogue_changed"  # session.info flag set by every write of an entry
RETIRED_ENTRY_STATUSES = ("已下线",)  # entries that left the catalogue: no task, not counted


class UnknownResource(CatalogError):
    """The resource id is not in the catalogue."""


def snapshot_path() -> Path:
    return get_settings().var_dir / "catalog" / "snapshot.json"


_held: spec.Catalogue | None = None


@contextmanager
def held() -> Iterator[spec.Catalogue]:
    """Read the catalogue once for a block of runs that do not change it (a simulated day's flows):
    inside, `catalogue()` without a session returns that read instead of querying the database for
    every step of every resource (≈ 0.8 s each on the seed). Inside an outer block, the outer read is
    used: a simulated day holds the catalogue, and each of its flows' load holds it again."""
    global _held
    if _held is not None:
        yield _held
        return
    _held = catalogue()
    try:
        yield _held
    finally:
        _held = None


def catalogue(session: Session | None = None) -> spec.Catalogue:
    """Every department and entry in the catalogue database (retired entries included)."""
    if session is not None:
        return _read(session)
    if _held is not None:
        return _held
    with session_scope() as own:
        return _read(own)


def snapshot() -> spec.Catalogue:
    """The catalogue as last committed, from its snapshot file (no database connection); empty,
    with a warning, before the first `hub catalog load`."""
    path = snapshot_path()
    if not path.exists():
        log.warning("no catalogue snapshot at %s yet: run `hub catalog load` first", path)
        return spec.Catalogue(departments=[], resources=[])
    return spec.Catalogue.model_validate(orjson.loads(path.read_bytes()))


def write_snapshot(session: Session | None = None) -> Path:
    """Rewrite the snapshot file from the database (atomically: a parser never reads half of it)."""
    return _write(catalogue(session))


def _write(current: spec.Catalogue) -> Path:
    path = snapshot_path()
    write_atomic(path, orjson.dumps(current.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS))
    return path


def in_force(entries) -> list[spec.Resource]:
    """The entries that are part of the catalogue today (not retired)."""
    return [r for r in getattr(entries, "resources", entries) if r.status not in RETIRED_ENTRY_STATUSES]


def resolve(resource_id: str, entries=None) -> spec.Resource:
    """The entry `resource_id` of `entries` (a Catalogue, a list of entries or one entry; None reads
    the catalogue database); raises UnknownResource naming where it looked."""
    source = catalogue() if entries is None else entries
    if isinstance(source, spec.Resource):
        source = [source]
    for resource in getattr(source, "resources", source):
        if resource.id == resource_id:
            return resource
    where = f"the catalogue database ({get_settings().catalog_url})" if entries is None else "the catalogue given"
    raise UnknownResource(
        f"resource {resource_id!r} is not in {where}: check the id, or register it "
        "(`hub catalog load`, or POST /api/resources)"
    )


def _read(session: Session) -> spec.Catalogue:
    departments = [
        spec.Department(id=d.id, name=d.name, code=d.code, division=d.division)
        for d in session.scalars(select(Department).order_by(Department.id))
    ]
    rows = session.scalars(
        select(Resource).order_by(Resource.id).options(selectinload(Resource.items), selectinload(Resource.binding))
    )
    return spec.Catalogue(departments=departments, resources=[_entry(row) for row in rows])


def _entry(row: Resource) -> spec.Resource:
    binding = row.binding
    return spec.Resource(
        id=row.id,
        code=row.code,
        name=row.name,
        provider=row.provider_id,
        classification=row.classification,
        abstract=row.abstract,
        format=row.format,
        domain=row.domain,
        update_cycle=row.update_cycle,
        sharing_type=row.sharing_type,
        sharing_condition=row.sharing_condition,
        sharing_method=row.sharing_method,
        open_type=row.open_type,
        release_date=row.release_date,
        priority=row.priority,
        status=row.entry_status,
        related=list(row.related or []),
        freshness_grace_hours=row.freshness_grace_hours,
        quality_threshold=row.quality_threshold,
        checks=list(row.checks or []),
        items=[
            spec.Item(
                name=i.name,
                label=i.label,
                type=i.type,
                length=i.length,
                nullable=i.nullable,
                key=i.key,
                pii=i.pii,
                rules=i.rules or {},
                shared=i.shared,
                authoritative=bool(i.authoritative),
            )
            for i in row.items
        ],
        binding=spec.Binding(kind=binding.kind, system=binding.system, config=dict(binding.config or {}))
        if binding is not None
        else None,
    )


# Only sessions that wrote an entry (store.write_resource, store.upsert_department) pay for it. The
# catalogue is read inside the transaction, just before it commits (a committed session can run no
# SQL), and written to the file only once the commit went through.
_PENDING_SNAPSHOT = "hub.catalogue_snapshot"


@event.listens_for(Session, "before_commit")
def _read_before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: the transaction goes on
        return
    if session.info.pop(CATALOGUE_CHANGED, False):
        session.info[_PENDING_SNAPSHOT] = _read(session)


@event.listens_for(Session, "after_commit")
def _write_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released, not the commit
        return
    current = session.info.pop(_PENDING_SNAPSHOT, None)
    if current is not None:
        _write(current)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT rolled back: the transaction goes on
        return
    session.info.pop(_PENDING_SNAPSHOT, None)
    session.info.pop(CATALOGUE_CHANGED, None)
