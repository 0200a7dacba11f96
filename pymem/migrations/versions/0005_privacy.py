"""Audit log and login roles (sql/incremental/0007_privacy.sql).

Revision ID: 0007
Revises: 0006
"""

from pymem.migrate import apply_incremental

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0007_privacy.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
