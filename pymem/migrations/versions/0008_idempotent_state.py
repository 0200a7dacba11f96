"""The digest of the idempotent SQL last applied (sql/incremental/0008_idempotent_state.sql).

Revision ID: 0008
Revises: 0004
"""

from pymem.migrate import apply_incremental

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0008_idempotent_state.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
