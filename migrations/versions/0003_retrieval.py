"""Index for a conversation turn's neighbours in retrieval (sql/incremental/0003_retrieval.sql).

Revision ID: 0003
Revises: 0002
"""

from pymem.migrate import apply_incremental

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0003_retrieval.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
