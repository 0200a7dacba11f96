"""Slot values, decay bookkeeping, contested status, contradictions (sql/incremental/0005_consistency.sql).

Revision ID: 0005
Revises: 0002
"""

from pymem.migrate import apply_incremental

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0005_consistency.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
