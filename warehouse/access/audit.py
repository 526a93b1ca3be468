"""One audited analyst query: resolve the role, write the audit row, check, run in the sandbox, complete the row.

The row is written before anything is checked or run (who, role, SQL; then the grants the checked
statement relies on) with status 'started', and completed after with how it ended: ok, refused,
killed (memory, CPU, wall time, a signal), crashed or interrupted (Ctrl-C). If `hub sql` itself
dies, the row stays 'started' and `hub audit` shows it as interrupted once the wall time is past.
"""

from __future__ import annotations

import getpass
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from catalog import grants as catalog_grants
from catalog.db import session_scope
from hub import clock
from hub.settings import Settings, get_settings
from warehouse.access import rights
from warehouse.access.caveats import masked_use_warnings, masks_read
from warehouse.access.child import ChildLimits, run_in_child
from warehouse.access.keys import pseudonym_key, role_key
from warehouse.access.sandbox import Access, list_views, role_views
from warehouse.access.statement import QueryRefused, check_statement
from warehouse.marts import MART_GROUP_COLUMNS

log = logging.getLogger(__name__)
DEFAULT_USER_ROLE = "analyst"


@dataclass
class QueryOutcome:
    role: str
    allowed: bool
    reason: str | None
    table: pa.Table | None
    truncated: bool
    duration_ms: float
    status: str = "ok"
    audit_id: int | None = None
    row_count: int | None = None  # an export's rows (it carries no table)
    warnings: list[str] = field(default_factory=list)  # masked columns grouped, joined or counted on

    @property
    def rows(self) -> int | None:
        return self.table.num_rows if self.table is not None else self.row_count


def role_decisions(role_name: str, now: datetime | None = None) -> tuple[str, dict[str, rights.Decision]]:
    """(role id, resource id → Decision) for what the analyst typed as --as; refuses unknown roles."""
    now = now or clock.now()
    with session_scope() as session:
        inputs = catalog_grants.rights_inputs(session)
        role = rights.resolve_role(role_name, inputs.departments)
        if role is None:
            known = ", ".join(sorted(inputs.departments.values())) or "none: load the catalogue first"
            raise QueryRefused(
                f"unknown role {role_name!r}: use admin, leadership or a department as "
                f"`hub coverage --json` lists it ({known})"
            )
        return role, rights.decide_all(role, inputs.resources, inputs.grants, now, inputs.departments)


def child_limits(settings: Settings) -> ChildLimits:
    return ChildLimits(
        memory_mb=settings.query_memory_mb,
        cpu_s=settings.query_cpu_s,
        wall_s=settings.query_timeout_s,
        threads=settings.query_threads,
        result_max_mb=settings.query_result_max_mb,
    )


def run_query(
    role_name: str,
    sql: str,
    *,
    channel: str = "cli",
    warehouse: Path | None = None,
    now: datetime | None = None,
    user: str | None = None,
    user_role: str = DEFAULT_USER_ROLE,
    whole_to: Path | None = None,
) -> QueryOutcome:
    """Run one analyst statement as `role_name`, audited before and after; a refusal is returned, not raised.

    With `whole_to` it is an export: every row goes to that Arrow IPC file (HUB_EXPORT_ROW_LIMIT and
    HUB_EXPORT_MAX_MB bound it, and going over fails it), and the outcome carries the row count.
    """
    settings = get_settings()
    started = time.monotonic()
    role, decisions, refusal = role_name, {}, None
    try:
        role, decisions = role_decisions(role_name, now)
    except QueryRefused as refused:
        refusal = str(refused)
    with session_scope() as session:
        audit_id = catalog_grants.start_query(
            session, role=role, sql_text=sql, user_name=user or _os_user(), user_role=user_role, channel=channel
        ).id
    try:
        if refusal is not None:
            raise QueryRefused(refusal)
        outcome = _checked_and_run(role, sql, decisions, audit_id, settings, warehouse, whole_to)
    except QueryRefused as refused:
        outcome = QueryOutcome(role, False, str(refused), None, False, 0.0, "refused")
    except BaseException as error:
        interrupted = isinstance(error, KeyboardInterrupt)
        if not interrupted:
            log.exception("analyst query as %s failed", role_name)
        reason = "interrupted (Ctrl-C)" if interrupted else f"crashed: internal error ({type(error).__name__})"
        _finish(
            audit_id,
            QueryOutcome(role, False, reason, None, False, 0.0, "interrupted" if interrupted else "crashed"),
            started,
        )
        if interrupted or not isinstance(error, Exception):
            raise
        return QueryOutcome(role, False, reason + "; see the hub log", None, False, 0.0, "crashed", audit_id)
    outcome.audit_id = audit_id
    _finish(audit_id, outcome, started)
    return outcome


