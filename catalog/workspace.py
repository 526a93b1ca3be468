"""The analyst workspace's catalogue side: saved queries per department, export jobs and their expiry,
and the seam through which the warehouse's sandbox is handed in.

The catalogue sits below the warehouse (pyproject's import contract), so it cannot run analyst SQL
itself: the composition (pipeline/cli.py, through pipeline.workspace) hands in an `Analysis` with
`use_analysis`. Without one the workspace pages say how to start the service so that it has one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog.errors import CatalogError
from catalog.identity import Identity
from catalog.models import ExportJob, SavedQuery
from hub import clock

EXPORT_FORMATS = ("csv", "xlsx", "parquet")
TITLE_MAX, SQL_MAX = 200, 100_000


class WorkspaceError(CatalogError):
    """A workspace request that cannot be done; the message says why."""

    kind = "skippable"


@dataclass
class Answer:
    """One query's outcome as the workspace shows it (the warehouse fills it in)."""

    allowed: bool
    reason: str | None = None
    columns: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    row_count: int | None = None
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    audit_id: int | None = None


class Analysis(Protocol):
    """What the workspace needs of the warehouse: describe a role's views, run and export a query."""

    def describe(self, identity: Identity) -> list[dict]: ...

    def query(self, identity: Identity, sql: str) -> Answer: ...

    def export(self, identity: Identity, sql: str, fmt: str, destination: Path) -> Answer: ...


_analysis: Analysis | None = None


def use_analysis(analysis: Analysis | None) -> None:
    """Run the workspace's queries with `analysis` (called once at start-up by the composition)."""
    global _analysis
    _analysis = analysis


def analysis() -> Analysis:
    if _analysis is None:
        raise WorkspaceError(
            "the workspace has no warehouse here: start the service with `hub catalog serve`, "
            "which connects it to the analyst sandbox"
        )
    return _analysis


# --- saved queries ------------------------------------------------------------------------------


def visible_queries(session: Session, who: Identity) -> Sequence[SavedQuery]:
    """The user's own saved queries and those shared with their department, newest first."""
    return session.scalars(
        select(SavedQuery)
        .where(
            SavedQuery.department_id == who.sql_role,
            or_(SavedQuery.shared.is_(True), SavedQuery.created_by == who.user),
        )
        .order_by(SavedQuery.updated_at.desc(), SavedQuery.id.desc())
    ).all()


def save_query(session: Session, who: Identity, title: str, sql_text: str, shared: bool) -> SavedQuery:
    title, sql_text = title.strip(), sql_text.strip()
    if not title or len(title) > TITLE_MAX:
        raise WorkspaceError(f"a saved query needs a title of 1 to {TITLE_MAX} characters")
    if not sql_text or len(sql_text) > SQL_MAX:
        raise WorkspaceError(f"a saved query needs SQL of 1 to {SQL_MAX} characters")
    now = clock.now()
    saved = SavedQuery(
        department_id=who.sql_role,
        title=title,
        sql_text=sql_text,
        shared=shared,
        created_by=who.user,
        created_at=now,
        updated_at=now,
    )
    session.add(saved)
    session.flush()
    return saved


def delete_query(session: Session, who: Identity, query_id: int) -> None:
    saved = session.get(SavedQuery, query_id)
    if saved is None or saved.department_id != who.sql_role:
        raise WorkspaceError(f"no saved query {query_id} in your department")
    if saved.created_by != who.user and not who.is_admin:
        raise WorkspaceError(f"saved query {query_id} is {saved.created_by}'s: only they delete it")
    session.delete(saved)


def saved_dict(saved: SavedQuery, who: Identity) -> dict:
    return {
        "id": saved.id,
        "title": saved.title,
        "sql": saved.sql_text,
        "shared": saved.shared,
        "created_by": saved.created_by,
        "mine": saved.created_by == who.user,
        "updated_at": saved.updated_at.isoformat(),
    }


# --- export jobs --------------------------------------------------------------------------------


def new_export(session: Session, who: Identity, sql_text: str, fmt: str) -> ExportJob:
    if fmt not in EXPORT_FORMATS:
        raise WorkspaceError(f"export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    if not sql_text.strip() or len(sql_text) > SQL_MAX:
        raise WorkspaceError(f"an export needs SQL of 1 to {SQL_MAX} characters")
    job = ExportJob(
        token=secrets.token_hex(16),
        user_name=who.user,
        role=who.sql_role,
        sql_text=sql_text.strip(),
        format=fmt,
        status="queued",
        created_at=clock.now(),
    )
    session.add(job)
    session.flush()
    return job


def export_path(folder: Path, job: ExportJob) -> Path:
    return folder / f"{job.token}.{job.format}"


def finish_export(session: Session, job_id: int, answer: Answer, path: Path, keep: timedelta) -> None:
    job = session.get(ExportJob, job_id)
    now = clock.now()
    job.finished_at = now
    job.audit_id = answer.audit_id
    if answer.allowed:
        job.status, job.rows, job.size_bytes = "done", answer.row_count, path.stat().st_size
        job.expires_at = now + keep
    else:
        job.status, job.reason = "failed", answer.reason


def user_exports(session: Session, who: Identity, limit: int = 20) -> Sequence[ExportJob]:
    return session.scalars(
        select(ExportJob).where(ExportJob.user_name == who.user).order_by(ExportJob.id.desc()).limit(limit)
    ).all()


def user_export(session: Session, who: Identity, job_id: int) -> ExportJob:
    job = session.get(ExportJob, job_id)
    if job is None or job.user_name != who.user:
        raise WorkspaceError(f"no export {job_id} of yours")
    return job


def expire_exports(session: Session, folder: Path, now: datetime | None = None) -> int:
    """Delete the files of exports past their time and mark them expired; how many."""
    now = now or clock.now()
    due = session.scalars(select(ExportJob).where(ExportJob.status == "done", ExportJob.expires_at <= now)).all()
    for job in due:
        export_path(folder, job).unlink(missing_ok=True)
        job.status = "expired"
    return len(due)


def export_dict(job: ExportJob) -> dict:
    return {
        "id": job.id,
        "format": job.format,
        "status": job.status,
        "rows": job.rows,
        "size_bytes": job.size_bytes,
        "reason": job.reason,
        "sql": job.sql_text,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
        "download": f"/workspace/api/exports/{job.id}/file" if job.status == "done" else None,
    }
