"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from pymem.migrate import apply_incremental

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("${up_revision}_FILE.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
