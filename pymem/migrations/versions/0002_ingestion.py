"""The ingest queue's bookkeeping, the users registry and the gazetteer (pymem/sql/incremental/0002_ingestion.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0002", "0001"
upgrade, downgrade = incremental("0002_ingestion.sql")
