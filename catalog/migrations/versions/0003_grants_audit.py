"""Grants of 有条件共享 resources to departments, and the audit trail of analyst queries.

Revision ID: 0003_grants_audit
Revises: 0002_coverage_target_settings
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_grants_audit"
down_revision = "0002_coverage_target_settings"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("department_id", sa.String(32), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("resource_id", sa.String(64), sa.ForeignKey("resources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=False),
        sa.Column("include_pii", sa.Boolean(), nullable=False),
        sa.Column("valid_until", TZ, nullable=False),
        sa.Column("granted_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
    )
    op.create_index(None, "grants", ["department_id", "resource_id"])
    op.create_table(
        "query_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("asked_at", TZ, nullable=False),
        sa.Column("sql_text", sa.Text(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
    )
    op.create_index(None, "query_audit", ["role", "asked_at"])


def downgrade() -> None:
    op.drop_table("query_audit")
    op.drop_table("grants")
