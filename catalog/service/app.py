"""The catalogue service: dashboard, resources and departments pages, their JSON twins, the write API
and the DCAT export (FastAPI). `hub catalog serve` runs `create_app()` under uvicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

from catalog.service.errors import ApiError
from hub import clock
from hub.settings import get_settings

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
# The years an as_of may name: the catalogue has no evidence outside them, and date arithmetic near
# year 1 or 9999 overflows.
EARLIEST_AS_OF, LATEST_AS_OF = 2000, 2100


def create_app(url: str | None = None) -> FastAPI:
    """The app on the catalogue database at `url` (default: HUB_CATALOG_URL), migrated first."""
    from catalog.db import make_engine, migrate, session_factory
    from catalog.service import api, errors, login, marts, objections_api, pages, workspace
    from catalog.service.auth import check_service_settings
    from catalog.service.docs import DocsGate
    from catalog.service.hardening import Hardening

    check_service_settings(get_settings())  # before anything is opened: a weak token never serves
    engine = make_engine(url)
    migrate(engine=engine)  # before the first request, so that no page meets an old schema
    app = FastAPI(
        title="Shunde data hub — catalogue service",
        version="1",
        description="Coverage of the data resource catalogue against the target, the resources and their "
        "evidence, departments, and the catalogue as DCAT. Every page has a JSON twin under /api; "
        "writes need `Authorization: Bearer <token>` (an account's token or HUB_API_TOKEN); "
        "the Data Docs need a signed-in account of the resource's department.",
        docs_url=None,  # Swagger UI loads its assets from a CDN, which this network does not reach
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The Great Expectations Data Docs the quality gate builds (quality.suites); may not exist yet.
    app.mount(
        "/quality/docs",
        DocsGate(directory=get_settings().var_dir / "quality" / "docs", html=True, check_dir=False),
        name="quality-docs",
    )
    app.add_middleware(Hardening)
    app.include_router(api.router)
    app.include_router(login.router)
    app.include_router(api.export_router)
    app.include_router(objections_api.router)
    app.include_router(workspace.router)
    app.include_router(marts.api_router)
    app.include_router(marts.page_router)
    app.include_router(pages.router)
    errors.install(app, pages.render_error)
    return app


# --- dependencies shared by the JSON routes and the pages ---------------------------------------


def get_session(request: Request) -> Iterator[Session]:
    """A session per request: committed when the route returns, rolled back when it raises."""
    session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@dataclass(frozen=True)
class Moment:
    """The as_of of a request. Reading stores nothing at any as_of: only the daily job takes snapshots."""

    as_of: datetime


def get_moment(
    as_of: str | None = Query(
        None,
        description="ISO date (end of that day, UTC) or time (UTC if no zone), as `hub coverage --as-of`; default now",
        examples=["2026-05-20"],
        max_length=40,
    ),
) -> Moment:
    if as_of is None or not as_of.strip():
        return Moment(clock.now())
    from catalog.cli import parse_as_of
    from catalog.errors import CatalogError

    try:
        moment = parse_as_of(as_of.strip()).astimezone(timezone.utc)
    except (CatalogError, ValueError, OverflowError) as exc:
        raise ApiError(422, str(exc) if isinstance(exc, CatalogError) else f"as_of {as_of!r}: {exc}") from None
    if not EARLIEST_AS_OF <= moment.year <= LATEST_AS_OF:
        raise ApiError(422, f"as_of {as_of!r} is outside {EARLIEST_AS_OF}..{LATEST_AS_OF}: ask about a real day")
    return Moment(moment)
