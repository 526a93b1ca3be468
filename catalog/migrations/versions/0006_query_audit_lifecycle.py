"""The query audit row is written before a query runs and completed after: status, who, grants used.

Revision ID: 0006_query_audit_lifecycle
Revises: 0004_quality_run_details (0005 on the branch that adds accounts; the lead re-points this on merge)
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_query_audit_lifecycle"
down_revision = "0004_quality_run_details"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("query_audit") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="started"))
        batch.add_column(sa.Column("user_name", sa.String(128), nullable=True))
        batch.add_column(sa.Column("user_role", sa.String(32), nullable=True))
        batch.add_column(sa.Column("grant_ids", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    # Rows from before: each was written once, after its query ended.
    op.execute("UPDATE query_audit SET status = CASE WHEN allowed THEN 'ok' ELSE 'refused' END, "
               "finished_at = asked_at")


def downgrade() -> None:
    with op.batch_alter_table("query_audit") as batch:
        for column in ("finished_at", "grant_ids", "user_role", "user_name", "status"):
            batch.drop_column(column)
