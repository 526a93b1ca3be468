"""Explicit upgrades of events recorded on hub.events by older versions of the hub.

`UPGRADES[n]` maps an event of version n (its wire dict) to version n + 1; hub.events.parse_event
chains them, then validates the result against the current model. Each step says, per event type,
how the old payload was read, so an old event is applied exactly as the version that wrote it
applied it. Version 1 is every event without a "version" key (free payload dicts, read with
synonyms); this is the only place those synonyms are still understood.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Wire = dict[str, Any]


def _first(payload: dict, *names: str) -> Any:
    """The first of `names` whose value is not null (version 1 read synonyms this way)."""
    for name in names:
        if payload.get(name) is not None:
            return payload[name]
    return None


def _text(value: Any) -> str | None:
    """Version 1 kept text fields as str(value), an empty string as none."""
    return None if value in (None, "") else str(value)


def _time(value: Any) -> Any:
    """Version 1 read an empty time as 'not given' (the event's ts where a default applies)."""
    return None if value == "" else value


def _kept(payload: dict, *names: str) -> dict:
    """The named fields that carry a value, as they were."""
    return {name: payload[name] for name in names if payload.get(name) is not None}


def _registration_v1(payload: dict) -> dict:
    return {
        "spec": payload.get("spec"),
        "department": payload.get("department"),
        "spec_hash": str(payload.get("spec_hash") or ""),
    }


def _produced_v1(payload: dict) -> dict:
    # Connectors up to version 1 sent produced / dlq / system; other producers records / dlq_records / source.
    upgraded = {
        "records": _first(payload, "records", "produced"),
        "dlq_records": _first(payload, "dlq_records", "dlq") or 0,
        "source": _text(payload.get("source")) or _text(payload.get("system")),
        "run_id": _text(payload.get("run_id")),
        "error": _text(payload.get("error")),
        "produced_at": _time(payload.get("produced_at")),
        "offsets": payload.get("offsets"),
    }
    upgraded.update(_kept(payload, "kind", "object", "topic", "dlq_topic", "seconds", "totals", "source_stats"))
    return upgraded


def _landed_v1(payload: dict) -> dict:
    upgraded = {
        "load_id": _text(payload.get("load_id")),
        "rows": payload.get("rows"),
        "dlq_rows": payload.get("dlq_rows") or 0,
        "files": payload.get("files") or [],
        "offsets": payload.get("offsets") or {},
        "max_event_time": _time(payload.get("max_event_time")),
        "schema_fingerprint": _text(payload.get("schema_fingerprint")),
        "completed_at": _time(payload.get("completed_at")),
    }
    upgraded.update(_kept(payload, "repairs"))
    return upgraded


def _landing_failed_v1(payload: dict) -> dict:
    # Version 1 landing published load_id and error only; rows or files of a failed load were never sent.
    return {
        "load_id": _text(payload.get("load_id")),
        "error": _text(payload.get("error")),
        "offsets": payload.get("offsets") or {},
        "completed_at": _time(payload.get("completed_at")),
    }


def _judged_v1(payload: dict) -> dict:
    checked = _first(payload, "rows_checked", "rows")
    checked = 0 if checked is None else checked
    valid = payload.get("rows_valid")
    valid = checked if valid is None else valid
    pass_rate = payload.get("pass_rate")
    if pass_rate is None and _is_number(checked) and _is_number(valid):
        pass_rate = valid / checked if checked else None
    rules = payload.get("failed_rules") or []
    if isinstance(rules, list):  # rules given by name only were warnings
        rules = [rule if isinstance(rule, dict) else {"name": str(rule), "critical": False} for rule in rules]
    critical = payload.get("failed_critical")
    if critical is None and isinstance(rules, list):
        critical = [str(rule.get("name")) for rule in rules if rule.get("critical")]
    repairs = payload.get("repairs") or {}
    if isinstance(repairs, dict):  # version 1 kept the integer counts and ignored anything else
        repairs = {str(name): count for name, count in repairs.items() if isinstance(count, int)}
    upgraded = {
        "rows_checked": checked,
        "rows_valid": valid,
        "pass_rate": pass_rate,
        "failed_rules": rules,
        "failed_critical": sorted({str(name) for name in critical}) if isinstance(critical, list) else critical,
        "quarantined_rows": payload.get("quarantined_rows") or 0,
        "repairs": repairs,
        "load_id": _text(payload.get("load_id")),
        "docs": _text(payload.get("docs")),
        "ran_at": _time(payload.get("ran_at")),
    }
    upgraded.update(_kept(payload, "run_id", "suite", "dlq_rows", "failed_warning"))
    return upgraded


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _schema_change_v1(payload: dict) -> dict:
    upgraded = {"note": str(payload.get("note") or payload.get("message") or "schema changed")}
    upgraded.update({key: payload[key] for key in ("old", "new", "added", "removed", "changed") if payload.get(key)})
    return upgraded


_PAYLOADS_V1: dict[str, Callable[[dict], dict]] = {
    "resource.registered": _registration_v1,
    "resource.updated": _registration_v1,
    "connector.produced": _produced_v1,
    "landing.completed": _landed_v1,
    "landing.failed": _landing_failed_v1,
    "quality.completed": _judged_v1,
    "schema.changed": _schema_change_v1,
}


def upgrade_v1(event: Wire) -> Wire:
    """A version-1 event (no "version" key) as version 2; a payload that is not an object stays as it
    is, for the model to reject with the reason."""
    payload = event.get("payload")
    if isinstance(payload, dict):
        payload = _PAYLOADS_V1[event["type"]](payload)
    upgraded = {name: event[name] for name in ("id", "type", "ts", "resource") if name in event}
    upgraded.update(version=2, payload=payload)
    return upgraded


UPGRADES: dict[int, Callable[[Wire], Wire]] = {1: upgrade_v1}