def _checked_and_run(
    role: str,
    sql: str,
    decisions: dict[str, rights.Decision],
    audit_id: int,
    settings: Settings,
    warehouse: Path | None,
    whole_to: Path | None = None,
) -> QueryOutcome:
    access = {rid: Access(d.readable, dict(d.masked), d.reason) for rid, d in decisions.items()}
    checked = check_statement(sql, role_views(access, MART_GROUP_COLUMNS))
    warnings = masked_use_warnings(
        checked.query, masks_read(checked.views, {rid: a.masked for rid, a in access.items()})
    )
    grants = [
        decisions[name].grant_id
        for schema, name in checked.views
        if schema == "staging" and name in decisions and decisions[name].grant_id is not None
    ]
    with session_scope() as session:
        catalog_grants.note_grants(session, audit_id, grants)
    key = role_key(pseudonym_key(settings), role)  # pseudonyms join within a role, not across departments
    ended = run_in_child(
        checked.query,
        warehouse=Path(warehouse or settings.warehouse_path),
        access=access,
        marts=MART_GROUP_COLUMNS,
        min_group=settings.mart_min_group,
        key=key,
        limits=child_limits(settings),
        row_limit=settings.export_row_limit if whole_to else settings.query_row_limit,
        whole_to=whole_to,
        max_bytes=settings.export_max_mb * 2**20 if whole_to else None,
    )
    return QueryOutcome(
        role,
        ended.status == "ok",
        ended.reason,
        ended.table,
        ended.truncated,
        ended.duration_ms,
        ended.status,
        row_count=ended.rows,
        warnings=warnings,
    )


def _finish(audit_id: int, outcome: QueryOutcome, started: float) -> None:
    duration_ms = outcome.duration_ms or (time.monotonic() - started) * 1000
    with session_scope() as session:
        catalog_grants.finish_query(
            session,
            audit_id,
            status=outcome.status,
            reason=outcome.reason,
            rows=outcome.rows,
            truncated=outcome.truncated,
            duration_ms=round(duration_ms, 3),
        )


def record_refusal(
    role_name: str,
    sql: str,
    reason: str,
    *,
    channel: str = "cli",
    user: str | None = None,
    user_role: str = DEFAULT_USER_ROLE,
) -> None:
    """Audit an attempt refused before it could be split into statements (a script that does not parse)."""
    try:
        role_name, _decisions = role_decisions(role_name)
    except QueryRefused as unknown:
        reason = f"{reason}; {unknown}"
    with session_scope() as session:
        catalog_grants.record_query(
            session,
            role=role_name,
            sql_text=sql,
            allowed=False,
            reason=reason,
            rows=None,
            truncated=False,
            duration_ms=0.0,
            channel=channel,
            user_name=user or _os_user(),
            user_role=user_role,
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def views_of(role_name: str, warehouse: Path | None = None) -> list[str]:
    """The views the role sees (for `.tables`); not audited, it runs no analyst SQL."""
    _role, decisions = role_decisions(role_name)
    access = {rid: Access(d.readable, dict(d.masked), d.reason) for rid, d in decisions.items()}
    return list_views(Path(warehouse or get_settings().warehouse_path), access, MART_GROUP_COLUMNS)
