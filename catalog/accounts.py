"""Accounts, API tokens and web sessions: who is asking, for the CLI and the catalogue service.

A token is `hub_` + 43 URL-safe characters (32 random bytes); the catalogue keeps only its SHA-256,
so a copy of the database opens nothing. `authenticate(session, token)` is the one way to learn an
identity from a token; `current_identity(session)` does it for the CLI (HUB_TOKEN, else the token
file). Every account belongs to a department and has one role (ROLES).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.db import session_scope
from catalog.errors import CatalogError
from catalog.grants import record_query, resolve_department
from catalog.identity import ADMIN, LEADERSHIP, ROLES, Identity, set_acting_identity
from catalog.models import Account, ApiToken, WebSession
from hub import clock
from hub.settings import get_settings

TOKEN_PREFIX = "hub_"
USER_NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
SESSION_HOURS = 8
# The identity the service gives the HUB_API_TOKEN (automation: catalogue loads, CI).
SERVICE_USER = "api-token"


class AuthError(CatalogError):
    """No identity, a wrong or revoked token, or an action the identity may not take; says what to do."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status  # 401: who are you?  403: you may not


def _now() -> datetime:
    return clock.now()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


# --- accounts --------------------------------------------------------------------------------------


def add_account(
    session: Session, user: str, *, department: str, role: str, created_by: str, now: datetime | None = None
) -> Account:
    """A new account; the user name is unique, the department must be in the catalogue."""
    if not USER_NAME_RE.match(user):
        raise AuthError(f"user name {user!r} must match {USER_NAME_RE.pattern} (e.g. wang.li)", status=422)
    if role not in ROLES:
        raise AuthError(f"role {role!r} must be one of {', '.join(ROLES)}", status=422)
    if session.scalar(select(Account).where(Account.user_name == user)) is not None:
        raise AuthError(f"account {user!r} exists: issue it a new token with `hub account token {user}`", status=409)
    holder = resolve_department(session, department)
    if holder is None:
        raise AuthError(
            f"unknown department {department!r}: use an id or a name as `hub coverage --json` lists it", status=422
        )
    account = Account(
        user_name=user, department_id=holder.id, role=role, created_at=now or _now(), created_by=created_by
    )
    session.add(account)
    session.flush()
    return account


def find_account(session: Session, user: str) -> Account:
    account = session.scalar(select(Account).where(Account.user_name == user))
    if account is None:
        raise AuthError(f"no account {user!r}: `hub account list` shows them", status=404)
    return account


def issue_token(session: Session, account: Account, *, now: datetime | None = None) -> str:
    """A new token for the account (returned once, stored hashed); the account's older tokens stop working."""
    if account.disabled_at is not None:
        raise AuthError(f"account {account.user_name!r} is disabled: ask an admin to add a new one", status=409)
    now = now or _now()
    for old in session.scalars(
        select(ApiToken).where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
    ):
        old.revoked_at = now
    token = new_token()
    session.add(ApiToken(account_id=account.id, token_hash=token_hash(token), hint=token[:10], issued_at=now))
    session.flush()
    return token


def disable_account(session: Session, account: Account, *, now: datetime | None = None) -> Account:
    """Disable the account: its tokens and web sessions stop working at once."""
    now = now or _now()
    if account.disabled_at is None:
        account.disabled_at = now
    for token in session.scalars(
        select(ApiToken).where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
    for web in session.scalars(
        select(WebSession).where(WebSession.account_id == account.id, WebSession.ended_at.is_(None))
    ):
        web.ended_at = now
    return account


def list_accounts(session: Session, department: str | None = None) -> list[Account]:
    statement = select(Account).order_by(Account.user_name)
    if department is not None:
        statement = statement.where(Account.department_id == department)
    return list(session.scalars(statement))


def active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Account).where(Account.role == ADMIN, Account.disabled_at.is_(None))
        )
        or 0
    )


def identity_of(account: Account) -> Identity:
    return Identity(account.user_name, account.department_id, account.role)


# --- authentication --------------------------------------------------------------------------------


def authenticate(session: Session, token: str) -> Identity:
    """The identity a token stands for; AuthError (401) for an unknown, revoked or disabled one."""
    token = (token or "").strip()
    if not token.startswith(TOKEN_PREFIX):
        raise AuthError("not a hub token: tokens start with 'hub_'; `hub account token USER` issues one")
    row = session.execute(
        select(ApiToken, Account)
        .join(Account, ApiToken.account_id == Account.id)
        .where(ApiToken.token_hash == token_hash(token))
    ).first()
    if row is None or row.ApiToken.revoked_at is not None:
        raise AuthError("unknown or replaced token: ask an admin for a new one (`hub account token USER`)")
    if row.Account.disabled_at is not None:
        raise AuthError(f"account {row.Account.user_name!r} is disabled")
    return identity_of(row.Account)


