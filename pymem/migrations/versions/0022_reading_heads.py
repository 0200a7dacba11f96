"""Learned reading heads over memory embeddings, applied by retrieve in SQL
(pymem/sql/incremental/0022_reading_heads.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0022", "0018"
upgrade, downgrade = incremental("0022_reading_heads.sql")
