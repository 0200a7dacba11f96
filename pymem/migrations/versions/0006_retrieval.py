"""An index to find a conversation turn's neighbours (pymem/sql/incremental/0006_retrieval.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0006", "0005"
upgrade, downgrade = incremental("0006_retrieval.sql")
