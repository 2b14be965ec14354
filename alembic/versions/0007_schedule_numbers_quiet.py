"""Deleted schedules keep their number (soft delete); yearly quiet periods for reminders.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(
            sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "quiet_periods",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("starts", sa.String(5), nullable=False),
        sa.Column("ends", sa.String(5), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quiet_periods")
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("deleted")
