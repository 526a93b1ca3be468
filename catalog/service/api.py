"""The JSON API: one route per page (its twin, which the page renders), the write routes, DCAT.

Reads are open; writes need a token (catalog.service.auth). Every error has the shape in catalog.service.errors.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from catalog.identity import Identity
from catalog.models import Department, Resource
from catalog.service import labels, views
from catalog.service.app import EARLIEST_AS_OF, LATEST_AS_OF, Moment, get_moment, get_session
from catalog.service.auth import may_edit_department, require_admin, require_identity, require_token
from catalog.service.errors import ERROR_RESPONSES, WRITE_ERROR_RESPONSES, ApiError
from catalog.service.resources import ResourceFilter, filter_options, resource_detail, resource_rows
from catalog.service.writes import ResourceEntry, publish_event, save_entry
from catalog.streams import read_status
from catalog.targets import current_target, set_target
from hub import clock

router = APIRouter(prefix="/api", tags=["api"], responses=ERROR_RESPONSES)
export_router = APIRouter(tags=["export"], responses=ERROR_RESPONSES)

StatusFilter = Literal[(*labels.STATUS_FILTERS, views.RETIRED)]  # type: ignore[valid-type]
ResourceId = Path(..., max_length=64, description="resource id (household_population) or 资源代码")
DepartmentId = Path(..., max_length=32, description="department id (gaj)")


@router.get("/coverage", summary="The coverage document (exactly `hub coverage --json`)")
def coverage(moment: Moment = Depends(get_moment), session: Session = Depends(get_session)) -> dict:
    return views.coverage_document(session, moment.as_of)


@router.get("/dashboard", summary="The dashboard's data: coverage, target, groupings, biggest gaps")
def dashboard(moment: Moment = Depends(get_moment), session: Session = Depends(get_session)) -> dict:
    return views.dashboard(session, moment.as_of)


@router.get("/resources", summary="Resources, searched and filtered")
def resources(
    q: str | None = Query(
        None,
        max_length=100,
        description="text in the name, code, id, abstract, department, "
        "or an information item's name (gmsfhm) or label (公民身份号码)",
    ),
    department: str | None = Query(None, max_length=32, description="department id"),
    domain: str | None = Query(None, max_length=32),
    status: StatusFilter | None = Query(None, description="coverage status: aggregated or a gap reason"),
    sharing_type: str | None = Query(None, max_length=16, description="无条件共享, 有条件共享 or 不予共享"),
    moment: Moment = Depends(get_moment),
    session: Session = Depends(get_session),
) -> dict:
    wanted = ResourceFilter(q=q, department=department, domain=domain, status=status, sharing_type=sharing_type)
    rows = resource_rows(session, moment.as_of, wanted)
    return {
        "as_of": moment.as_of.isoformat(),
        "filters": wanted.as_json(),
        "count": len(rows),
        "resources": rows,
        "options": filter_options(session),
    }


@router.get("/resources/{resource_id:path}", summary="One resource: metadata, items, derived schema, evidence, lineage")
def resource(
    resource_id: str = ResourceId, moment: Moment = Depends(get_moment), session: Session = Depends(get_session)
) -> dict:
    return resource_detail(session, _resource(session, resource_id), moment.as_of)


@router.get("/departments", summary="Departments with their coverage")
def departments(moment: Moment = Depends(get_moment), session: Session = Depends(get_session)) -> dict:
    return views.department_list(session, moment.as_of)


@router.get("/departments/{department_id}", summary="One department: coverage, resources, what blocks each gap")
def department(
    department_id: str = DepartmentId, moment: Moment = Depends(get_moment), session: Session = Depends(get_session)
) -> dict:
    dept = session.get(Department, department_id)
    if dept is None:
        raise ApiError(404, f"no department {department_id!r}: see /api/departments for the ids")
    return views.department_detail(session, dept, moment.as_of)


@router.get(
    "/streams",
    summary="The 实时 resources' long-running connectors: state, pid, records delivered, restarts, landing lag",
    dependencies=[Depends(require_identity)],  # pids, hosts in errors: for signed-in accounts, not the public
    responses={401: WRITE_ERROR_RESPONSES[401]},
)
def streams() -> dict:
    """Exactly `hub streams status --json`: the supervisor's status file, read (never Kafka)."""
    return read_status()


# --- writes ----------------------------------------------------------------------------------------


