"""Catalogue events of a load: landing.completed / landing.failed and schema.changed, published after
staging (or by the next run after a crash). quality.completed is the quality gate's (warehouse.gate).

Event ids derive from the load id, so a load whose events are published twice is applied once.
"""
from __future__ import annotations

import uuid

from hub.events import make_event, publish_events
from warehouse import lake
from warehouse.landing import LandingResult

def _event_id(load_id: str, kind: str) -> str:
    # Stable per load: a load whose events are published twice (crash after sending) is applied once.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub-landing:{load_id}:{kind}"))


def landing_events(result: LandingResult) -> list[dict]:
    """landing.completed (or landing.failed) for one load."""
    if result.error:
        return [make_event("landing.failed", result.resource, id=_event_id(result.load_id, "failed"),
                           load_id=result.load_id, error=result.error[:4000])]
    events = [make_event(
        "landing.completed", result.resource, id=_event_id(result.load_id, "completed"),
        load_id=result.load_id, rows=result.rows, files=list(result.files), offsets=dict(result.offsets),
        max_event_time=result.max_event_time.isoformat() if result.max_event_time else None,
        dlq_rows=result.dlq_rows, schema_fingerprint=result.schema_fingerprint, repairs=dict(result.repairs),
    )]
    if result.undeclared_fields or result.source_schemas:
        events.append(make_event(
            "schema.changed", result.resource, id=_event_id(result.load_id, "schema"),
            old=result.schema_fingerprint, new=",".join(result.source_schemas) or result.schema_fingerprint,
            added=list(result.undeclared_fields), note="source records differ from the catalogue entry",
        ))
    return events


def publish_landing_event(result: LandingResult | dict, *, producer=None) -> list[dict]:
    """Publish the load's events (and those of earlier loads a crash left unpublished); returns them.

    An empty load (no rows, no DLQ rows) reports nothing: it changed nothing in the warehouse.
    """
    if isinstance(result, dict):  # as it comes back from an Airflow XCom
        result = LandingResult.from_dict(result)
    loads = [LandingResult.from_dict(data) for load_id, data in lake.unpublished_manifests(result.resource)
             if load_id != result.load_id]
    loads.append(result)
    events = []
    for load in loads:
        if load.error or load.rows or load.dlq_rows:
            events.extend(landing_events(load))
    if events:
        publish_events(events, producer=producer)
    for load in loads:
        lake.drop_manifest(load.resource, load.load_id)
    return events
