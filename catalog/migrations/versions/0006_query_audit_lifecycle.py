"""The query audit row is written before a query runs and completed after: status, who, grants used.

Revision ID: 0006_query_audit_lifecycle
Revises: 0005_accounts_approvals
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_query_audit_lifecycle"
down_revision = "0005_accounts_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("query_audit") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="started"))
        # 0005 added who asked; a self-declared OS user or role may be longer than an account name.
        batch.alter_column("user_name", type_=sa.String(128), existing_type=sa.String(64), existing_nullable=True)
        batch.alter_column("user_role", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=True)
        batch.add_column(sa.Column("grant_ids", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    # Rows from before: each was written once, after its query ended.
    op.execute("UPDATE query_audit SET status = CASE WHEN allowed THEN 'ok' ELSE 'refused' END, finished_at = asked_at")


def downgrade() -> None:
    with op.batch_alter_table("query_audit") as batch:
        for column in ("finished_at", "grant_ids", "status"):
            batch.drop_column(column)
        batch.alter_column("user_name", type_=sa.String(64), existing_type=sa.String(128), existing_nullable=True)
        batch.alter_column("user_role", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=True)
