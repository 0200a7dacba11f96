"""The attribute vocabulary and the repeated-turn index (pymem/sql/incremental/0009_statements.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0009", "0008"
upgrade, downgrade = incremental("0009_statements.sql")
