"""The whole initial schema: campaigns, ledger, pending and stored answers, conversations, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("opened_month", sa.String(7), nullable=False),
        sa.Column("closed_month", sa.String(7), nullable=True),
    )
    op.create_table(
        "participation",
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("tag", sa.LargeBinary(32), primary_key=True),
    )
    op.create_table(
        "pending_answers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("key_id", sa.String(20), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_pending_answers_campaign_id", "pending_answers", ["campaign_id"])
    op.create_table(
        "answers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("key_id", sa.String(20), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_answers_campaign_id", "answers", ["campaign_id"])
    op.create_table(
        "conversations",
        sa.Column("tag", sa.LargeBinary(32), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key_id", sa.String(20), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_conversations_expires_at", "conversations", ["expires_at"])
    op.create_table(
        "processed_events",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("seen_on", sa.Date, nullable=False),
    )
    op.create_index("ix_processed_events_seen_on", "processed_events", ["seen_on"])


def downgrade() -> None:
    for table in ("processed_events", "conversations", "answers", "pending_answers",
                  "participation", "campaigns"):
        op.drop_table(table)
