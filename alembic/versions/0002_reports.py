"""Reports: sealed tallies, published snapshots, and the people reached per campaign.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tallies",
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("key_id", sa.String(20), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=False),
        sa.Column("key_id", sa.String(20), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_snapshots_campaign_id", "snapshots", ["campaign_id"])
    op.create_table(
        "reached",
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("tag", sa.LargeBinary(32), primary_key=True),
    )


def downgrade() -> None:
    for table in ("reached", "snapshots", "tallies"):
        op.drop_table(table)
