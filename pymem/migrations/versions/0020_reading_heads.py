"""Learned reading heads over memory embeddings, applied by retrieve in SQL
(pymem/sql/incremental/0020_reading_heads.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0020", "0019"
upgrade, downgrade = incremental("0020_reading_heads.sql")
