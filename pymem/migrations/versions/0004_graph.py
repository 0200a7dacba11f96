"""Entity -> memory mapping and type hints for the graph signal (sql/incremental/0006_graph.sql).

Revision ID: 0006
Revises: 0005
"""

from pymem.migrate import apply_incremental

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_incremental("0006_graph.sql")


def downgrade() -> None:
    raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")
