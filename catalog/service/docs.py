"""The Great Expectations Data Docs (var/quality/docs), served to whom they concern.

A page of one resource (expectations/hub/<id>.html, validations/hub/<id>/…) is served to the
accounts of the department that provides the resource and to platform admins; the index and the
site's own assets to any signed-in account; anything else to admins only. The pages hold no PII
values (quality.docs_privacy masks them before they are stored); this keeps even their counts and
rule names inside the department.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html import unescape as html_unescape
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
from catalog.service.hardening import DOCS_CSP

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
        response = await super().get_response(path, scope)
        if path.endswith(".html") and response.status_code == 200:
            # The pages' own scripts (bootstrap-table fills the tables) may run, and nothing else: the
            # vendored files from this origin and the inline scripts the page holds as built, by hash.
            page = Path(self.directory) / path
            response.headers["content-security-policy"] = docs_csp(page.read_text(encoding="utf-8"))
        return response

    async def check_config(self) -> None:
        """The folder appears with the first quality run: its absence is a 404 per request, not a crash."""
        if Path(self.directory).is_dir():
            await super().check_config()


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_EVENT_HANDLER = re.compile(r"""\son[a-z]+=(?:"([^"]*)"|'([^']*)')""", re.I)


def docs_csp(html: str) -> str:
    """DOCS_CSP with the page's inline scripts allowed by their SHA-256 and scripts from this origin."""
    handlers = [html_unescape(double or single) for double, single in _EVENT_HANDLER.findall(html)]
    bodies = set(_INLINE_SCRIPT.findall(html)) | set(handlers)
    hashes = sorted(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'" for body in bodies
    )
    # 'unsafe-hashes': GX's buttons carry onclick handlers; only those whose hash is listed may run.
    keywords = ["script-src 'self'", *(["'unsafe-hashes'"] if handlers else []), *hashes]
    return DOCS_CSP.replace("script-src 'none'", " ".join(keywords))


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
