"""PostgreSQL: pending answers are vacuumed often and never truncated (no exclusive lock).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("pending_answers", "conversations"):
        op.execute(
            f"ALTER TABLE {table} SET (vacuum_truncate = false, "
            "autovacuum_vacuum_threshold = 10, autovacuum_vacuum_scale_factor = 0)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("pending_answers", "conversations"):
        op.execute(
            f"ALTER TABLE {table} RESET (vacuum_truncate, autovacuum_vacuum_threshold, "
            "autovacuum_vacuum_scale_factor)"
        )
