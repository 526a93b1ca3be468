"""Accounts and approvals through the real `hub` commands on a real catalogue database: tokens stored
hashed and shown once, `hub sql` as the token's department (--as for admins only, audited), grant
requests decided by the owner's steward with PII as a separate decision, every step a grant event."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from catalog import accounts
from catalog.accounts_cli import register
from catalog.db import session_scope
from catalog.grants import rights_inputs
from catalog.models import ApiToken, Grant, GrantEvent, QueryAudit
from hub import settings as hub_settings
from warehouse.access import cli as access_cli

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("sql")(access_cli.sql)
    return app


@pytest.fixture
def hub(hub_env, monkeypatch, small_catalogue, t0, kafka_bootstrap):
    """The small catalogue (gaj owns the 有条件共享 hjrk_jbxx), an empty warehouse, no token file; the
    broker takes the `share_request.changed` event of every grant step."""
    from catalog.store import load_catalogue_into

    monkeypatch.setenv("HUB_TOKEN_FILE", str(hub_env / "no-token"))
    monkeypatch.delenv("HUB_TOKEN", raising=False)
    hub_settings.reset_settings()
    with session_scope() as session:
        load_catalogue_into(session, small_catalogue, now=t0 - timedelta(days=60))
    connection = duckdb.connect(str(hub_settings.get_settings().warehouse_path))
    for schema in ("staging", "mart", "meta", "raw"):
        connection.execute(f"CREATE SCHEMA {schema}")
    connection.close()
    return hub_env


def invoke(monkeypatch, token: str | None, *args: str):
    if token is None:
        monkeypatch.delenv("HUB_TOKEN", raising=False)
    else:
        monkeypatch.setenv("HUB_TOKEN", token)
    hub_settings.reset_settings()
    return runner.invoke(_app(), list(args))


def add(monkeypatch, by: str | None, user: str, department: str, role: str) -> str:
    result = invoke(monkeypatch, by, "account", "add", user, "--department", department, "--role", role)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.fixture
def people(hub, monkeypatch) -> dict[str, str]:
    """user → token: an admin (bootstrap), a gaj steward, a scjgj analyst and steward, a dljd steward."""
    admin = add(monkeypatch, None, "root", "gaj", "admin")
    tokens = {"root": admin}
    for user, department, role in (
        ("wang", "gaj", "steward"),
        ("li", "scjgj", "analyst"),
        ("zhao", "scjgj", "steward"),
        ("chen", "dljd", "steward"),
    ):
        tokens[user] = add(monkeypatch, admin, user, department, role)
    return tokens


# --- identities ------------------------------------------------------------------------------------


def test_tokens_are_shown_once_and_stored_only_as_hashes(people):
    assert all(token.startswith("hub_") and len(token) >= 40 for token in people.values())
    with session_scope() as session:
        stored = list(session.scalars(select(ApiToken)))
        assert {row.token_hash for row in stored} == {accounts.token_hash(t) for t in people.values()}
        assert not any(token in (row.token_hash, row.hint) for row in stored for token in people.values())
        assert accounts.authenticate(session, people["li"]).department == "scjgj"


def test_only_the_first_admin_needs_no_identity(people, monkeypatch):
    refused = invoke(monkeypatch, None, "account", "add", "mallory", "--department", "gaj", "--role", "admin")
    assert refused.exit_code == 1 and "no identity" in refused.output
    by_analyst = invoke(monkeypatch, people["li"], "account", "add", "x1", "--department", "gaj", "--role", "admin")
    assert by_analyst.exit_code == 1 and "only an admin" in by_analyst.output


def test_a_new_token_replaces_the_old_and_disabling_stops_every_token(people, monkeypatch):
    rotated = invoke(monkeypatch, people["li"], "account", "token", "li")
    assert rotated.exit_code == 0
    assert invoke(monkeypatch, people["li"], "account", "whoami").exit_code == 1  # the old one is dead
    assert "li (analyst of scjgj)" in invoke(monkeypatch, rotated.stdout.strip(), "account", "whoami").stdout
    assert invoke(monkeypatch, people["li"], "account", "token", "wang").exit_code == 1  # not for others
    assert invoke(monkeypatch, people["root"], "account", "disable", "wang").exit_code == 0
    assert invoke(monkeypatch, people["wang"], "account", "whoami").exit_code == 1
    last = invoke(monkeypatch, people["root"], "account", "disable", "root")
    assert last.exit_code == 1 and "last active admin" in last.output


def test_the_token_file_must_be_private(people, monkeypatch, hub):
    token_file = hub / "token"
    token_file.write_text(people["li"] + "\n")
    token_file.chmod(0o644)
    monkeypatch.setenv("HUB_TOKEN_FILE", str(token_file))
    shared = invoke(monkeypatch, None, "account", "whoami")
    assert shared.exit_code == 1 and "chmod 600" in shared.output
    token_file.chmod(0o600)
    assert "li (analyst" in invoke(monkeypatch, None, "account", "whoami").stdout


def test_sql_runs_as_the_token_department_and_as_is_for_admins_only(people, monkeypatch):
    assert invoke(monkeypatch, None, "sql", "-c", "SELECT 1 AS a").exit_code == 1  # no identity, no query
    own = invoke(monkeypatch, people["li"], "sql", "-c", "SELECT 1 AS a", "--format", "json")
    assert own.exit_code == 0, own.output
    posing = invoke(monkeypatch, people["li"], "sql", "--as", "gaj", "-c", "SELECT 1 AS a")
    assert posing.exit_code == 1 and "only platform admins" in posing.output
    admin_as = invoke(monkeypatch, people["root"], "sql", "--as", "gaj", "-c", "SELECT 2 AS b", "--format", "json")
    assert admin_as.exit_code == 0, admin_as.output
    with session_scope() as session:
        trail = [
            (a.role, a.user_name, a.user_role, a.allowed)
            for a in session.scalars(select(QueryAudit).order_by(QueryAudit.id))
        ]
    assert trail == [
        ("scjgj", "li", "analyst", True),
        ("scjgj", "li", "analyst", False),
        ("gaj", "root", "admin", True),
    ]


# --- approvals -------------------------------------------------------------------------------------


def _request(monkeypatch, token: str, *extra: str):
    return invoke(
        monkeypatch,
        token,
        "grant",
        "request",
        "--resource",
        "hjrk_jbxx",
        "--purpose",
        "市场主体核查",
        "--valid-until",
        "2099-12-31",
        *extra,
    )


def _grants() -> list[Grant]:
    with session_scope() as session:
        return rights_inputs(session).grants


def test_a_request_gives_nothing_until_the_owner_steward_approves(people, monkeypatch):
    asked = _request(monkeypatch, people["li"])
    assert asked.exit_code == 0 and "request #1" in asked.stdout
    assert _grants() == []
    for who in ("li", "zhao", "chen", "root"):  # requester, its steward, another steward, the admin
        refused = invoke(monkeypatch, people[who], "grant", "approve", "1")
        assert refused.exit_code == 1 and "decided by a steward of gaj" in refused.output, who
    approved = invoke(monkeypatch, people["wang"], "grant", "approve", "1", "--reason", "同意")
    assert approved.exit_code == 0 and "without PII" in approved.stdout
    assert [(g.department_id, g.resource_id, g.include_pii, g.approved_by) for g in _grants()] == [
        ("scjgj", "hjrk_jbxx", False, "wang")
    ]
    again = invoke(monkeypatch, people["wang"], "grant", "approve", "1")
    assert again.exit_code == 1 and "already approved" in again.output


def test_pii_is_a_separate_explicit_decision(people, monkeypatch):
    assert _request(monkeypatch, people["li"], "--pii").exit_code == 0
    implicit = invoke(monkeypatch, people["wang"], "grant", "approve", "1")
    assert implicit.exit_code == 1 and "--pii or --no-pii" in implicit.output
    assert invoke(monkeypatch, people["wang"], "grant", "approve", "1", "--no-pii").exit_code == 0
    assert [g.include_pii for g in _grants()] == [False]
    assert _request(monkeypatch, people["li"]).exit_code == 0  # #2 without PII cannot be approved with it
    assert invoke(monkeypatch, people["wang"], "grant", "approve", "2", "--pii").exit_code == 1
    listed = json.loads(invoke(monkeypatch, people["li"], "grant", "list", "--json").stdout)
    assert [(r["id"], r["status"], r["pii"], r["pii_decision"]) for r in listed] == [
        (1, "approved", True, "denied"),
        (2, "pending", False, None),
    ]


def test_denial_needs_a_reason_and_past_end_dates_are_refused(people, monkeypatch):
    past = invoke(
        monkeypatch,
        people["li"],
        "grant",
        "request",
        "--resource",
        "hjrk_jbxx",
        "--purpose",
        "核查",
        "--valid-until",
        "2020-01-01",
    )
    assert past.exit_code == 1 and "has passed" in past.output
    shortcut = invoke(
        monkeypatch,
        people["wang"],
        "grant",
        "add",
        "--department",
        "scjgj",
        "--resource",
        "hjrk_jbxx",
        "--purpose",
        "核查",
        "--valid-until",
        "2001-01-01",
    )
    assert shortcut.exit_code == 1 and "has passed" in shortcut.output
    assert _request(monkeypatch, people["li"]).exit_code == 0
    assert invoke(monkeypatch, people["wang"], "grant", "deny", "1", "--reason", " ").exit_code == 1
    assert invoke(monkeypatch, people["wang"], "grant", "deny", "1", "--reason", "用途不明").exit_code == 0
    assert _grants() == []
    other = invoke(
        monkeypatch,
        people["li"],
        "grant",
        "request",
        "--resource",
        "ldrk_jbxx",
        "--purpose",
        "x",
        "--valid-until",
        "2099-01-01",
    )
    # 无条件共享 is readable by every department: the request is answered at once, no grant is needed.
    assert other.exit_code == 0 and "reads ldrk_jbxx now" in other.output and "无条件共享" in other.output
    assert _grants() == []


def test_every_step_is_a_grant_event(people, monkeypatch):
    assert _request(monkeypatch, people["li"], "--pii").exit_code == 0
    assert invoke(monkeypatch, people["wang"], "grant", "approve", "1", "--pii").exit_code == 0
    assert [g.include_pii for g in _grants()] == [True]
    assert invoke(monkeypatch, people["chen"], "grant", "revoke", "1").exit_code == 1  # not the owner
    assert invoke(monkeypatch, people["wang"], "grant", "revoke", "1", "--reason", "项目结束").exit_code == 0
    assert (
        invoke(
            monkeypatch,
            people["wang"],
            "grant",
            "add",
            "--department",
            "dljd",
            "--resource",
            "hjrk_jbxx",
            "--purpose",
            "网格核查",
            "--valid-until",
            "2099-06-30",
        ).exit_code
        == 0
    )
    with session_scope() as session:
        steps = [
            (e.request_id, e.action, e.actor, e.actor_role)
            for e in session.scalars(select(GrantEvent).order_by(GrantEvent.id))
        ]
    assert steps == [
        (1, "requested", "li", "analyst"),
        (1, "approved", "wang", "steward"),
        (1, "pii_approved", "wang", "steward"),
        (1, "revoked", "wang", "steward"),
        (2, "requested", "wang", "steward"),
        (2, "approved", "wang", "steward"),
    ]
    history = json.loads(invoke(monkeypatch, people["li"], "grant", "history", "1", "--json").stdout)
    assert [step["action"] for step in history] == ["requested", "approved", "pii_approved", "revoked"]
    assert invoke(monkeypatch, people["chen"], "grant", "history", "1").exit_code == 1  # not chen's business
    now = datetime.now(timezone.utc)
    assert [(g.department_id, g.revoked_at is None and g.valid_until > now) for g in _grants()] == [
        ("scjgj", False),
        ("dljd", True),
    ]


def test_grants_from_before_requests_are_listed_to_whom_they_concern(people, monkeypatch):
    from catalog.grants import add_grant

    with session_scope() as session:
        add_grant(
            session,
            department="scjgj",
            resource="hjrk_jbxx",
            purpose="旧审批",
            approved_by="王科长",
            valid_until=datetime.now(timezone.utc) + timedelta(days=30),
        )
    for who, seen in (("wang", 1), ("li", 1), ("root", 1), ("chen", 0)):
        listed = json.loads(invoke(monkeypatch, people[who], "grant", "list", "--json").stdout)
        assert [(r["id"], r["decided_by"], r["state"]) for r in listed] == [(None, "王科长", "active")] * seen, who
