"""Dashboard sign-in: one-time links and server-side sessions, as keyed hashes only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("dashboard_links", "dashboard_sessions"):
        op.create_table(
            name,
            sa.Column("digest", sa.LargeBinary(32), primary_key=True),
            sa.Column("who", sa.LargeBinary(32), nullable=False),
            sa.Column("role", sa.String(10), nullable=False),
            sa.Column("expires_at", sa.DateTime, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("dashboard_sessions")
    op.drop_table("dashboard_links")
