"""The Great Expectations Data Docs (var/quality/docs), served to whom they concern.

A page of one resource (expectations/hub/<id>.html, validations/hub/<id>/…) is served to the
accounts of the department that provides the resource and to platform admins; the index and the
site's own assets to any signed-in account; anything else to admins only. The pages hold no PII
values (quality.docs_privacy masks them before they are stored); this keeps even their counts and
rule names inside the department.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlencode

from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Scope

from catalog.identity import Identity
from catalog.models import Resource
from catalog.service.auth import identify
from catalog.service.errors import ApiError

SUITE_PREFIX = "hub"  # quality.suites names suites hub.<resource>, which GX stores as folders hub/<resource>
OPEN_TO_ACCOUNTS = ("index.html", "static")


def resource_of(path: str) -> str | None:
    """The resource a docs page belongs to, from its path; None for the index, assets and unknown pages."""
    parts = PurePosixPath(path).parts
    if len(parts) >= 3 and parts[0] in ("expectations", "validations") and parts[1] == SUITE_PREFIX:
        return parts[2].removesuffix(".html")
    return None


class DocsGate(StaticFiles):
    """StaticFiles that asks who is reading before it opens a file."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        request = Request(scope)
        who = identify(request, _credentials(request))
        if who is None and "text/html" in request.headers.get("accept", ""):
            # A browser is sent to the sign-in form, and back here afterwards.
            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
        if who is None:
            raise ApiError(
                401,
                "the Data Docs are for signed-in accounts: sign in at /login or send "
                "Authorization: Bearer <your token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        _check(request, who, path)
        if not Path(self.directory).is_dir():
            raise ApiError(
                404,
                "no Data Docs yet: they are built by the quality gate (`hub quality check all`) or `hub quality docs`",
            )
        return await super().get_response(path, scope)

    async def check_config(self) -> None:
        """The folder appears with the first quality run: its absence is a 404 per request, not a crash."""
        if Path(self.directory).is_dir():
            await super().check_config()


def _credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    scheme, value = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not value:
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=value)


def _check(request: Request, who: Identity, path: str) -> None:
    if who.is_admin:
        return
    resource_id = resource_of(path)
    if resource_id is None:
        top = PurePosixPath(path).parts[:1]
        if path in (".", "") or (top and top[0] in OPEN_TO_ACCOUNTS):
            return
        raise ApiError(403, f"{who.user} may not read this page of the Data Docs (platform admins only)")
    with request.app.state.sessions() as session:
        resource = session.get(Resource, resource_id)
        owner = resource.provider_id if resource is not None else None
    if owner is None or owner != who.department:
        raise ApiError(
            403,
            f"the Data Docs of {resource_id} are for its provider's accounts and platform admins; "
            f"{who.user} is {who.role} of {who.department}",
        )
