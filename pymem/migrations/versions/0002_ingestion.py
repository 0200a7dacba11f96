"""Episodes queue bookkeeping, users registry, gazetteer (sql/incremental/0002_ingestion.sql).

Revision ID: 0002
Revises: 0001
"""

from pymem.migrate import apply_incremental

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0002_ingestion.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
