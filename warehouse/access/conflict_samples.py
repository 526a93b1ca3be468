"""The 一数一源 check's samples as a role may see them: counts for everyone, values only within rights.

The daily check (warehouse.conflicts) keeps up to SAMPLE_KEYS conflicting subjects per holder and
item. A role sees a holder's sample only when it may read both the holder and the 数源 resource
(rights.decide: its own, 无条件共享, or a valid grant); then the subject key and both values are
masked exactly as its `hub sql` views mask them (pseudonyms with the role's key, names and addresses
shortened). Otherwise it gets the count and the reason. Every look is an audit row, like a query.
"""

from __future__ import annotations

import getpass
import time
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from catalog import grants as catalog_grants
from catalog.db import session_scope
from catalog.shared_items import subject_of
from hub import clock
from hub.settings import get_settings
from warehouse import conflicts, store
from warehouse.access.audit import DEFAULT_USER_ROLE, role_decisions
from warehouse.access.keys import pseudonym_key, role_key
from warehouse.access.masking import ident, mask_value
from warehouse.access.rights import Decision


def samples(role_name: str, *, now: datetime | None = None, user: str | None = None) -> list[dict]:
    """Each holder's sample as `role_name` may see it: `visible`, `reason`, `count` and masked `rows`."""
    started, now = time.monotonic(), now or clock.now()
    role, decisions = role_decisions(role_name, now)
    key = role_key(pseudonym_key(get_settings()), role)
    kept = conflicts.latest_samples(now)
    shown = []
    for sample in kept["samples"]:
        holder, source = decisions.get(sample["resource"]), decisions.get(sample["authoritative_resource"])
        refused = next((d for d in (holder, source) if d is None or not d.readable), None)
        part = {**sample, "count": len(sample["keys"]), "computed_at": kept["computed_at"]}
        for kept_only in ("keys", "key_item", "authoritative_key_item"):
            del part[kept_only]
        if refused is not None or holder is None or source is None:
            reason = refused.reason if refused is not None else "the resource is not in the catalogue any more"
            shown.append({**part, "visible": False, "reason": reason, "rows": []})
            continue
        rows = _values(sample, holder, source, key)
        shown.append({**part, "visible": True, "reason": f"{holder.reason}; {source.reason}", "rows": rows})
    _audit(role, shown, started, user)
    return shown


def _values(sample: dict, holder: Decision, source: Decision, key: bytes) -> list[dict]:
    """The sample's subjects with both values, masked as the role's views mask them."""
    subject = subject_of(sample["base_item"])
    wanted = set(sample["keys"])
    holder_key, source_key = sample["key_item"], sample["authoritative_key_item"]
    theirs = _read(sample["resource"], holder_key, sample["item"], subject, wanted)
    truth = _read(sample["authoritative_resource"], source_key, sample["authoritative_item"], subject, wanted)
    rows = []
    for subject_key in sorted(wanted):
        rows.append(
            {
                "key": _masked(subject_key, holder.masked.get(holder_key) or source.masked.get(source_key), key),
                "value": _masked(theirs.get(subject_key), holder.masked.get(sample["item"]), key),
                "authoritative_value": _masked(
                    truth.get(subject_key), source.masked.get(sample["authoritative_item"]), key
                ),
            }
        )
    return rows


def _read(resource_id: str, key_column: str, item: str, subject: str, wanted: set[str]) -> dict[str, str]:
    connection = store.connect_reader()
    try:
        rows = connection.sql(f"SELECT {ident(key_column)}, {ident(item)} FROM staging.{ident(resource_id)}")
        table = rows.to_arrow_table()
    finally:
        connection.close()
    keys = conflicts.subject_keys(table.column(0), subject)
    kept = pc.and_(pc.is_in(keys, value_set=pa.array(sorted(wanted), pa.string())), pc.is_valid(table.column(1)))
    found = {}
    for key, value in zip(keys.filter(kept).to_pylist(), table.column(1).filter(kept).to_pylist()):
        found.setdefault(key, str(value))
    return found


def _masked(value: str | None, kind: str | None, key: bytes) -> str | None:
    return value if kind is None or value is None else mask_value(value, kind, key)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def _audit(role: str, shown: list[dict], started: float, user: str | None) -> None:
    # The audit names what was looked at, never the subjects (they are what the rights protect).
    looked_at = "; ".join(
        f"{s['resource']}.{s['item']} vs {s['authoritative_resource']}.{s['authoritative_item']}"
        f" ({'shown' if s['visible'] else 'counts only'})"
        for s in shown
    )
    with session_scope() as session:
        catalog_grants.record_query(
            session,
            role=role,
            sql_text=f"-- 一数一源 conflict samples: {looked_at or 'none kept yet'}",
            allowed=True,
            reason=None,
            rows=sum(len(s["rows"]) for s in shown),
            truncated=False,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
            channel="conflicts",
            status="ok",
            user_name=user or _os_user(),
            user_role=DEFAULT_USER_ROLE,
        )
