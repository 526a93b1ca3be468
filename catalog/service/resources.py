"""The resources pages' data: the filtered list and one resource's detail (metadata, derived
schema, evidence, freshness, lineage)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from catalog import derive, timeliness
from catalog.coverage import DEFAULT_QUALITY_THRESHOLD, CoveragePolicy, ResourceFacts, classify
from catalog.lineage import storage as lineage_storage
from catalog.models import ConnectorRun, Department, Item, Landing, QualityRun, Resource, StatusChange
from catalog.service import labels
from catalog.service.views import resource_statuses, status_json
from catalog.store import display_name, resource_facts

EVIDENCE_LIMIT = 50


@dataclass(frozen=True)
class ResourceFilter:
    """Search text (name, code, id, abstract, department, item names and labels) and exact filters."""

    q: str | None = None
    department: str | None = None
    domain: str | None = None
    status: str | None = None  # a coverage status code (labels.STATUS_FILTERS) or "retired"
    sharing_type: str | None = None

    def as_json(self) -> dict:
        return {key: value for key, value in vars(self).items() if value}


def resource_rows(
    session: Session, as_of: datetime, wanted: ResourceFilter | None = None, *, department: str | None = None
) -> list[dict]:
    """The resources matching `wanted`, by code, each with its coverage and lifecycle status."""
    wanted = wanted or ResourceFilter(department=department)
    statement = (
        select(Resource)
        .join(Department, Resource.provider_id == Department.id)
        .options(selectinload(Resource.items), selectinload(Resource.department))
        .order_by(Resource.code)
    )
    statement = statement.where(*_conditions(wanted))
    statuses = resource_statuses(session, as_of)
    rows = []
    for resource in session.scalars(statement):
        status = status_json(statuses.get(resource.id), {item.name: item.label for item in resource.items})
        if wanted.status and labels.reason_code(status["status"]) != wanted.status:
            continue
        rows.append(_row(resource, status, wanted.q))
    return rows


def _conditions(wanted: ResourceFilter) -> list:
    conditions = []
    if wanted.department:
        conditions.append(Resource.provider_id == wanted.department)
    if wanted.domain:
        conditions.append(Resource.domain == wanted.domain)
    if wanted.sharing_type:
        conditions.append(Resource.sharing_type == wanted.sharing_type)
    if wanted.q and wanted.q.strip():
        text = wanted.q.strip()
        item_matches = exists().where(
            Item.resource_id == Resource.id,
            or_(Item.name.icontains(text, autoescape=True), Item.label.icontains(text, autoescape=True)),
        )
        conditions.append(
            or_(
                Resource.name.icontains(text, autoescape=True),
                Resource.code.icontains(text, autoescape=True),
                Resource.id.icontains(text, autoescape=True),
                Resource.abstract.icontains(text, autoescape=True),
                Department.name.icontains(text, autoescape=True),
                item_matches,
            )
        )
    return conditions


def _row(resource: Resource, status: dict, q: str | None) -> dict:
    row = {
        "id": resource.id,
        "code": resource.code,
        "name": resource.name,
        "department_id": resource.provider_id,
        "department": display_name(resource.department.name),
        "domain": resource.domain,
        "domain_label": labels.domain_label(resource.domain),
        "sharing_type": resource.sharing_type,
        "update_cycle": resource.update_cycle,
        "priority": resource.priority,
        "bound": resource.binding is not None,
        "lifecycle": resource.status,
        "lifecycle_label": labels.LIFECYCLE_LABELS.get(resource.status, resource.status),
        "coverage": status,
    }
    if q and q.strip():
        needle = q.strip().lower()
        row["matched_items"] = [
            {"name": item.name, "label": item.label}
            for item in resource.items
            if needle in item.name.lower() or needle in item.label.lower()
        ]
    return row


def filter_options(session: Session) -> dict:
    """The values each filter can take, for the page's selects."""
    departments = [
        {"id": dept_id, "name": display_name(name)}
        for dept_id, name in session.execute(select(Department.id, Department.name).order_by(Department.id))
    ]
    domains = sorted(session.scalars(select(Resource.domain).distinct()))
    sharing = sorted(session.scalars(select(Resource.sharing_type).distinct()))
    return {
        "departments": departments,
        "domains": [{"id": d, "name": labels.domain_label(d)} for d in domains],
        "statuses": [{"id": s, "name": labels.REASON_LABELS[s]} for s in (*labels.STATUS_FILTERS, "retired")],
        "sharing_types": [{"id": s, "name": s} for s in sharing],
    }


