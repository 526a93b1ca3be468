"""Helpers to drive the real `hub` commands as accounts of the small catalogue (the `hub` and `people`
fixtures in conftest.py): shared by the objection and share-request tests."""

from __future__ import annotations

import uuid
from datetime import timedelta

import typer
from typer.testing import CliRunner

from catalog.accounts_cli import register
from catalog.db import session_scope
from catalog.events import consume
from catalog.objections_cli import app as objection_app
from catalog.store import load_catalogue_into
from hub import settings as hub_settings
from hub.topics import events_topic

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)  # hub account …, hub grant …
    app.add_typer(objection_app, name="objection")
    return app


def invoke(monkeypatch, token: str, *args: str):
    """Run `hub ARGS…` as the token's account."""
    monkeypatch.setenv("HUB_TOKEN", token)
    hub_settings.reset_settings()
    return runner.invoke(_app(), list(args))


def add_account(monkeypatch, by, user, department, role) -> str:
    if by is None:
        monkeypatch.delenv("HUB_TOKEN", raising=False)
        hub_settings.reset_settings()
        result = runner.invoke(_app(), ["account", "add", user, "--department", department, "--role", role])
    else:
        result = invoke(monkeypatch, by, "account", "add", user, "--department", department, "--role", role)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def replay_into_empty_catalogue(url: str, catalogue, t0) -> None:
    """Load `catalogue` into the empty database at `url`, then apply hub.events from its beginning."""
    with session_scope(url) as session:
        load_catalogue_into(session, catalogue, now=t0 - timedelta(days=60))
    consume(url=url, topic=events_topic(), group_id=f"replay-{uuid.uuid4().hex[:8]}", from_beginning=True)
