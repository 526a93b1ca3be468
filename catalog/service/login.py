"""Signing in to the service's pages: a token typed into a form becomes a browser session whose id
sits in an HttpOnly, SameSite=Strict cookie (stored hashed). The cookie opens pages that need an
identity (the Data Docs), never a write: writes need the bearer token.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from catalog import accounts
from catalog.service.auth import SESSION_COOKIE, identify
from catalog.service.errors import LOGIN_ERROR_RESPONSES, ApiError
from hub.settings import get_settings

router = APIRouter(tags=["pages"], responses=LOGIN_ERROR_RESPONSES)
DEFAULT_NEXT = "/quality/docs/"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would make the login page a phishing tool."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return DEFAULT_NEXT
    return target


@router.get("/login", response_class=HTMLResponse, summary="Sign-in form (a token becomes a browser session)")
def login_page(request: Request, next: str | None = None):  # noqa: A002 (the conventional name)
    from catalog.service.pages import templates

    who = identify(request)
    data = {"next": _safe_next(next), "signed_in": f"{who.user}（{who.role}，{who.department}）" if who else None}
    return templates.TemplateResponse(
        request, "login.html", {"page": data, "title": "登录", "json_url": None, "nav": "login"}
    )


@router.post(
    "/login",
    summary="Sign in with a token; sets the session cookie and goes to `next`",
    response_class=RedirectResponse,
    status_code=303,
)
def login(request: Request, token: str = Form(..., max_length=200), next: str = Form(DEFAULT_NEXT, max_length=500)):  # noqa: A002
    with request.app.state.sessions() as session, session.begin():
        try:
            who = accounts.authenticate(session, token)
        except accounts.AuthError as error:
            raise ApiError(401, str(error)) from None
        cookie = accounts.open_session(session, who)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=accounts.SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=get_settings().public_base_url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", summary="End the browser session", response_class=RedirectResponse, status_code=303)
def logout(request: Request) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with request.app.state.sessions() as session, session.begin():
            accounts.end_session(session, cookie)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
