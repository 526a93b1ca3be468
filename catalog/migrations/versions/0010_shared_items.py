"""一数一源: the base item an information item holds, and whether its resource is the authoritative source.

Revision ID: 0010_shared_items
Revises: 0009_objections
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_shared_items"
down_revision = "0009_objections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("shared", sa.String(64)))
        batch.add_column(sa.Column("authoritative", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("authoritative")
        batch.drop_column("shared")
