"""Real receivers for what the hub sends out: an SMTP server (aiosmtpd) and an HTTP endpoint that keeps
every POST, both on free loopback ports, for the alert and report-delivery tests."""

from __future__ import annotations

import email
import json
import socket
import threading
import time
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """aiosmtpd handler: every accepted mail, parsed, with the envelope's recipients."""

    def __init__(self):
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.mails.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[list[str], EmailMessage]]:
        deadline = time.monotonic() + timeout
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.mails


@pytest.fixture
def smtp_server(monkeypatch):
    """A running SMTP server; HUB_SMTP_HOST/PORT point at it. Yields its Inbox."""
    from hub import settings as hub_settings

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("HUB_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HUB_SMTP_PORT", str(port))
    monkeypatch.setenv("HUB_SMTP_FROM", "hub@shunde.example")
    hub_settings.reset_settings()
    yield inbox
    controller.stop()
    hub_settings.reset_settings()


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's hook name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def webhook(monkeypatch):
    """A running HTTP receiver; HUB_ALERT_WEBHOOK points at it. Yields the server (.posts, .status)."""
    from hub import settings as hub_settings

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    server.posts, server.status = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HUB_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hooks/hub")
    hub_settings.reset_settings()
    yield server
    server.shutdown()
    hub_settings.reset_settings()