def cli_token() -> str:
    """The CLI's token: HUB_TOKEN, else the token file (which must be private to its owner)."""
    settings = get_settings()
    if settings.token is not None and settings.token.get_secret_value().strip():
        return settings.token.get_secret_value().strip()
    path = Path(settings.token_file)
    if not path.is_file():
        raise AuthError(
            f"no identity: set HUB_TOKEN or put your token in {path} (mode 600); "
            "an admin issues one with `hub account token USER`"
        )
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthError(
            f"{path} can be read by others: `chmod 600 {path}`, then ask for a new token "
            "(`hub account token USER`) since this one may have been read"
        )
    return path.read_text(encoding="utf-8").strip()


def current_identity(session: Session) -> Identity:
    """The identity of whoever runs this CLI process (HUB_TOKEN or the token file)."""
    return authenticate(session, cli_token())


def save_token_file(token: str, path: Path | None = None) -> Path:
    """Write the token where the CLI reads it, readable by its owner only."""
    path = Path(path or get_settings().token_file)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(path.name + ".tmp")
    temp.unlink(missing_ok=True)
    with open(temp, "x", encoding="utf-8", opener=lambda name, flags: os.open(name, flags, 0o600)) as handle:
        handle.write(token + "\n")
    temp.replace(path)
    return path


# --- web sessions ----------------------------------------------------------------------------------


def open_session(session: Session, identity: Identity, *, now: datetime | None = None) -> str:
    """A new browser session for the account; returns the cookie value (stored hashed)."""
    account = find_account(session, identity.user)
    now = now or _now()
    cookie = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            account_id=account.id,
            session_hash=token_hash(cookie),
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    session.flush()
    return cookie


def session_identity(session: Session, cookie: str, *, now: datetime | None = None) -> Identity:
    """The identity of a live browser session; AuthError (401) when it is unknown, ended or expired."""
    now = now or _now()
    row = session.execute(
        select(WebSession, Account)
        .join(Account, WebSession.account_id == Account.id)
        .where(WebSession.session_hash == token_hash(cookie or ""))
    ).first()
    if row is None or row.WebSession.ended_at is not None or row.WebSession.expires_at <= now:
        raise AuthError("not signed in, or the session ended: sign in at /login")
    if row.Account.disabled_at is not None:
        raise AuthError(f"account {row.Account.user_name!r} is disabled")
    return identity_of(row.Account)


def end_session(session: Session, cookie: str, *, now: datetime | None = None) -> None:
    web = session.scalar(select(WebSession).where(WebSession.session_hash == token_hash(cookie or "")))
    if web is not None and web.ended_at is None:
        web.ended_at = now or _now()


# --- hub sql ---------------------------------------------------------------------------------------


def sql_role(requested: str | None, statement: str, *, channel: str = "cli") -> str:
    """The role the caller's `hub sql` runs as, from their identity; from here on audit rows name them.

    `requested` (--as) is for platform admins only; anyone else asking for another role is refused,
    and the refusal is audited under their own role.
    """
    with session_scope() as session:
        who = current_identity(session)
        own = who.sql_role
        wanted = own if requested is None else _role_named(session, requested)
        set_acting_identity(who)
        refusal = None
        if wanted is not None and wanted != own and not who.is_admin:
            refusal = (
                f"--as {wanted} refused: only platform admins query as another department ({who.user} is {who.role})"
            )
            record_query(
                session,
                role=own,
                sql_text=statement,
                allowed=False,
                reason=refusal,
                rows=None,
                truncated=False,
                duration_ms=None,
                channel=channel,
            )
    if wanted is None:
        raise AuthError(f"--as {requested!r}: not admin, leadership or a department of the catalogue", status=422)
    if refusal is not None:  # raised after the commit, so that the refused attempt stays in the audit
        raise AuthError(refusal + "; drop --as to query as your own department", status=403)
    return wanted


def _role_named(session: Session, name: str) -> str | None:
    if name.strip().lower() in (ADMIN, LEADERSHIP):
        return name.strip().lower()
    department = resolve_department(session, name)
    return department.id if department else None
