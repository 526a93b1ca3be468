"""The one error shape of the catalogue service, for every error of every route.

    {"error": {"status": 404, "code": "not_found", "message": "…what is wrong and how to fix it…",
               "details": [...] | null}}

JSON routes answer with it as JSON; HTML pages render the same object in a page (same status).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import HubError

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    details: list[Any] | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


# Documented on every route so that the OpenAPI spec says what an error looks like.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": CODES[status].replace("_", " ")} for status in (404, 422, 500)
}
WRITE_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    **{
        status: {"model": ErrorResponse, "description": CODES[status].replace("_", " ")}
        for status in (400, 401, 403, 409, 413, 503)
    },
}

# HTML pages answer errors as a page to browsers (Accept: text/html) and as the JSON shape otherwise.
PAGE_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": CODES[status].replace("_", " "),
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }
    for status in (404, 422, 500)
}
# The sign-in form: a wrong token is a 401, a body over the limit a 413.
LOGIN_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PAGE_ERROR_RESPONSES,
    **{status: {**PAGE_ERROR_RESPONSES[404], "description": CODES[status].replace("_", " ")} for status in (401, 413)},
}


class ApiError(Exception):
    """Raise from a route to answer with the error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers


def error_body(status: int, message: str, code: str | None = None, details: list[Any] | None = None) -> dict:
    return ErrorResponse(
        error=ErrorBody(
            status=status,
            code=code or CODES.get(status, "error"),
            message=message,
            details=details,
        )
    ).model_dump(mode="json")


def install(app: FastAPI, render_html) -> None:
    """Route every error through the one shape; `render_html(request, body, status)` draws pages."""

    def respond(request: Request, status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
        if _wants_html(request):
            return render_html(request, body, status, headers)
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return respond(request, exc.status, error_body(exc.status, exc.message, exc.code, exc.details), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = _http_message(request, exc)
        return respond(request, exc.status_code, error_body(exc.status_code, message), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = [_plain_validation_error(error) for error in exc.errors()]
        where = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details[:5])
        message = f"the request does not match the API: {where}" if where else "the request does not match the API"
        return respond(request, 422, error_body(422, message, details=details))

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        # Input problems are turned into ApiError where they are read; what reaches here is the server's.
        status = 503 if getattr(exc, "kind", "fatal") == "retriable" else 500
        return respond(request, status, error_body(status, str(exc)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return respond(request, 500, error_body(500, "internal error: the server log has the traceback"))


def _http_message(request: Request, exc: StarletteHTTPException) -> str:
    if exc.status_code == 404 and exc.detail in (None, "Not Found"):
        return f"no page or API route at {request.url.path}: see /openapi.json for the routes"
    if exc.status_code == 405:
        return f"{request.method} is not allowed on {request.url.path}"
    return str(exc.detail)


def _plain_validation_error(error: dict) -> dict:
    # `input` and `ctx` may hold objects JSON cannot carry (and may echo secrets back): keep the rest.
    return {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api") or path.endswith((".json", ".jsonld")):
        return False
    return "text/html" in request.headers.get("accept", "")
