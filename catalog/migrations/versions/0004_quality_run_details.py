"""Quality runs keep what the gate quarantined and repaired, and their Data Docs page.

Revision ID: 0004_quality_run_details
Revises: 0003_grants_audit
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_quality_run_details"
down_revision = "0003_grants_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quality_runs") as batch:
        batch.add_column(sa.Column("quarantined_rows", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("repairs", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("docs_path", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quality_runs") as batch:
        batch.drop_column("docs_path")
        batch.drop_column("repairs")
        batch.drop_column("quarantined_rows")
