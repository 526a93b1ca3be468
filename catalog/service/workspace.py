"""The analyst workspace (/workspace): a SQL editor, the role's schema, paged results, charts, saved
queries and background exports, for a signed-in account. Its JSON routes live under /workspace/api.

Every query and export runs through the warehouse's sandbox (handed in as catalog.workspace.Analysis)
and is audited under the account. Writes come from the page's own script: they must be JSON
(`Content-Type: application/json`), which a cross-site form cannot send, and the session cookie is
SameSite=Strict besides.
"""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from catalog import workspace
from catalog.identity import Identity
from catalog.service.app import get_session
from catalog.service.auth import identify, require_identity
from catalog.service.errors import WRITE_ERROR_RESPONSES, ApiError, ErrorResponse
from catalog.service.hardening import PAGE_CSP
from catalog.workspace import WorkspaceError
from hub.settings import get_settings

RESPONSES = {**WRITE_ERROR_RESPONSES, 415: {"model": ErrorResponse, "description": "unsupported media type"}}
router = APIRouter(tags=["workspace"], responses=RESPONSES)
EXPORT_WORKERS = 2  # two cores: more exports at once would only queue in the OS
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
_pool_lock = threading.Lock()


class QueryBody(BaseModel):
    sql: str = Field(..., min_length=1, max_length=workspace.SQL_MAX)


class SaveBody(BaseModel):
    title: str = Field(..., min_length=1, max_length=workspace.TITLE_MAX)
    sql: str = Field(..., min_length=1, max_length=workspace.SQL_MAX)
    shared: bool = False


class ExportBody(BaseModel):
    sql: str = Field(..., min_length=1, max_length=workspace.SQL_MAX)
    format: str = Field(..., pattern="^(csv|xlsx|parquet)$")


def json_write(request: Request) -> None:
    """Writes must be JSON: a cross-site HTML form can only send form encodings."""
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        raise ApiError(415, "send the body as JSON (Content-Type: application/json)")


def analyst(who: Identity = Depends(require_identity)) -> Identity:
    if who.sql_role is None:
        raise ApiError(403, f"{who.user} has no department to query as")
    return who


def _analysis() -> workspace.Analysis:
    try:
        return workspace.analysis()
    except WorkspaceError as error:
        raise ApiError(503, str(error)) from None


def exports_folder() -> Path:
    folder = get_settings().var_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


@router.get("/workspace", response_class=HTMLResponse, summary="The analyst workspace (sign in first)")
def workspace_page(request: Request):
    from catalog.service.pages import templates

    who = identify(request)
    if who is None:
        return RedirectResponse("/login?" + urlencode({"next": "/workspace"}), status_code=303)
    data = {"user": who.user, "role": who.sql_role, "account_role": who.role}
    # CodeMirror adds one <style> element: a nonce per response lets that one in, and no other inline style.
    nonce = secrets.token_urlsafe(18)
    context = {
        "page": data,
        "title": "分析工作台",
        "json_url": "/workspace/api/schema",
        "nav": "workspace",
        "style_nonce": nonce,
    }
    response = templates.TemplateResponse(request, "workspace.html", context)
    response.headers["Content-Security-Policy"] = PAGE_CSP.replace(
        "style-src 'self'", f"style-src 'self' 'nonce-{nonce}'"
    )
    return response


@router.get("/workspace/api/schema", summary="The views your role may read, with names, columns and masks")
def schema(who: Identity = Depends(analyst)) -> dict:
    return {"role": who.sql_role, "views": _analysis().describe(who)}


@router.post("/workspace/api/query", summary="Run one statement (audited); rows up to HUB_QUERY_ROW_LIMIT")
def run(body: QueryBody, who: Identity = Depends(analyst), _json: None = Depends(json_write)) -> dict:
    answer = _analysis().query(who, body.sql)
    return {**answer.__dict__, "row_limit": get_settings().query_row_limit}


@router.get("/workspace/api/queries", summary="Your saved queries and your department's shared ones")
def saved(who: Identity = Depends(analyst), session: Session = Depends(get_session)) -> dict:
    return {"queries": [workspace.saved_dict(q, who) for q in workspace.visible_queries(session, who)]}


