"""Who is asking the service: `Authorization: Bearer <token>` (an account's token, or HUB_API_TOKEN
for automation) or the login cookie of a browser session. Reads of the catalogue stay open; writes
and the Data Docs need an identity.

The service refuses to start on the documented placeholder token unless HUB_DEV_MODE=1.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from catalog import accounts
from catalog.identity import ADMIN, STEWARD, Identity
from catalog.service.errors import ApiError
from hub.errors import ConfigError
from hub.settings import DEFAULT_API_TOKEN, Settings, get_settings

log = logging.getLogger(__name__)

SESSION_COOKIE = "hub_session"
MIN_API_TOKEN_LENGTH = 16
SERVICE_IDENTITY = Identity(accounts.SERVICE_USER, None, ADMIN)

_bearer = HTTPBearer(auto_error=False, description="an account's token (`hub account token USER`) or HUB_API_TOKEN")


def check_service_settings(settings: Settings) -> None:
    """Refuse to serve on the placeholder (or a short) HUB_API_TOKEN unless in development mode."""
    token = settings.api_token.get_secret_value()
    # docker/.env.example's placeholders start with REPLACE: copying the file as is must not serve either.
    weak = (
        token.strip() in ("", DEFAULT_API_TOKEN)
        or len(token) < MIN_API_TOKEN_LENGTH
        or token.upper().startswith("REPLACE")
    )
    if not weak:
        return
    if settings.dev_mode:
        log.warning("HUB_DEV_MODE=1: the service accepts a weak HUB_API_TOKEN; never run it like this for others")
        return
    what = "too short" if len(token) < MIN_API_TOKEN_LENGTH else "a placeholder"
    if token.strip() in ("", DEFAULT_API_TOKEN):
        what = f"unset (the placeholder {DEFAULT_API_TOKEN!r})"
    raise ConfigError(
        f"HUB_API_TOKEN is {what}: the service will not start with it. Set a secret of at least "
        f"{MIN_API_TOKEN_LENGTH} characters, e.g. "
        "`export HUB_API_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`, "
        "or set HUB_DEV_MODE=1 on a development machine"
    )


def identify(request: Request, credentials: HTTPAuthorizationCredentials | None = None) -> Identity | None:
    """The identity of the request, None when it carries none; ApiError 401 for a bad credential."""
    given = credentials.credentials.strip() if credentials else ""
    if given:
        expected = get_settings().api_token.get_secret_value()
        if hmac.compare_digest(given.encode(), expected.encode()):
            return SERVICE_IDENTITY
        with request.app.state.sessions() as session:
            try:
                return accounts.authenticate(session, given)
            except accounts.AuthError as error:
                raise ApiError(401, f"{error}", headers={"WWW-Authenticate": "Bearer"}) from None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with request.app.state.sessions() as session:
            try:
                return accounts.session_identity(session, cookie)
            except accounts.AuthError:
                return None  # an ended session is no identity; the caller decides whether one is needed
    return None


def require_identity(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Identity:
    """Any authenticated identity (token or, for pages, the login cookie)."""
    who = identify(request, credentials)
    if who is None:
        raise ApiError(
            401,
            "no identity: send Authorization: Bearer <your token> or sign in at /login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return who


def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Identity:
    """Writes need a bearer token (never the cookie: a cross-site form must not write)."""
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(
            401,
            "no token: send Authorization: Bearer <your token> (`hub account token USER`) or the HUB_API_TOKEN setting",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return identify(request, credentials)


def require_admin(who: Identity = Depends(require_token)) -> Identity:
    if not who.is_admin:
        raise ApiError(403, f"{who.user} is {who.role} of {who.department}: only a platform admin may do this")
    return who


def may_edit_department(who: Identity, department: str) -> bool:
    """A platform admin edits every entry; a steward the entries of their own department."""
    return who.is_admin or (who.role == STEWARD and who.department == department)
