"""Resources keep their declared row-set checks, so the catalogue database holds every entry whole.

Revision ID: 0007_resource_checks
Revises: 0006_query_audit_lifecycle
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_resource_checks"
down_revision = "0006_query_audit_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("checks", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("checks")
