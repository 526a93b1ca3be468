"""`hub account add|token|list|disable|whoami` and `hub grant request|approve|deny|revoke|add|list|history`.

Every grant step is a `share_request.changed` event, published to hub.events before it commits.

Every command but the first admin's creation runs as the caller's identity: HUB_TOKEN, else the
token file (~/.config/hub/token, HUB_TOKEN_FILE). Mounted by pipeline/cli.py with `register(app)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from catalog import accounts, approvals
from catalog.db import session_scope
from catalog.grants import GrantError
from catalog.identity import ADMIN, ROLES, STEWARD, Identity
from catalog.models import Grant
from hub import clock
from hub.errors import HubError
from hub.settings import get_settings

account_app = typer.Typer(
    help="Accounts: who may use the hub, for which department, in which role.", no_args_is_help=True
)
grant_app = typer.Typer(
    help="Grants of 有条件共享 resources: requested by a department, approved by the owner's steward.",
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True)
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")
    app.add_typer(grant_app, name="grant")


@contextmanager
def _as_caller() -> Iterator[tuple[Session, Identity]]:
    """A session and the caller's identity; any refusal is printed with its fix and exits 1."""
    try:
        with session_scope() as session:
            yield session, accounts.current_identity(session)
            # The steps taken go to hub.events before they commit: if Kafka does not take them,
            # nothing is kept, so the topic stays the whole history of the share requests.
            approvals.publish_recorded(session)
    except (GrantError, accounts.AuthError, HubError) as error:  # ApprovalError is a GrantError
        _fail(str(error))


def _fail(message: str) -> None:
    err.print(f"[red]refused:[/] {escape(message)}")
    raise typer.Exit(1)


def _require(who: Identity, allowed: bool, message: str) -> None:
    if not allowed:
        raise accounts.AuthError(f"{message} (you are {who.user}, {who.role} of {who.department})", status=403)


# --- accounts --------------------------------------------------------------------------------------


@account_app.command("add")
def account_add(
    user: str = typer.Argument(..., help="user name, e.g. wang.li"),
    department: str = typer.Option(..., help="the department the person works for (id or name)"),
    role: str = typer.Option(..., help=" | ".join(ROLES)),
    save: bool = typer.Option(False, "--save", help="write the token to the token file instead of printing it"),
) -> None:
    """Add an account and issue its first token (printed once). The first admin needs no identity."""
    try:
        with session_scope() as session:
            if accounts.active_admins(session) == 0 and role == ADMIN:
                creator = "bootstrap"  # nobody can authenticate yet: the first admin starts the chain
            else:
                who = accounts.current_identity(session)
                _require(who, who.is_admin, "only an admin adds accounts")
                creator = who.user
            account = accounts.add_account(session, user, department=department, role=role, created_by=creator)
            token = accounts.issue_token(session, account)
    except accounts.AuthError as error:
        _fail(str(error))
    err.print(f"account {escape(user)}: {role} of {account.department_id}")
    _hand_over(token, save)


@account_app.command("token")
def account_token(
    user: str = typer.Argument(..., help="whose token (yours, or anyone's if you are an admin)"),
    save: bool = typer.Option(False, "--save", help="write the token to the token file instead of printing it"),
) -> None:
    """Issue a new token (printed once); the account's previous token stops working."""
    with _as_caller() as (session, who):
        _require(who, who.is_admin or who.user == user, "only an admin issues tokens for others")
        token = accounts.issue_token(session, accounts.find_account(session, user))
    _hand_over(token, save)


def _hand_over(token: str, save: bool) -> None:
    if save:
        err.print(f"token saved to {accounts.save_token_file(token)} (mode 600)")
        return
    err.print("the token is shown once; keep it in HUB_TOKEN or the token file (mode 600):")
    typer.echo(token)


