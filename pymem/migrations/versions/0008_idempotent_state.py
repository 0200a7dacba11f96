"""Which idempotent SQL the database runs (its digest) (pymem/sql/incremental/0008_idempotent_state.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0008", "0007"
upgrade, downgrade = incremental("0008_idempotent_state.sql")
