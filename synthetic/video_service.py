"""The video platform's HTTP API, served from the store `hub seed` fills (stdlib only).

  GET /api/v1/devices?page=N&page_size=M        → {"total", "page", "page_size", "items"}
  GET /api/v1/device-status?after=<cursor>&limit=M → {"items", "next"}
  GET /healthz                                  → {"status": "ok"}   (never limited or faulted)

Every bound endpoint answers both styles; its default style (page or cursor) is the one the seed
recorded. `next` is the cursor after the last item returned, or null when nothing is newer: keep
the cursor you sent and ask again later. Like a real platform it is rate-limited (token bucket →
429 + Retry-After: 1) and answers 503 + Retry-After: 1 to a fraction of requests
(HUB_VIDEO_FAULT_RATE, default 0.02) or to the next N (HUB_VIDEO_FAULT_BURST=N, or
POST /_admin/fault-burst?n=N). Unknown paths are 404, bad parameters 400.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DEFAULT_RATE = 50.0  # requests per second, also the bucket size
MAX_PAGE_SIZE = 5000
RETRY_AFTER_S = "1"


class BadRequest(ValueError):
    pass


class TokenBucket:
    """`rate` tokens per second, holding at most `capacity`."""

    def __init__(self, rate: float, capacity: float | None = None):
        self.rate, self.capacity = rate, capacity or rate
        self.tokens, self.stamp = self.capacity, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class Faults:
    """Which requests answer 503: a random fraction, and a burst of the next N."""

    def __init__(self, rate: float, burst: int, seed: int = 0):
        self.rate, self.burst = rate, burst
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def fail_now(self) -> bool:
        with self.lock:
            if self.burst > 0:
                self.burst -= 1
                return True
            return self.rng.random() < self.rate


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "seq": seq}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        seq = int(payload["seq"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest(f"after={cursor!r} is not a cursor this platform issued; start without `after`") from exc
    if seq < 0:
        raise BadRequest("cursor out of range")
    return seq


def _int_param(query: dict, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[-1]
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}={value} must be between {low} and {high}")
    return value


class Store:
    """Read-only access to the seeded platform store (re-read per request: later seed steps show)."""

    def __init__(self, path: Path):
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        return db

    def endpoint(self, path: str) -> dict | None:
        if not self.path.exists():
            return None
        db = self._connect()
        try:
            row = db.execute(
                "SELECT tbl, mode, columns, key_columns FROM _endpoints WHERE endpoint = ?", (path,)
            ).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            db.close()
        return (
            None
            if row is None
            else {
                "table": row["tbl"],
                "mode": row["mode"],
                "columns": json.loads(row["columns"]),
                "keys": json.loads(row["key_columns"]),
            }
        )

    def page(self, endpoint: dict, page: int, size: int) -> dict:
        db = self._connect()
        try:
            table = endpoint["table"].replace('"', '""')
            total = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            rows = db.execute(
                f'SELECT * FROM "{table}" ORDER BY _seq LIMIT ? OFFSET ?', (size, (page - 1) * size)
            ).fetchall()
        finally:
            db.close()
        return {"total": total, "page": page, "page_size": size, "items": [_item(r, endpoint) for r in rows]}

    def after(self, endpoint: dict, cursor: int, limit: int) -> dict:
        db = self._connect()
        try:
            table = endpoint["table"].replace('"', '""')
            rows = db.execute(
                f'SELECT * FROM "{table}" WHERE _seq > ? ORDER BY _seq LIMIT ?', (cursor, limit)
            ).fetchall()
        finally:
            db.close()
        return {"items": [_item(r, endpoint) for r in rows], "next": encode_cursor(rows[-1]["_seq"]) if rows else None}


def _item(row: sqlite3.Row, endpoint: dict) -> dict:
    """An item as the platform sends it; a missing key (a broken device) is left out, not null."""
    item = {}
    for column in endpoint["columns"]:
        value = row[column]
        if value is None and column in endpoint["keys"]:
            continue
        item[column] = value
    return item


def make_handler(store: Store, bucket: TokenBucket, faults: Faults):
    class Handler(BaseHTTPRequestHandler):
        server_version = "ShundeVideoPlatform/1.0"
        disable_nagle_algorithm = True  # headers and body leave in one go: no 40 ms delayed-ACK stalls
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args) -> None:  # one line per request in the service log
            if os.environ.get("HUB_VIDEO_ACCESS_LOG"):
                super().log_message(fmt, *args)

        def _send(self, status: int, body: dict, retry_after: bool = False) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if retry_after:
                self.send_header("Retry-After", RETRY_AFTER_S)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlsplit(self.path)
            if url.path == "/healthz":
                return self._send(200, {"status": "ok"})
            if not bucket.take():
                return self._send(429, {"error": "too many requests", "retry_after_s": 1}, retry_after=True)
            if faults.fail_now():
                return self._send(503, {"error": "service temporarily unavailable"}, retry_after=True)
            endpoint = store.endpoint(url.path)
            if endpoint is None:
                return self._send(404, {"error": f"no such endpoint {url.path}"})
            try:
                return self._send(200, self._answer(endpoint, parse_qs(url.query)))
            except BadRequest as exc:
                return self._send(400, {"error": str(exc)})

        def _answer(self, endpoint: dict, query: dict) -> dict:
            by_cursor = "after" in query or "limit" in query or (endpoint["mode"] == "cursor" and "page" not in query)
            if by_cursor:
                after = decode_cursor(query["after"][-1]) if query.get("after", [""])[-1] else 0
                return store.after(endpoint, after, _int_param(query, "limit", 500, 1, MAX_PAGE_SIZE))
            return store.page(
                endpoint, _int_param(query, "page", 1, 1, 10**9), _int_param(query, "page_size", 100, 1, MAX_PAGE_SIZE)
            )

        def do_POST(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path != "/_admin/fault-burst":
                return self._send(404, {"error": f"no such endpoint {url.path}"})
            try:
                burst = _int_param(parse_qs(url.query), "n", 1, 0, 10_000)
            except BadRequest as exc:
                return self._send(400, {"error": str(exc)})
            with faults.lock:
                faults.burst = burst
            return self._send(200, {"fault_burst": burst})

    return Handler


def build_server(
    host: str,
    port: int,
    store_path: Path,
    *,
    rate: float | None = None,
    fault_rate: float | None = None,
    fault_burst: int | None = None,
) -> ThreadingHTTPServer:
    """A ready server (call serve_forever); settings default to the HUB_VIDEO_* environment."""
    rate = rate if rate is not None else float(os.environ.get("HUB_VIDEO_RATE", DEFAULT_RATE))
    fault_rate = fault_rate if fault_rate is not None else float(os.environ.get("HUB_VIDEO_FAULT_RATE", "0.02"))
    fault_burst = fault_burst if fault_burst is not None else int(os.environ.get("HUB_VIDEO_FAULT_BURST", "0"))
    handler = make_handler(Store(store_path), TokenBucket(rate), Faults(fault_rate, fault_burst))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the synthetic video platform API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()
    server = build_server(args.host, args.port, args.store)
    print(f"video platform on http://{args.host}:{args.port} serving {args.store}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
