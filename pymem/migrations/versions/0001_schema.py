"""Extensions, schemas, roles and the shared tables (sql/incremental/0001_schema.sql).

Revision ID: 0001
Revises:
"""

from pymem.migrate import apply_incremental

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0001_schema.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
