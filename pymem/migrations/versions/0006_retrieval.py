"""Index for a conversation turn's neighbours in retrieval (sql/incremental/0003_retrieval.sql).

Revision ID: 0003
Revises: 0007

Numbered 0003 as agreed while 0002 was the head; main's 0005 then revised 0002 directly,
so this revision follows the newest one (0007) and every database, whatever its revision,
gets it next.
"""

from pymem.migrate import apply_incremental

revision = "0003"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0003_retrieval.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
