"""The embedding model a database holds (pymem/sql/incremental/0011_embedding_model.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0011", "0010"
upgrade, downgrade = incremental("0011_embedding_model.sql")