class TargetIn(BaseModel):
    target: float = Field(..., gt=0, le=1, description="share of catalogue resources to aggregate, e.g. 0.7")
    target_date: date = Field(
        ...,
        ge=date(EARLIEST_AS_OF, 1, 1),
        le=date(LATEST_AS_OF, 12, 31),
        description="the date the target is due, e.g. 2026-12-31",
    )
    note: str | None = Field(None, max_length=500, description="why it changed (kept with the history)")


@router.get("/settings/target", summary="The coverage target in force and where it comes from")
def target(session: Session = Depends(get_session)) -> dict:
    return current_target(session).as_json()


@router.put(
    "/settings/target",
    summary="Set the coverage target and its date (a platform admin's token)",
    dependencies=[Depends(require_admin)],
    responses=WRITE_ERROR_RESPONSES,
)
def put_target(body: TargetIn, session: Session = Depends(get_session)) -> dict:
    stored = set_target(session, body.target, body.target_date, now=clock.now(), note=body.note)
    return _committed(session, stored.as_json())


@router.post(
    "/resources",
    status_code=201,
    summary="Register a resource (a steward of its provider, or an admin)",
    responses=WRITE_ERROR_RESPONSES,
)
def register_resource(
    entry: ResourceEntry,
    publish: bool = Query(False, description="also publish to hub.events"),
    who: Identity = Depends(require_token),
    session: Session = Depends(get_session),
) -> dict:
    _check_editor(who, entry.provider)
    return _saved(session, entry, update=False, publish=publish, status=201)


@router.put(
    "/resources/{resource_id:path}",
    summary="Update a resource's entry (a steward of its provider, or an admin)",
    responses=WRITE_ERROR_RESPONSES,
)
def update_resource(
    entry: ResourceEntry,
    resource_id: str = ResourceId,
    publish: bool = Query(False, description="also publish to hub.events"),
    who: Identity = Depends(require_token),
    session: Session = Depends(get_session),
) -> dict:
    if entry.id != resource_id:
        raise ApiError(422, f"the body's id {entry.id!r} is not the path's {resource_id!r}: ids cannot be renamed")
    existing = session.get(Resource, resource_id)
    if existing is not None:
        _check_editor(who, existing.provider_id)
    _check_editor(who, entry.provider)  # moving an entry to another department takes both sides (or an admin)
    return _saved(session, entry, update=True, publish=publish)


def _check_editor(who: Identity, department: str) -> None:
    if not may_edit_department(who, department):
        raise ApiError(
            403,
            f"{who.user} is {who.role} of {who.department}: entries of {department} are edited by "
            f"its stewards or a platform admin",
        )


def _saved(session: Session, entry: ResourceEntry, *, update: bool, publish: bool, status: int = 200) -> Response:
    """Apply the entry, build and render the whole answer, publish if asked, and only then commit:
    a write that fails at any step leaves nothing saved."""
    now = clock.now()
    event = save_entry(session, entry, now=now, update=update)
    session.flush()
    detail = resource_detail(session, _resource(session, entry.id), now)
    summary = {"id": event["id"], "type": event["type"], "ts": event["ts"]} if event else None
    body = {"event": summary, "published": bool(event and publish), "resource": detail}
    response = _rendered(body, status)
    if event and publish:
        publish_event(event)
    session.commit()
    return response


def _committed(session: Session, body: dict) -> Response:
    response = _rendered(body, 200)
    session.commit()
    return response


def _rendered(body: dict, status: int) -> Response:
    """The JSON response, rendered now (NaN or infinity raise here, before anything is committed)."""
    try:
        return JSONResponse(jsonable_encoder(body), status_code=status)
    except ValueError as exc:
        raise ApiError(422, f"the entry leads to a value JSON cannot carry ({exc}): check its numbers") from None


def _resource(session: Session, id_or_code: str) -> Resource:
    from catalog.store import find_resource

    found = find_resource(session, id_or_code)
    if found is None:
        raise ApiError(404, f"no resource {id_or_code!r}: search /api/resources?q=… for its id or code")
    return found


# --- DCAT ------------------------------------------------------------------------------------------


@export_router.get(
    "/catalog.jsonld",
    summary="The catalogue as DCAT-AP 3 (JSON-LD), for harvesters",
    response_class=Response,
    responses={200: {"content": {"application/ld+json": {"schema": {"type": "object"}}}}},
)
def catalog_jsonld(session: Session = Depends(get_session)) -> Response:
    from catalog.service.dcat import catalogue_jsonld
    from hub.settings import get_settings

    # The configured address, never the Host header: a harvester must not be handed links a client chose.
    body = catalogue_jsonld(session, str(get_settings().public_base_url), now=clock.now())
    return Response(body, media_type="application/ld+json")
