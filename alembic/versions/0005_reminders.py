"""Reminders: schedules, waves (counts only), the outbox, shared send pacing; contact time zones.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("timezone", sa.String(60), nullable=True))
        batch.add_column(sa.Column("joiner_asked", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(60), nullable=False),
        sa.Column("campaign_id", sa.String(40), nullable=True),
        sa.Column("anchor", sa.DateTime, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("next_run_at", sa.DateTime, nullable=True),
        sa.Column("last_run_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "waves",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule_id", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("campaign_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("queued", sa.Integer, nullable=False),
        sa.Column("skipped_answered", sa.Integer, nullable=False),
        sa.Column("opted_out", sa.Integer, nullable=False),
        sa.Column("unreachable", sa.Integer, nullable=False),
        sa.Column("recently_reminded", sa.Integer, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("wave_id", sa.Integer, sa.ForeignKey("waves.id"), nullable=False),
        sa.Column("contact_tag", sa.LargeBinary(32), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("key_id", sa.String(20), nullable=True),
        sa.Column("sealed", sa.LargeBinary, nullable=True),
        sa.Column("not_before", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("claimed_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_outbox_wave_id", "outbox", ["wave_id"])
    op.create_index("ix_outbox_not_before", "outbox", ["not_before"])
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_table(
        "send_pace",
        sa.Column("channel", sa.String(12), primary_key=True),
        sa.Column("next_slot", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("send_pace", "outbox", "waves", "schedules"):
        op.drop_table(table)
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("joiner_asked")
        batch.drop_column("timezone")
