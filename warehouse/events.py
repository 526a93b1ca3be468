"""Catalogue events of a load: landing.completed / landing.failed and schema.changed, published after
staging (or by the next run after a crash). quality.completed is the quality gate's (warehouse.gate).

A committed load's manifest (warehouse.lake) says its events are due; they are kept in the outbox
(hub.outbox) before the manifest goes, then sent. Event ids derive from the load id, so a load whose
events are sent twice is applied once.
"""

from __future__ import annotations

import uuid

from hub import outbox
from hub.events import LandingCompleted, LandingFailed, SchemaChanged
from warehouse import lake
from warehouse.landing import LandingResult


def _event_id(load_id: str, kind: str) -> str:
    # Stable per load: a load whose events are published twice (crash after sending) is applied once.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub-landing:{load_id}:{kind}"))


def landing_events(result: LandingResult) -> list[dict]:
    """landing.completed (or landing.failed) for one load."""
    if result.error:
        return [
            LandingFailed.build(
                result.resource,
                id=_event_id(result.load_id, "failed"),
                load_id=result.load_id,
                error=result.error[:4000],
            ).wire()
        ]
    events = [
        LandingCompleted.build(
            result.resource,
            id=_event_id(result.load_id, "completed"),
            load_id=result.load_id,
            rows=result.rows,
            files=list(result.files),
            offsets=dict(result.offsets),
            max_event_time=result.max_event_time.isoformat() if result.max_event_time else None,
            dlq_rows=result.dlq_rows,
            schema_fingerprint=result.schema_fingerprint,
            repairs=dict(result.repairs),
        ).wire()
    ]
    if result.undeclared_fields or result.source_schemas:
        events.append(
            SchemaChanged.build(
                result.resource,
                id=_event_id(result.load_id, "schema"),
                old=result.schema_fingerprint,
                new=",".join(result.source_schemas) or result.schema_fingerprint,
                added=list(result.undeclared_fields),
                note="source records differ from the catalogue entry",
            ).wire()
        )
    return events


def publish_landing_event(result: LandingResult | dict, *, producer=None) -> list[dict]:
    """Publish the load's events (and those of earlier loads a crash left unpublished); returns them.

    An empty load (no rows, no DLQ rows) reports nothing: it changed nothing in the warehouse.
    If Kafka does not take them, they stay in the outbox (raises hub.outbox.OutboxError) and the
    next publish or outbox flush sends them.
    """
    if isinstance(result, dict):  # as it comes back from an Airflow XCom
        result = LandingResult.from_dict(result)
    loads = [
        LandingResult.from_dict(data)
        for load_id, data in lake.unpublished_manifests(result.resource)
        if load_id != result.load_id
    ]
    loads.append(result)
    events = []
    for load in loads:
        if load.error or load.rows or load.dlq_rows:
            load_events = landing_events(load)
            for event in load_events:
                outbox.keep(event)
            events.extend(load_events)
        lake.drop_manifest(load.resource, load.load_id)
    outbox.flush(producer)
    return events
