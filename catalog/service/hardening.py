"""What every response and request of the service gets, before any route runs (one ASGI middleware):

- a body over MAX_BODY_BYTES is refused with 413 before it is read (Content-Length) or as soon as
  the stream passes the limit (chunked);
- an API write with a body but without any Authorization header is refused with 401 before the body
  is read;
- security headers: a Content-Security-Policy naming no remote origin, nosniff, no framing, no referrer
  leaving the site. Data Docs pages get a policy without scripts (they show values from the sources).
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.service.errors import error_body

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a catalogue entry is a few kB
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DOCS_PREFIX = "/quality/docs"


class Hardening:
    """ASGI middleware: body limit, early 401 for unauthenticated API writes, security headers."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(scope, send)
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _respond(send, *refusal)
            return
        await self.app(scope, self._limited(receive), send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, dict[str, str]] | None:
        length = headers.get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.max_body_bytes):
            return 413, f"the request body is over {self.max_body_bytes} bytes: send a smaller one", {}
        has_body = int(length or 0) > 0 or "chunked" in headers.get("transfer-encoding", "").lower()
        if (
            has_body
            and scope["method"] in WRITE_METHODS
            and scope["path"].startswith("/api/")
            and not headers.get("authorization", "").strip()
        ):
            return 401, "no token: send Authorization: Bearer <your token>", {"www-authenticate": "Bearer"}
        return None

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:  # a chunked body without Content-Length
                    raise HTTPException(413, f"the request body is over {self.max_body_bytes} bytes")
            return message

        return limited

    @staticmethod
    def _with_headers(scope: Scope, send: Send) -> Send:
        csp = DOCS_CSP if scope["path"].startswith(DOCS_PREFIX) else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", [])}
                extra = [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        return send_with_headers


async def _respond(send: Send, status: int, message: str, headers: dict[str, str]) -> None:
    body = orjson.dumps(error_body(status, message))
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((key.encode(), value.encode()) for key, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
