"""The `http` kind: a paged JSON API (the video platform), with retries that respect the server.

Two paging styles, chosen by binding.config["paging"] (default: "cursor" when the endpoint names
status, events or alarms, else "page" — the synthetic video platform decides the same way):
  page    GET <endpoint>?page=N&page_size=M → {"total", "page", "page_size", "items"}: a snapshot,
          re-read at most every `refresh_s` seconds (default 600); an interrupted snapshot resumes.
          State: {"page", "row", "done", "finished_at"}.
  cursor  GET <endpoint>?after=C&limit=M → {"items", "next"}: an ordered event stream.
          State: {"after": the cursor requested, "skip": items of that answer already delivered}.
429 and 5xx (and network errors) are retried with exponential backoff and full jitter, honouring
Retry-After, until `retry_deadline_s` (default 60) has passed; any other 4xx is fatal.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import orjson

from connectors.base import Advance, BaseSource, SourceItem, SourceRecord, Unreadable
from connectors.errors import SourceRejected, SourceUnavailable
from connectors.systems import http_url
from hub import clock

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0


def backoff_delay(attempt: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    """Full jitter: uniform in [0, min(cap, base·2^(attempt-1))] — spreads retrying clients apart."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - clock.now()).total_seconds())


class HttpSource(BaseSource):
    kind = "http"
    required_config = ("endpoint",)

    def __init__(self, resource, binding):
        super().__init__(resource, binding)
        self.endpoint = "/" + str(self.config["endpoint"]).lstrip("/")
        self.page_size = int(self.config.get("page_size", 500))
        default_paging = "cursor" if any(word in self.endpoint for word in ("status", "event", "alarm")) else "page"
        self.paging = self.config.get("paging", default_paging)
        self.refresh_s = float(self.config.get("refresh_s", 600))
        self.retry_deadline_s = float(self.config.get("retry_deadline_s", 60))
        self.timeout_s = float(self.config.get("timeout_s", 10))
        self.stats = {"requests": 0, "retries": 0, "throttled": 0, "server_errors": 0, "network_errors": 0}
        self._client: httpx.Client | None = None

    @property
    def object_name(self) -> str:
        return self.endpoint

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=http_url(self.system), timeout=self.timeout_s)
        return self._client

    def read(self, state: dict) -> Iterator[SourceItem]:
        if self.paging == "cursor":
            yield from self._read_cursor(state)
        else:
            yield from self._read_pages(state)

    # ---- paging styles ----------------------------------------------------------------------------

    def _read_pages(self, state: dict) -> Iterator[SourceItem]:
        if state.get("done"):
            finished = datetime.fromisoformat(state["finished_at"])
            if (clock.now() - finished).total_seconds() < self.refresh_s:
                return  # the last snapshot is recent enough
            page, skip_through = 1, -1
        else:
            page, skip_through = state.get("page", 1), state.get("row", -1)
        while True:
            body = self.get_json({"page": page, "page_size": self.page_size})
            items = body.get("items") or []
            total = int(body.get("total") or 0)
            last_page = not items or len(items) < self.page_size or page * self.page_size >= total
            for row, item in enumerate(items):
                if row <= skip_through:
                    continue
                position = {"page": page, "row": row, "done": False}
                if last_page and row == len(items) - 1:
                    position.update(done=True, finished_at=clock.now().isoformat())
                yield self._item(item, position, f"page {page} item {row}")
            if last_page:
                if not items or skip_through >= len(items) - 1:
                    yield Advance(
                        {
                            "page": page,
                            "row": len(items) - 1,
                            "done": True,
                            "finished_at": clock.now().isoformat(),
                        }
                    )
                return
            page, skip_through = page + 1, -1

    def _read_cursor(self, state: dict) -> Iterator[SourceItem]:
        after, skip = state.get("after"), state.get("skip", 0)
        while True:
            params = {"limit": self.page_size} | ({"after": after} if after is not None else {})
            body = self.get_json(params)
            items, following = body.get("items") or [], body.get("next")
            for index, item in enumerate(items):
                if index < skip:
                    continue
                if following is not None and index == len(items) - 1:
                    position = {"after": following, "skip": 0}
                else:
                    position = {"after": after, "skip": index + 1}
                yield self._item(item, position, f"after={after!r} item {index}")
            if following is None or following == after:
                return
            if not items or skip >= len(items):
                yield Advance({"after": following, "skip": 0})
            after, skip = following, 0

    def _item(self, item, position: dict, where: str) -> SourceItem:
        if not isinstance(item, dict):
            return Unreadable(orjson.dumps(item), f"{self.endpoint} {where}: not a JSON object", position)
        return SourceRecord(item, position)

    # ---- one request, with retries ----------------------------------------------------------------

    def get_json(self, params: dict) -> dict:
        """The JSON object at the endpoint; retries 429/5xx/network errors, raises on anything else."""
        deadline = time.monotonic() + self.retry_deadline_s
        attempt = 0
        while True:
            attempt += 1
            self.stats["requests"] += 1
            reason, wait = self._attempt(params, attempt)
            if isinstance(reason, dict):
                return reason
            if time.monotonic() + wait > deadline:
                raise SourceUnavailable(
                    f"resource {self.resource.id!r}: GET {self.endpoint} {params} still fails after {attempt} attempts "
                    f"in {self.retry_deadline_s:.0f} s (last: {reason}); state is saved up to the last delivered "
                    f"record — rerun `hub connect {self.resource.id}` when the video platform is healthy"
                )
            self.stats["retries"] += 1
            log.warning(
                "%s: GET %s %s → %s; retry %d in %.2f s", self.resource.id, self.endpoint, params, reason, attempt, wait
            )
            time.sleep(wait)

    def _attempt(self, params: dict, attempt: int) -> tuple[dict | str, float]:
        """(body, 0) on success, else (reason, seconds to wait); raises SourceRejected on a 4xx."""
        try:
            response = self.client().get(self.endpoint, params=params)
        except httpx.TransportError as exc:
            self.stats["network_errors"] += 1
            return f"network error {type(exc).__name__}: {exc}", backoff_delay(attempt)
        status = response.status_code
        if status == 429 or status >= 500:
            self.stats["throttled" if status == 429 else "server_errors"] += 1
            hinted = retry_after_seconds(response.headers.get("Retry-After"))
            wait = hinted + random.uniform(0, 0.1) if hinted is not None else backoff_delay(attempt)
            return f"HTTP {status}", wait
        if status != 200:
            raise SourceRejected(
                f"resource {self.resource.id!r}: GET {response.request.url} → HTTP {status}: {response.text[:200]!r}; "
                f"the request itself is wrong — fix binding.config (endpoint, page_size, paging) in the catalogue"
            )
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return "HTTP 200 with a body that is not JSON", backoff_delay(attempt)
        if not isinstance(body, dict):
            return f"HTTP 200 with JSON {type(body).__name__}, expected an object", backoff_delay(attempt)
        return body, 0.0

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
