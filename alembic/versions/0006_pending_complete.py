"""Pending answers can be open: the key answer is kept at once, follow-ups are added to it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pending_answers") as batch:
        batch.add_column(
            sa.Column("complete", sa.Boolean, nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_answers") as batch:
        batch.drop_column("complete")