# --- one resource --------------------------------------------------------------------------------


def resource_detail(session: Session, resource: Resource, as_of: datetime) -> dict:
    """Everything known about one resource at `as_of` (evidence after it is left out)."""
    facts = next((f for f in resource_facts(session, as_of) if f.resource_id == resource.id), None)
    status = classify(facts, as_of, CoveragePolicy.default()) if facts is not None else None  # None: retired
    evidence = _evidence(session, resource.id, as_of)
    names = {item.name: item.label for item in resource.items}
    for run in evidence["quality_runs"]:  # each failed rule in Chinese beside its code
        run["failed_rules"] = [
            {**rule, "label": labels.rule_label(rule["name"], names)} for rule in run["failed_rules"]
        ]
    return {
        "as_of": as_of.isoformat(),
        "resource": _metadata(resource),
        "items": [_item(item) for item in resource.items],
        "derived": _derived(resource),
        "coverage": status_json(status, {item.name: item.label for item in resource.items}),
        "lifecycle": {
            "status": resource.status,
            "label": labels.LIFECYCLE_LABELS.get(resource.status, resource.status),
            "since": resource.status_since.isoformat(),
        },
        "freshness": _freshness(resource, facts, as_of),
        "evidence": evidence,
        "timeline": _timeline(evidence),
        "lineage": lineage(resource),
    }


def _metadata(resource: Resource) -> dict:
    binding = resource.binding
    return {
        "id": resource.id,
        "code": resource.code,
        "name": resource.name,
        "department_id": resource.provider_id,
        "department": display_name(resource.department.name),
        "department_name": resource.department.name,
        "classification": resource.classification,
        "abstract": resource.abstract,
        "format": resource.format,
        "domain": resource.domain,
        "domain_label": labels.domain_label(resource.domain),
        "update_cycle": resource.update_cycle,
        "sharing_type": resource.sharing_type,
        "sharing_condition": resource.sharing_condition,
        "sharing_method": resource.sharing_method,
        "open_type": resource.open_type,
        "release_date": resource.release_date.isoformat(),
        "priority": resource.priority,
        "entry_status": resource.entry_status,
        "related": list(resource.related or []),
        "freshness_grace_hours": resource.freshness_grace_hours,
        "quality_threshold": resource.quality_threshold,
        # The threshold the gate and coverage apply, and where it comes from (the entry or the default).
        "quality_threshold_applied": (
            DEFAULT_QUALITY_THRESHOLD if resource.quality_threshold is None else resource.quality_threshold
        ),
        "quality_threshold_source": "default" if resource.quality_threshold is None else "catalogue",
        "binding": {"kind": binding.kind, "system": binding.system, "config": binding.config} if binding else None,
        "registered_at": resource.registered_at.isoformat(),
        "updated_at": resource.updated_at.isoformat(),
    }


def _item(item: Item) -> dict:
    return {
        "name": item.name,
        "label": item.label,
        "type": item.type,
        "length": item.length,
        "nullable": item.nullable,
        "key": item.key,
        "pii": item.pii,
        "rules": item.rules,
    }


def _derived(resource: Resource) -> dict:
    try:
        schema = derive.arrow_schema(resource)
        fields = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
        problem = None
    except derive.UnknownItemType as exc:
        fields, problem = [], str(exc)
    raw_topic, dlq_topic = derive.topics(resource)
    tables = derive.table_names(resource)
    return {
        "arrow_schema": fields,
        "schema_problem": problem,
        "fingerprint": derive.schema_fingerprint(resource),
        "key_columns": list(derive.key_columns(resource)),
        "pii_columns": derive.pii_columns(resource),
        "topics": {"raw": raw_topic, "dlq": dlq_topic},
        "tables": {"raw": tables.raw, "staging": tables.staging},
    }


