"""One audited analyst query: resolve the role, decide its rights, run in the sandbox, record it.

Every call leaves exactly one QueryAudit row in the catalogue — allowed or refused, with the
reason, the rows returned and the duration — whatever happens in between.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from catalog import grants as catalog_grants
from catalog.db import session_scope
from hub.settings import get_settings
from warehouse.access import rights, sandbox
from warehouse.access.sandbox import QueryRefused

log = logging.getLogger(__name__)


@dataclass
class QueryOutcome:
    role: str
    allowed: bool
    reason: str | None
    table: pa.Table | None
    truncated: bool
    duration_ms: float

    @property
    def rows(self) -> int | None:
        return self.table.num_rows if self.table is not None else None


def role_decisions(role_name: str, now: datetime | None = None) -> tuple[str, dict[str, rights.Decision]]:
    """(role id, resource id → Decision) for what the analyst typed as --as; refuses unknown roles."""
    now = now or datetime.now(timezone.utc)
    with session_scope() as session:
        inputs = catalog_grants.rights_inputs(session)
        role = rights.resolve_role(role_name, inputs.departments)
        if role is None:
            known = ", ".join(sorted(inputs.departments.values())) or "none: load the catalogue first"
            raise QueryRefused(f"unknown role {role_name!r}: use admin, leadership or a department as "
                               f"`hub coverage --json` lists it ({known})")
        return role, rights.decide_all(role, inputs.resources, inputs.grants, now, inputs.departments)


def run_query(role_name: str, sql: str, *, channel: str = "cli", warehouse: Path | None = None,
              now: datetime | None = None) -> QueryOutcome:
    """Run one analyst statement as `role_name` and audit it; a refusal is returned, not raised."""
    settings = get_settings()
    asked_at = datetime.now(timezone.utc)
    started = time.monotonic()
    role = role_name
    try:
        role, decisions = role_decisions(role_name, now)
        result = sandbox.execute(sql, warehouse=Path(warehouse or settings.warehouse_path), decisions=decisions,
                                 timeout_s=settings.query_timeout_s, row_limit=settings.query_row_limit)
        outcome = QueryOutcome(role, True, None, result.table, result.truncated, result.duration_ms)
    except QueryRefused as refused:
        outcome = QueryOutcome(role, False, str(refused), None, False, (time.monotonic() - started) * 1000)
    except Exception as error:  # noqa: BLE001 - whatever broke, the attempt is still audited
        log.exception("analyst query as %s failed", role_name)
        reason = f"not run, internal error ({type(error).__name__}); see the hub log"
        outcome = QueryOutcome(role, False, reason, None, False, (time.monotonic() - started) * 1000)
    record(outcome, sql, channel=channel, asked_at=asked_at)
    return outcome


def record(outcome: QueryOutcome, sql: str, *, channel: str, asked_at: datetime) -> None:
    with session_scope() as session:
        catalog_grants.record_query(
            session, role=outcome.role, sql_text=sql, allowed=outcome.allowed, reason=outcome.reason,
            rows=outcome.rows, truncated=outcome.truncated, duration_ms=round(outcome.duration_ms, 3),
            channel=channel, asked_at=asked_at)


def views_of(role_name: str, warehouse: Path | None = None) -> list[str]:
    """The views the role sees (for `.tables`); not audited, it runs no analyst SQL."""
    _role, decisions = role_decisions(role_name)
    return sandbox.list_views(Path(warehouse or get_settings().warehouse_path), decisions)
