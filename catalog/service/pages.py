"""The HTML pages: each calls its JSON twin's route function and renders exactly that dict."""

from __future__ import annotations

from datetime import datetime
from typing import get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from catalog.service import api, labels
from catalog.service.app import TEMPLATES_DIR, Moment, get_moment, get_session
from catalog.service.errors import PAGE_ERROR_RESPONSES, ApiError
from hub.timezone import LOCAL_TZ

# Amber from three quarters of the target, as `hub coverage` colours it.
AMBER_SHARE_OF_TARGET = 0.75

STATUSES = get_args(api.StatusFilter)

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse, responses=PAGE_ERROR_RESPONSES)
templates = Jinja2Templates(directory=TEMPLATES_DIR)


def pct(ratio: float | None, digits: int = 1) -> str:
    return "—" if ratio is None else f"{ratio * 100:.{digits}f}%"


def local_time(value: str | datetime | None) -> str:
    """An ISO time as Beijing time, minutes precision (leadership reads local time)."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def tone(ratio: float, target: float) -> str:
    if ratio >= target:
        return "good"
    return "warn" if ratio >= target * AMBER_SHARE_OF_TARGET else "bad"


templates.env.filters.update(
    pct=pct, local_time=local_time, domain_label=labels.domain_label, reason_label=labels.reason_label
)
templates.env.globals.update(tone=tone, lifecycle_labels=labels.LIFECYCLE_LABELS)


def _page(request: Request, template: str, data: dict, title: str, **extra) -> HTMLResponse:
    twin = "/api" + (request.url.path if request.url.path != "/" else "/dashboard")
    # Empty form fields (a plain submit sends them) are no filters: the twin names only real ones.
    query = urlencode([(key, value) for key, value in request.query_params.multi_items() if value])
    if query:
        twin += "?" + query
    context = {"page": data, "title": title, "json_url": twin, "nav": template.split(".")[0], **extra}
    return templates.TemplateResponse(request, template, context)


@router.get("/", summary="Dashboard: coverage against the target, trend, departments, domains, gaps")
def dashboard_page(request: Request, moment: Moment = Depends(get_moment), session: Session = Depends(get_session)):
    return _page(request, "dashboard.html", api.dashboard(moment, session), "数据资源汇聚覆盖率")


@router.get("/resources", summary="Resources page: search and filters")
def resources_page(
    request: Request,
    q: str | None = Query(None, max_length=100),
    department: str | None = Query(None, max_length=32),
    domain: str | None = Query(None, max_length=32),
    status: str | None = Query(None, max_length=32, description="as /api/resources; empty means any"),
    sharing_type: str | None = Query(None, max_length=16),
    moment: Moment = Depends(get_moment),
    session: Session = Depends(get_session),
):
    if status and status not in STATUSES:
        raise ApiError(422, f"status {status!r} is not one of {', '.join(STATUSES)}")
    data = api.resources(
        q=q or None,
        department=department or None,
        domain=domain or None,
        status=status or None,
        sharing_type=sharing_type or None,
        moment=moment,
        session=session,
    )
    return _page(request, "resources.html", data, "数据资源")


@router.get("/resources/{resource_id:path}", summary="One resource's page")
def resource_page(
    request: Request,
    resource_id: str = api.ResourceId,
    moment: Moment = Depends(get_moment),
    session: Session = Depends(get_session),
):
    data = api.resource(resource_id=resource_id, moment=moment, session=session)
    return _page(request, "resource.html", data, data["resource"]["name"])


@router.get("/departments", summary="Departments page")
def departments_page(request: Request, moment: Moment = Depends(get_moment), session: Session = Depends(get_session)):
    return _page(request, "departments.html", api.departments(moment, session), "部门")


@router.get("/departments/{department_id}", summary="One department's page")
def department_page(
    request: Request,
    department_id: str = api.DepartmentId,
    moment: Moment = Depends(get_moment),
    session: Session = Depends(get_session),
):
    data = api.department(department_id=department_id, moment=moment, session=session)
    return _page(request, "department.html", data, data["department"]["display_name"])


def render_error(request: Request, body: dict, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The error shape drawn as a page (same status, same fields)."""
    context = {"page": body, "title": f"{status} {body['error']['code']}", "json_url": None, "nav": "error"}
    return templates.TemplateResponse(request, "error.html", context, status_code=status, headers=headers)
