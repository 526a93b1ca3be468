"""Accounts with hashed API tokens and web sessions; grant requests, their decisions and events;
the account behind each audited query.

Revision ID: 0005_accounts_approvals
Revises: 0004_quality_run_details
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_accounts_approvals"
down_revision = "0004_quality_run_details"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(64), nullable=False, unique=True),
        sa.Column("department_id", sa.String(32), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("disabled_at", TZ, nullable=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
    )
    op.create_index(None, "api_tokens", ["account_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
    )
    op.create_index(None, "web_sessions", ["account_id"])
    op.create_table(
        "grant_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("department_id", sa.String(32), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("resource_id", sa.String(64), sa.ForeignKey("resources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("pii_requested", sa.Boolean(), nullable=False),
        sa.Column("valid_until", TZ, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("pii_decision", sa.String(16), nullable=True),
        sa.Column("grant_id", sa.Integer(), sa.ForeignKey("grants.id"), nullable=True),
    )
    op.create_index(None, "grant_requests", ["resource_id", "status"])
    op.create_table(
        "grant_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("grant_requests.id", ondelete="CASCADE"), nullable=True),
        sa.Column("grant_id", sa.Integer(), sa.ForeignKey("grants.id", ondelete="CASCADE"), nullable=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("actor_department", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_index(None, "grant_events", ["request_id", "at"])
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("query_audit") as batch:
        batch.add_column(sa.Column("user_name", sa.String(64), nullable=True))
        batch.add_column(sa.Column("user_role", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("query_audit") as batch:
        batch.drop_column("user_role")
        batch.drop_column("user_name")
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("request_id")
    for table in ("grant_events", "grant_requests", "web_sessions", "api_tokens", "accounts"):
        op.drop_table(table)
