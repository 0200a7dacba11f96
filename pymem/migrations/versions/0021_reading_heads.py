"""Learned reading heads over memory embeddings, applied by retrieve in SQL
(pymem/sql/incremental/0021_reading_heads.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0021", "0020"
upgrade, downgrade = incremental("0021_reading_heads.sql")