@account_app.command("list")
def account_list(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Accounts: all for an admin, the department's for a steward, your own otherwise."""
    with _as_caller() as (session, who):
        department = None if who.is_admin else who.department
        rows = [
            {
                "user": a.user_name,
                "department": a.department_id,
                "role": a.role,
                "created_at": a.created_at.isoformat(),
                "created_by": a.created_by,
                "state": "disabled" if a.disabled_at else "active",
            }
            for a in accounts.list_accounts(session, department)
            if who.is_admin or who.role == STEWARD or a.user_name == who.user
        ]
    _print_rows(rows, as_json)


@account_app.command("disable")
def account_disable(user: str = typer.Argument(..., help="the account to disable")) -> None:
    """Disable an account: its token and browser sessions stop working at once."""
    with _as_caller() as (session, who):
        _require(who, who.is_admin, "only an admin disables accounts")
        account = accounts.find_account(session, user)
        if account.role == ADMIN and account.disabled_at is None and accounts.active_admins(session) == 1:
            raise accounts.AuthError(f"{user} is the last active admin: add another admin first", status=409)
        accounts.disable_account(session, account)
    err.print(f"account {escape(user)} disabled")


@account_app.command("whoami")
def account_whoami() -> None:
    """The identity this CLI runs as."""
    with _as_caller() as (_session, who):
        typer.echo(f"{who.user} ({who.role} of {who.department})")


# --- grants ----------------------------------------------------------------------------------------


def _valid_until(text: str) -> datetime:
    """A date (valid through that day, Shunde time) or an ISO datetime (naive = Shunde time)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, LOCAL_TZ)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (2026-12-31) or ISO datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


@grant_app.command("request")
def grant_request(
    resource: str = typer.Option(..., help="the resource (id or code); 无条件共享 is granted at once"),
    purpose: str = typer.Option(..., help="what the data is used for"),
    valid_until: str = typer.Option(..., help="last day (2026-12-31) or ISO datetime"),
    pii: bool = typer.Option(False, "--pii/--no-pii", help="ask to read PII in clear (approved separately)"),
    department: str | None = typer.Option(None, help="for another department (admins only); default yours"),
) -> None:
    """Ask the owner's steward for read access on behalf of your department."""
    with _as_caller() as (session, who):
        request = approvals.request_grant(
            session,
            who,
            resource=resource,
            purpose=purpose,
            pii=pii,
            valid_until=_valid_until(valid_until),
            department=department,
        )
        answer = (request.id, request.status, request.decision_reason, request.department_id, request.resource_id)
    request_id, status, reason, holder, target = answer
    if status == approvals.DENIED:  # 不予共享: the refusal is recorded (committed above), the caller told
        _fail(f"request #{request_id} refused: {reason}")
    if status == approvals.APPROVED:
        typer.echo(f"request #{request_id}: {holder} reads {target} now ({reason})")
        return
    typer.echo(
        f"request #{request_id}: {holder} asks to read {target}{' with PII' if pii else ''}; a steward of its "
        f"owner answers within {get_settings().share_answer_workdays} working days (`hub grant approve {request_id}`)"
    )


@grant_app.command("approve")
def grant_approve(
    request_id: int = typer.Argument(..., help="the request id `hub grant list` shows"),
    pii: bool | None = typer.Option(None, "--pii/--no-pii", help="required when PII was asked for: allow it or not"),
    reason: str | None = typer.Option(None, help="a note kept with the decision"),
) -> None:
    """Approve a request of your department's resource (stewards of the owner only)."""
    with _as_caller() as (session, who):
        grant = approvals.approve(session, who, request_id, pii=pii, reason=reason)
        typer.echo(
            f"grant #{grant.id}: {grant.department_id} reads {grant.resource_id} "
            f"{'with' if grant.include_pii else 'without'} PII until {grant.valid_until.isoformat()}"
        )


@grant_app.command("deny")
def grant_deny(
    request_id: int = typer.Argument(..., help="the request id `hub grant list` shows"),
    reason: str = typer.Option(..., help="why, for the requester"),
) -> None:
    """Deny a request of your department's resource, with the reason (stewards of the owner only)."""
    with _as_caller() as (session, who):
        approvals.deny(session, who, request_id, reason=reason)
        typer.echo(f"request #{request_id} denied")


@grant_app.command("add")
def grant_add(
    department: str = typer.Option(..., help="the department granted access (id or name as coverage lists it)"),
    resource: str = typer.Option(..., help="the resource (id or code); 无条件共享 is granted at once"),
    purpose: str = typer.Option(..., help="what the data is used for"),
    valid_until: str = typer.Option(..., help="last day (2026-12-31) or ISO datetime"),
    pii: bool = typer.Option(False, "--pii/--no-pii", help="whether PII columns are shown in clear"),
) -> None:
    """Owner's shortcut: request and approve in one step, both recorded (a steward of the owning department)."""
    with _as_caller() as (session, who):
        _require(who, who.role == STEWARD, "only a steward of the owning department grants directly")
        request = approvals.request_grant(
            session,
            who,
            resource=resource,
            purpose=purpose,
            pii=pii,
            valid_until=_valid_until(valid_until),
            department=department,
        )
        grant = approvals.approve(session, who, request.id, pii=pii if pii else None)
        typer.echo(
            f"grant #{grant.id}: {grant.department_id} reads {grant.resource_id} "
            f"{'with' if pii else 'without'} PII until {grant.valid_until.isoformat()}"
        )


@grant_app.command("revoke")
def grant_revoke(
    grant_id: int = typer.Argument(..., help="the grant id `hub grant list` shows"),
    reason: str | None = typer.Option(None, help="why (kept in the history)"),
) -> None:
    """Revoke a grant (owner's steward or admin); it stays listed, marked revoked."""
    with _as_caller() as (session, who):
        grant = approvals.revoke(session, who, grant_id, reason=reason)
        typer.echo(f"grant #{grant.id} revoked at {grant.revoked_at.isoformat()}")


@grant_app.command("list")
def grant_list(
    status: str | None = typer.Option(None, help="pending | approved | denied"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Requests and their grants: all for an admin, those of or about your department otherwise."""
    now = clock.now()
    with _as_caller() as (session, who):
        rows = [
            _request_row(session, request, now) for request in approvals.visible_requests(session, who, status=status)
        ]
        if status in (None, approvals.APPROVED):
            rows += [_direct_row(grant, now) for grant in approvals.visible_direct_grants(session, who)]
    _print_rows(rows, as_json)


def _state(grant, now: datetime) -> str:
    return "revoked" if grant.revoked_at else ("expired" if grant.valid_until <= now else "active")


def _direct_row(grant, now: datetime) -> dict:
    """A grant recorded before requests existed: no request id, its approver as recorded then."""
    return {
        "id": None,
        "department": grant.department_id,
        "resource": grant.resource_id,
        "purpose": grant.purpose,
        "pii": grant.include_pii,
        "pii_decision": None,
        "valid_until": grant.valid_until.isoformat(),
        "requested_by": None,
        "status": approvals.APPROVED,
        "decided_by": grant.approved_by,
        "reason": None,
        "grant": grant.id,
        "pii_granted": grant.include_pii,
        "state": _state(grant, now),
    }


def _request_row(session: Session, request, now: datetime) -> dict:
    grant = session.get(Grant, request.grant_id) if request.grant_id else None
    state = _state(grant, now) if grant is not None else request.status
    return {
        "id": request.id,
        "department": request.department_id,
        "resource": request.resource_id,
        "purpose": request.purpose,
        "pii": request.pii_requested,
        "pii_decision": request.pii_decision,
        "valid_until": request.valid_until.isoformat(),
        "requested_by": request.requested_by,
        "status": request.status,
        "decided_by": request.decided_by,
        "reason": request.decision_reason,
        "grant": request.grant_id,
        "pii_granted": bool(grant and grant.include_pii),
        "state": state,
    }


@grant_app.command("history")
def grant_history(
    request_id: int = typer.Argument(..., help="the request id"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Every step of one request: who did what, when, and why."""
    with _as_caller() as (session, who):
        if not any(r.id == request_id for r in approvals.visible_requests(session, who)):
            raise approvals.ApprovalError(f"no request #{request_id} you may see", status=404)
        rows = [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "actor": e.actor,
                "role": e.actor_role,
                "department": e.actor_department,
                "grant": e.grant_id,
                "detail": e.detail,
            }
            for e in approvals.events_of(session, request_id)
        ]
    _print_rows(rows, as_json)


def _print_rows(rows: list[dict], as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not rows:
        typer.echo("(none)")
        return
    shown = Table(*rows[0].keys())
    for row in rows:
        shown.add_row(*(escape("" if v is None else str(v)) for v in row.values()))
    Console().print(shown)
