"""API keys for the HTTP service (sql/incremental/0004_service.sql).

Revision ID: 0004
Revises: 0003
"""

from pymem.migrate import apply_incremental

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0004_service.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
