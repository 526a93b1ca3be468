"""Loading the seed catalogue into the database, and the queries built on it.

`load_catalogue_into` is an idempotent upsert that goes through the same code path as the event
consumer: it turns every new or changed entry into a `resource.registered` / `resource.updated`
event, applies it, and hands the events back so the caller can publish them to hub.events (then a
catalogue rebuilt from the topic equals this one, and the consumer skips what is already applied).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from catalog.coverage import ResourceFacts
from catalog.db import lock_writers
from catalog.models import (
    AppliedEvent,
    Base,
    Binding,
    ConnectorRun,
    Department,
    Item,
    Landing,
    QualityRun,
    Resource,
    StatusChange,
)
from catalog.reader import CATALOGUE_CHANGED, RETIRED_ENTRY_STATUSES
from hub.events import ResourceRegistered, ResourceUpdated

# Entries that left the catalogue (已下线) no longer count towards coverage; entries being
# compiled (待提交, 待审核) or withdrawn (下线中) are still part of this year's mandate.
_DISTRICT_PREFIX = "佛山市顺德区"


@dataclass
class LoadResult:
    departments: int = 0
    registered: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)


def registration_payload(resource, department) -> dict:
    """The payload of resource.registered / updated: the full entry, so a replay can rebuild it."""
    spec = resource.model_dump(mode="json", exclude={"line", "file"})
    dept = department.model_dump(mode="json", exclude={"line", "file"})
    digest = hashlib.sha256(orjson.dumps({"spec": spec, "department": dept}, option=orjson.OPT_SORT_KEYS))
    return {"spec": spec, "department": dept, "spec_hash": digest.hexdigest()}


def load_catalogue_into(session: Session, catalogue, *, now: datetime) -> LoadResult:
    """Upsert the catalogue; loading the same catalogue twice writes nothing the second time."""
    from catalog.events import APPLIED, apply_event  # catalog.events imports this module

    lock_writers(session)
    result = LoadResult()
    departments = {dept.id: dept for dept in catalogue.departments}
    for dept in catalogue.departments:
        upsert_department(session, dept)
        result.departments += 1
    session.flush()
    known = dict(session.execute(select(Resource.id, Resource.spec_hash)).all())
    for resource in catalogue.resources:
        department = departments.get(resource.provider)
        if department is None:
            result.rejected.append(f"{resource.id}: provider {resource.provider!r} is not in departments.yaml")
            continue
        payload = registration_payload(resource, department)
        if known.get(resource.id) == payload["spec_hash"]:
            result.unchanged += 1
            continue
        model = ResourceUpdated if resource.id in known else ResourceRegistered
        kind = model.model_fields["type"].default
        event = model.build(resource.id, ts=now, **payload).wire()
        outcome = apply_event(session, event)
        if outcome != APPLIED:
            detail = session.get(AppliedEvent, event["id"])
            result.rejected.append(f"{resource.id}: {detail.detail if detail else outcome}")
            continue
        (result.updated if kind == "resource.updated" else result.registered).append(resource.id)
        result.events.append(event)
    return result


# --- catalogue entries -------------------------------------------------------------------------


def upsert_department(session: Session, spec) -> Department:
    department = session.get(Department, spec.id) or Department(id=spec.id)
    department.name, department.code, department.division = spec.name, spec.code, spec.division
    session.info[CATALOGUE_CHANGED] = True
    session.add(department)
    return department


_COPIED_FIELDS = (
    "code",
    "name",
    "classification",
    "abstract",
    "format",
    "domain",
    "update_cycle",
    "sharing_type",
    "sharing_condition",
    "sharing_method",
    "open_type",
    "release_date",
    "priority",
    "freshness_grace_hours",
    "quality_threshold",
)


def write_resource(session: Session, spec, spec_hash: str, ts: datetime) -> tuple[Resource, bool]:
    """Insert or update the resource, its items and binding from a seed entry; (row, created)."""
    resource = session.get(Resource, spec.id)
    created = resource is None
    if created:
        # The status is set by the caller (catalog.events) right after, from the evidence.
        resource = Resource(id=spec.id, registered_at=ts, status="unbound", status_since=ts)
        session.add(resource)
    elif spec_hash and resource.spec_hash == spec_hash:
        return resource, False
    for name in _COPIED_FIELDS:
        setattr(resource, name, getattr(spec, name))
    resource.provider_id, resource.entry_status, resource.related = spec.provider, spec.status, list(spec.related)
    resource.checks = [check.model_dump(mode="json", exclude_none=True) for check in spec.checks]
    session.info[CATALOGUE_CHANGED] = True
    resource.spec_hash, resource.updated_at = spec_hash, ts
    _write_items(session, resource, spec.items)
    _write_binding(resource, spec.binding)
    return resource, created


def _write_items(session: Session, resource: Resource, items) -> None:
    # Updated in place by name: replacing the collection would INSERT the new rows before
    # DELETEing the old ones and trip the (resource_id, name) unique constraint.
    existing = {item.name: item for item in resource.items}
    wanted = []
    for position, spec_item in enumerate(items):
        row = existing.pop(spec_item.name, None) or Item(name=spec_item.name)
        row.position, row.label, row.type, row.length = position, spec_item.label, spec_item.type, spec_item.length
        row.nullable, row.key, row.pii = spec_item.nullable, spec_item.key, spec_item.pii
        row.rules = spec_item.rules.model_dump(mode="json", exclude_none=True)
        row.shared, row.authoritative = spec_item.shared, spec_item.authoritative
        wanted.append(row)
    for stale in existing.values():
        session.delete(stale)
    session.flush()
    resource.items = wanted


def _write_binding(resource: Resource, spec_binding) -> None:
    if spec_binding is None:
        resource.binding = None
        return
    binding = resource.binding or Binding(resource_id=resource.id)
    binding.kind, binding.system, binding.config = spec_binding.kind, spec_binding.system, dict(spec_binding.config)
    resource.binding = binding


def display_name(name: str) -> str:
    """A department as leadership reads it: 佛山市顺德区教育局 → 区教育局, 佛山市公安局顺德分局 → 区公安分局,
    佛山市顺德区大良街道办事处 → 大良街道, 佛山市顺德区燃气有限公司 → 燃气公司,
    广东电网有限责任公司佛山顺德供电局 → 供电局."""
    if name.startswith(_DISTRICT_PREFIX):
        rest = name[len(_DISTRICT_PREFIX) :]
        if rest.endswith(_TOWN_SUFFIXES):
            return rest.removesuffix("办事处").removesuffix("人民政府")  # 大良街道, 陈村镇
        return rest.replace("有限公司", "公司") if rest.endswith("公司") else "区" + rest
    city_branch = _CITY_BRANCH.match(name)  # municipal bureaus' district branches
    if city_branch:
        return f"区{city_branch.group(1)}分局"
    return name.rsplit("顺德", 1)[-1] if "顺德" in name[:-1] else name


_TOWN_SUFFIXES = ("街道办事处", "镇人民政府")
_CITY_BRANCH = re.compile(r"^佛山市(.+?)局顺德分局$")


# --- facts for the coverage engine -------------------------------------------------------------


def resource_facts(session: Session, as_of: datetime | None = None) -> list[ResourceFacts]:
    """One ResourceFacts per counted catalogue resource; evidence after `as_of` is ignored.

    One aggregate query per evidence kind (not one per resource), joined in Python.
    """
    produced = _by_resource(
        session,
        select(ConnectorRun.resource_id, func.max(ConnectorRun.produced_at))
        .where(ConnectorRun.records > 0, *_until(ConnectorRun.produced_at, as_of))
        .group_by(ConnectorRun.resource_id),
    )
    # Only landings that brought rows: one with 0 rows shows that we polled, not that data arrived.
    # A source time after its landing completed is a wrong source clock: it counts as the landing's time.
    source_time = case(
        (Landing.max_event_time > Landing.completed_at, Landing.completed_at), else_=Landing.max_event_time
    )
    landed = _by_resource(
        session,
        select(Landing.resource_id, func.max(Landing.completed_at), func.sum(Landing.rows), func.max(source_time))
        .where(Landing.succeeded, Landing.rows > 0, *_until(Landing.completed_at, as_of))
        .group_by(Landing.resource_id),
    )
    quality = _latest_quality(session, as_of)
    rows = session.execute(
        select(Resource, Department.name, Binding.resource_id.is_not(None))
        .join(Department, Resource.provider_id == Department.id)
        .outerjoin(Binding, Binding.resource_id == Resource.id)
        .where(Resource.entry_status.not_in(RETIRED_ENTRY_STATUSES))
        .order_by(Resource.code)
    ).all()
    facts = []
    for resource, department_name, bound in rows:
        last_landing_at, landed_rows, source_changed_at = landed.get(resource.id, (None, 0, None))
        quality_at, pass_rate, failed_critical = quality.get(resource.id, (None, None, ()))
        facts.append(
            ResourceFacts(
                resource_id=resource.id,
                code=resource.code,
                name=resource.name,
                department=display_name(department_name),
                department_id=resource.provider_id,
                domain=resource.domain,
                sharing_type=resource.sharing_type,
                priority=resource.priority,
                update_cycle=resource.update_cycle,
                bound=bool(bound),
                produced_at=produced.get(resource.id, (None,))[0],
                last_landing_at=last_landing_at,
                landed_rows=int(landed_rows or 0),
                quality_at=quality_at,
                quality_pass_rate=pass_rate,
                quality_failed_critical=tuple(failed_critical or ()),
                grace_hours=resource.freshness_grace_hours,
                quality_threshold=resource.quality_threshold,
                source_changed_at=source_changed_at,
            )
        )
    return facts


def _until(column, as_of: datetime | None) -> tuple:
    return () if as_of is None else (column <= as_of,)


def _by_resource(session: Session, statement) -> dict[str, tuple]:
    # max() keeps its argument's type, so times come back through UTCDateTime (tz-aware UTC).
    return {row[0]: tuple(row[1:]) for row in session.execute(statement)}


def _latest_quality(session: Session, as_of: datetime | None) -> dict[str, tuple]:
    ranked = (
        select(
            QualityRun.resource_id,
            QualityRun.ran_at,
            QualityRun.pass_rate,
            QualityRun.failed_critical,
            func.row_number()
            .over(partition_by=QualityRun.resource_id, order_by=(QualityRun.ran_at.desc(), QualityRun.id.desc()))
            .label("rank"),
        )
        .where(*_until(QualityRun.ran_at, as_of))
        .subquery()
    )
    statement = select(ranked.c.resource_id, ranked.c.ran_at, ranked.c.pass_rate, ranked.c.failed_critical).where(
        ranked.c.rank == 1
    )
    return {rid: (ran_at, rate, failed) for rid, ran_at, rate, failed in session.execute(statement)}


# --- one resource ------------------------------------------------------------------------------


def find_resource(session: Session, id_or_code: str) -> Resource | None:
    """The resource with this id or 资源代码."""
    return (
        session.get(Resource, id_or_code)
        or session.scalars(select(Resource).where(Resource.code == id_or_code)).first()
    )


def timeline(session: Session, resource_id: str, limit: int = 50) -> list[dict]:
    """The resource's evidence and status history, newest first."""
    entries: list[dict] = []
    for run in session.scalars(select(ConnectorRun).where(ConnectorRun.resource_id == resource_id)):
        error = f"; error: {run.error}" if run.error else ""
        entries.append(
            {
                "at": run.produced_at,
                "kind": "produced",
                "detail": f"{run.records} records, {run.dlq_records} to DLQ{error}",
                "ref": run.run_id or run.source,
            }
        )
    for landing in session.scalars(select(Landing).where(Landing.resource_id == resource_id)):
        detail = f"{landing.rows} rows, {landing.dlq_rows} to DLQ" if landing.succeeded else f"failed: {landing.error}"
        entries.append(
            {
                "at": landing.completed_at,
                "kind": "landed" if landing.succeeded else "landing failed",
                "detail": detail,
                "ref": landing.load_id,
            }
        )
    for run in session.scalars(select(QualityRun).where(QualityRun.resource_id == resource_id)):
        rate = "n/a" if run.pass_rate is None else f"{run.pass_rate:.2%}"
        failed = f", failed critical: {', '.join(run.failed_critical)}" if run.failed_critical else ""
        entries.append(
            {
                "at": run.ran_at,
                "kind": "quality",
                "detail": f"pass rate {rate} of {run.rows_checked} rows{failed}",
                "ref": run.load_id,
            }
        )
    for change in session.scalars(select(StatusChange).where(StatusChange.resource_id == resource_id)):
        detail = change.note or f"{change.old_status or '—'} → {change.new_status}"
        entries.append({"at": change.changed_at, "kind": "status", "detail": detail, "ref": change.cause})
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries[:limit]


# --- a canonical dump, to compare two databases ------------------------------------------------

_SURROGATE_KEYS = {"id"}


def dump_state(session: Session) -> dict[str, list[tuple]]:
    """Every table's rows without surrogate ids, sorted: equal dumps mean equal catalogue states."""
    state = {}
    for table in Base.metadata.sorted_tables:
        columns = [column for column in table.columns if column.name not in _SURROGATE_KEYS]
        rows = session.execute(select(*columns)).all()
        state[table.name] = sorted((tuple(_canonical(value) for value in row) for row in rows), key=repr)
    return state


def _canonical(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return value
