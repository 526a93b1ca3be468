"""Registering and updating a resource through the API: the same event path `hub catalog load` takes.

The entry is checked with the catalogue linter's rules, turned into a resource.registered / .updated
event, applied (so a replay of hub.events rebuilds it), and published to hub.events when asked
(by the caller, once its answer is built).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import lint, spec
from catalog.models import AppliedEvent, Department, Resource
from catalog.service.errors import ApiError
from catalog.store import registration_payload


class ResourceEntry(spec.Resource):
    """A catalogue entry as the seed's YAML holds it (catalog/spec.py), sent as JSON."""

    line: SkipJsonSchema[int] = Field(0, exclude=True)
    file: SkipJsonSchema[str] = Field("", exclude=True)

    def as_spec(self) -> spec.Resource:
        return spec.Resource.model_validate(self.model_dump(mode="json"))


def save_entry(session: Session, entry: ResourceEntry, *, now: datetime, update: bool) -> dict | None:
    """Apply the entry as an event; returns the event, or None when the entry is unchanged.

    Nothing is published or committed here: the caller does both once its answer is built.
    """
    from catalog.events import APPLIED, apply_event
    from hub.events import ResourceRegistered, ResourceUpdated

    existing = session.get(Resource, entry.id)
    if update and existing is None:
        raise ApiError(404, f"no resource {entry.id!r} to update: register it with POST /api/resources")
    if not update and existing is not None:
        raise ApiError(409, f"resource {entry.id!r} exists: update it with PUT /api/resources/{entry.id}")
    resource_spec = entry.as_spec()
    department = _department_spec(session, resource_spec.provider)
    _check(session, resource_spec, department, now)
    payload = registration_payload(resource_spec, department)
    if existing is not None and existing.spec_hash == payload["spec_hash"]:
        return None
    event = (ResourceUpdated if update else ResourceRegistered).build(entry.id, ts=now, **payload).wire()
    if apply_event(session, event) != APPLIED:
        seen = session.get(AppliedEvent, event["id"])
        raise ApiError(422, f"the catalogue refused the entry: {seen.detail if seen else 'see the server log'}")
    return event


def _department_spec(session: Session, provider: str) -> spec.Department:
    department = session.get(Department, provider)
    if department is None:
        known = ", ".join(session.scalars(select(Department.id).order_by(Department.id))) or "none loaded"
        raise ApiError(
            422, f"provider {provider!r} is not a catalogue department (known: {known})", code="catalogue_rule"
        )
    return spec.Department(id=department.id, name=department.name, code=department.code, division=department.division)


def _check(session: Session, entry: spec.Resource, department: spec.Department, now: datetime) -> None:
    """The linter's rules for one entry, plus the ones that need the rest of the catalogue."""
    catalogue = spec.Catalogue(departments=[department], resources=[entry])
    # The linter is written for a whole seed; `related` is checked against the database below instead.
    findings = [f for f in lint._lint_resources(catalogue, now.date()) if f.rule != "related"]
    details = [{"rule": f.rule, "message": f.message} for f in findings]
    owner = session.scalar(select(Resource.id).where(Resource.code == entry.code))
    if owner is not None and owner != entry.id:
        raise ApiError(409, f"code {entry.code} already belongs to resource {owner!r}: codes are unique")
    known = (
        set(session.scalars(select(Resource.code).where(Resource.code.in_(entry.related)))) if entry.related else set()
    )
    details += [
        {"rule": "related", "message": f"related code {code!r} is not in the catalogue"}
        for code in entry.related
        if code not in known or code == entry.code
    ]
    if details:
        summary = "; ".join(d["message"] for d in details[:3])
        raise ApiError(
            422, f"the entry breaks {len(details)} catalogue rule(s): {summary}", code="catalogue_rule", details=details
        )


def publish_event(event: dict) -> None:
    """Publish the applied event to hub.events (ApiError 503 when Kafka does not take it)."""
    try:
        from hub.events import publish_events
        from hub.kafka_clients import ensure_topics
        from hub.topics import events_topic

        ensure_topics([events_topic()])
        publish_events([event])
    except Exception as exc:  # nothing is committed: the caller's transaction rolls back
        raise ApiError(
            503, f"could not publish to hub.events ({exc}); start Kafka (hub kafka up) or retry without publish=true"
        ) from exc
