"""Helpers for tests that share the one local broker (imported as `kafka_kit`: tests/integration is on sys.path)."""

from __future__ import annotations


def drop_resource_topics(resource_ids) -> None:
    """Delete the raw and DLQ topics of throw-away test resources from the shared broker."""
    from types import SimpleNamespace

    from catalog import derive
    from hub.kafka_clients import make_admin

    if not resource_ids:
        return
    admin = make_admin()
    try:
        existing = set(admin.list_topics())
        doomed = [
            t for rid in sorted(set(resource_ids)) for t in derive.topics(SimpleNamespace(id=rid)) if t in existing
        ]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()


def gate_and_stage(resource, result) -> int:
    """The DAG's order after a landing: the quality gate (no docs, no events), then staging; returns
    the staging rows changed. `result` is the LandingResult (or its dict) of the load."""
    from warehouse import gate, store

    landed = result if isinstance(result, dict) else result.to_dict()
    gate.check(resource.id, landed, catalogue=[resource], docs=False, publish=False)
    return store.update_staging(resource.id, result, catalogue=[resource])
