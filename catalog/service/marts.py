"""The marts' pages: each mart.* view as a derived catalogue entry with its columns and its lineage
(the resources it is built from), and their JSON twins under /api/marts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.marts import MART_DOCS, mart_entry
from catalog.models import Resource
from catalog.service.app import get_session
from catalog.service.errors import ERROR_RESPONSES, PAGE_ERROR_RESPONSES, ApiError

api_router = APIRouter(prefix="/api", tags=["marts"], responses=ERROR_RESPONSES)
page_router = APIRouter(tags=["pages"], default_response_class=HTMLResponse, responses=PAGE_ERROR_RESPONSES)
MartName = Path(..., max_length=100, description="the view's name in schema mart, e.g. population_by_town_age_sex")


def _resources(session: Session, ids: set[str]) -> dict:
    return {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(sorted(ids))))}


@api_router.get("/marts", summary="The marts: derived resources, what they show and what they are built from")
def marts(session: Session = Depends(get_session)) -> dict:
    resources = _resources(session, {rid for doc in MART_DOCS.values() for rid in doc.reads})
    return {"marts": [mart_entry(name, doc, resources) for name, doc in MART_DOCS.items()]}


@api_router.get("/marts/{name}", summary="One mart: its columns and lineage")
def mart(name: str = MartName, session: Session = Depends(get_session)) -> dict:
    doc = MART_DOCS.get(name)
    if doc is None:
        raise ApiError(404, f"no mart {name!r}: /api/marts lists them")
    return mart_entry(name, doc, _resources(session, set(doc.reads)))


@page_router.get("/marts", summary="Marts page")
def marts_page(request: Request, session: Session = Depends(get_session)):
    from catalog.service.pages import _page

    return _page(request, "marts.html", marts(session), "汇总视图")


@page_router.get("/marts/{name}", summary="One mart's page")
def mart_page(request: Request, name: str = MartName, session: Session = Depends(get_session)):
    from catalog.service.pages import _page

    data = mart(name, session)
    return _page(request, "mart.html", data, data["title"])
