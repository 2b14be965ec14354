"""Web channel: single-use answer codes (keyed hashes only), batches, applicant campaigns.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column("applicants", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "code_batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("issued", sa.Integer, nullable=False),
        sa.Column("issued_month", sa.String(7), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "codes",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("campaign_id", sa.String(40), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("code_batches.id"), nullable=False),
        sa.Column("spent", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_codes_batch_id", "codes", ["batch_id"])


def downgrade() -> None:
    op.drop_table("codes")
    op.drop_table("code_batches")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("applicants")
