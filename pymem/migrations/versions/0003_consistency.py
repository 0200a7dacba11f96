"""What the consistency engine stores: slot values, decay, contradictions (pymem/sql/incremental/0003_consistency.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0003", "0002"
upgrade, downgrade = incremental("0003_consistency.sql")