@router.post("/workspace/api/queries", status_code=201, summary="Save a query (shared: the whole department sees it)")
def save(
    body: SaveBody,
    who: Identity = Depends(analyst),
    session: Session = Depends(get_session),
    _json: None = Depends(json_write),
) -> dict:
    try:
        return workspace.saved_dict(workspace.save_query(session, who, body.title, body.sql, body.shared), who)
    except WorkspaceError as error:
        raise ApiError(422, str(error)) from None


@router.delete("/workspace/api/queries/{query_id}", summary="Delete a saved query of yours")
def delete(query_id: int, who: Identity = Depends(analyst), session: Session = Depends(get_session)) -> dict:
    try:
        workspace.delete_query(session, who, query_id)
    except WorkspaceError as error:
        raise ApiError(404, str(error)) from None
    return {"deleted": query_id}


@router.post("/workspace/api/exports", status_code=202, summary="Export every row of a query in the background")
def start_export(
    body: ExportBody,
    request: Request,
    who: Identity = Depends(analyst),
    session: Session = Depends(get_session),
    _json: None = Depends(json_write),
) -> dict:
    _analysis()  # no job that cannot run
    try:
        job = workspace.new_export(session, who, body.sql, body.format)
    except WorkspaceError as error:
        raise ApiError(422, str(error)) from None
    session.commit()  # the worker reads the row from its own session
    _pool(request.app).submit(_run_export, request.app.state.sessions, job.id, who)
    return workspace.export_dict(job)


@router.get("/workspace/api/exports", summary="Your recent exports (expired files are removed first)")
def exports(who: Identity = Depends(analyst), session: Session = Depends(get_session)) -> dict:
    workspace.expire_exports(session, exports_folder())
    return {
        "keep_hours": get_settings().export_keep_hours,
        "exports": [workspace.export_dict(job) for job in workspace.user_exports(session, who)],
    }


@router.get("/workspace/api/exports/{job_id}", summary="One export of yours: its status and row count")
def export_status(job_id: int, who: Identity = Depends(analyst), session: Session = Depends(get_session)) -> dict:
    workspace.expire_exports(session, exports_folder())
    try:
        return workspace.export_dict(workspace.user_export(session, who, job_id))
    except WorkspaceError as error:
        raise ApiError(404, str(error)) from None


@router.get(
    "/workspace/api/exports/{job_id}/file",
    summary="Download a finished export",
    response_class=FileResponse,
    responses={200: {"content": {m.split(";")[0]: {} for m in MEDIA.values()}, "description": "the file"}},
)
def export_file(job_id: int, who: Identity = Depends(analyst), session: Session = Depends(get_session)):
    workspace.expire_exports(session, exports_folder())
    try:
        job = workspace.user_export(session, who, job_id)
    except WorkspaceError as error:
        raise ApiError(404, str(error)) from None
    if job.status != "done":
        raise ApiError(409, f"export {job_id} is {job.status}" + (f": {job.reason}" if job.reason else ""))
    path = workspace.export_path(exports_folder(), job)
    return FileResponse(path, media_type=MEDIA[job.format], filename=f"export-{job.id}.{job.format}")


def _pool(app) -> ThreadPoolExecutor:
    with _pool_lock:
        if getattr(app.state, "export_pool", None) is None:
            app.state.export_pool = ThreadPoolExecutor(EXPORT_WORKERS, thread_name_prefix="hub-export")
        return app.state.export_pool


def _run_export(sessions, job_id: int, who: Identity) -> None:
    """One export job: run through the sandbox into the exports folder, then record how it ended."""
    with sessions() as session, session.begin():
        job = session.get(workspace.ExportJob, job_id)
        job.status = "running"
        sql_text, fmt, path = job.sql_text, job.format, workspace.export_path(exports_folder(), job)
    try:
        answer = workspace.analysis().export(who, sql_text, fmt, path)
    except Exception as error:  # the job must end in a state the user sees, whatever went wrong
        answer = workspace.Answer(False, f"the export failed: {type(error).__name__}: {error}")
    keep = timedelta(hours=get_settings().export_keep_hours)
    with sessions() as session, session.begin():
        workspace.finish_export(session, job_id, answer, path, keep)