def _evidence(session: Session, resource_id: str, as_of: datetime) -> dict:
    def newest(model, column):
        return session.scalars(
            select(model)
            .where(model.resource_id == resource_id, column <= as_of)
            .order_by(column.desc(), model.id.desc())
            .limit(EVIDENCE_LIMIT)
        )

    return {
        "connector_runs": [
            {
                "at": run.produced_at.isoformat(),
                "run_id": run.run_id,
                "records": run.records,
                "dlq_records": run.dlq_records,
                "source": run.source,
                "offsets": run.offsets,
                "error": run.error,
            }
            for run in newest(ConnectorRun, ConnectorRun.produced_at)
        ],
        "landings": [
            {
                "at": landing.completed_at.isoformat(),
                "load_id": landing.load_id,
                "succeeded": landing.succeeded,
                "rows": landing.rows,
                "dlq_rows": landing.dlq_rows,
                "offsets": landing.offsets,
                "files": landing.files,
                "max_event_time": landing.max_event_time.isoformat() if landing.max_event_time else None,
                "error": landing.error,
            }
            for landing in newest(Landing, Landing.completed_at)
        ],
        "quality_runs": [
            {
                "at": run.ran_at.isoformat(),
                "load_id": run.load_id,
                "rows_checked": run.rows_checked,
                "rows_valid": run.rows_valid,
                "pass_rate": run.pass_rate,
                "failed_rules": run.failed_rules,
                "failed_critical": run.failed_critical,
                "quarantined_rows": run.quarantined_rows,
                "repairs": run.repairs,
                "docs": docs_url(run.docs_path),
            }
            for run in newest(QualityRun, QualityRun.ran_at)
        ],
        "status_changes": [
            {
                "at": change.changed_at.isoformat(),
                "old_status": change.old_status,
                "new_status": change.new_status,
                "cause": change.cause,
                "note": change.note,
            }
            for change in newest(StatusChange, StatusChange.changed_at)
        ],
    }


DOCS_URL = "/quality/docs"  # where the service serves the Great Expectations Data Docs folder


def docs_url(docs_path: str | None) -> str | None:
    """The service URL of a page of the Data Docs (var/quality/docs), or None."""
    return f"{DOCS_URL}/{docs_path.lstrip('/')}" if docs_path else None


TIMELINE_KINDS = (
    ("connector_runs", "connector"),
    ("landings", "landing"),
    ("quality_runs", "quality"),
    ("status_changes", "status"),
)


def _timeline(evidence: dict) -> list[dict]:
    """Every evidence row newest first, tagged with its kind (the page draws one list)."""
    entries = [{"kind": kind, **row} for key, kind in TIMELINE_KINDS for row in evidence[key]]
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries[:EVIDENCE_LIMIT]


def _freshness(resource: Resource, facts: ResourceFacts | None, as_of: datetime) -> dict:
    """Both clocks against the window (the cycle's plus the grace, the engine's policy): the last
    successful landing with rows (挂接) and the newest change time of the source data (更新及时)."""
    window = CoveragePolicy.default().max_age_for(resource.update_cycle, resource.freshness_grace_hours)
    last_at = facts.last_landing_at if facts is not None else None
    source_at = facts.source_changed_at if facts is not None else None
    age = (as_of - last_at) if last_at else None
    verdict = timeliness.judge(mounted=last_at is not None, source_changed_at=source_at, window=window, as_of=as_of)
    return {
        "update_cycle": resource.update_cycle,
        "grace_hours": resource.freshness_grace_hours,
        "last_landing_at": last_at.isoformat() if last_at else None,
        "age_hours": _hours(age),
        "max_age_hours": _hours(window),
        "fresh": None if age is None or window is None else age <= window,
        "source_changed_at": source_at.isoformat() if source_at else None,
        "source_age_hours": _hours(as_of - source_at) if source_at else None,
        "timeliness": None
        if verdict is None
        else {
            "status": verdict.status,
            "label": labels.timeliness_label(verdict.status),
            "timely": verdict.timely,
            "since": verdict.since.isoformat() if verdict.since else None,
        },
    }


def _hours(span) -> float | None:
    return round(span.total_seconds() / 3600, 1) if span is not None else None


def lineage(resource: Resource) -> list[dict]:
    """source → topic → lake → staging → marts, as names (what exists is the evidence's business)."""
    binding = resource.binding
    raw_topic, _ = derive.topics(resource)
    tables = derive.table_names(resource)
    marts = lineage_storage().marts_reading(resource)
    source = (
        (
            f"{binding.kind}: {binding.system} "
            + " ".join(f"{key}={value}" for key, value in sorted(binding.config.items()))
        )
        if binding
        else None
    )
    return [
        {"stage": "source", "name": source or "未接入数据源", "present": binding is not None},
        {"stage": "topic", "name": raw_topic, "present": binding is not None},
        {"stage": "lake", "name": lineage_storage().lake_folder(resource), "present": binding is not None},
        {"stage": "raw", "name": tables.raw, "present": binding is not None},
        {"stage": "staging", "name": tables.staging, "present": binding is not None},
        {"stage": "marts", "name": ", ".join(marts) or "—", "present": bool(marts)},
    ]
