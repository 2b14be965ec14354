"""Contacts: who can be reached for reminders (sealed addresses under keyed tags).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("tag", sa.LargeBinary(32), primary_key=True),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("key_id", sa.String(20), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("reachable", sa.Boolean, nullable=False),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("first_seen", sa.Date, nullable=False),
        sa.Column("last_reminded", sa.Date, nullable=True),
    )
    op.create_index("ix_contacts_channel", "contacts", ["channel"])


def downgrade() -> None:
    op.drop_table("contacts")
