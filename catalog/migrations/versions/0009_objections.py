"""Objections (异议 / 校核纠错) and their steps.

Revision ID: 0009_objections
Revises: 0008_workspace
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_objections"
down_revision = "0008_workspace"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "objections",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("resource_id", sa.String(64), sa.ForeignKey("resources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("department_id", sa.String(32), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("item", sa.String(64)),
        sa.Column("rule", sa.String(128)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.String(64), nullable=False),
        sa.Column("raised_at", TZ, nullable=False),
        sa.Column("ack_due", TZ, nullable=False),
        sa.Column("resolve_due", TZ, nullable=False),
        sa.Column("provisional_calendar", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_since", TZ, nullable=False),
        sa.Column("accepted_at", TZ),
        sa.Column("ended_at", TZ),
        sa.Column("resolution", sa.Text()),
    )
    op.create_index("ix_objections_resource_id_state", "objections", ["resource_id", "state"])
    op.create_index("ix_objections_department_id_state", "objections", ["department_id", "state"])
    op.create_table(
        "objection_steps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("objection_id", sa.String(64), sa.ForeignKey("objections.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_objection_steps_objection_id_at", "objection_steps", ["objection_id", "at"])


def downgrade() -> None:
    op.drop_table("objection_steps")
    op.drop_table("objections")
