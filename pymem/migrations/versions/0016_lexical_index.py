"""Lexical search on a stored tsvector, a GIN index per tenant and per-user BM25 statistics:
durable through restart, crash, standby and point-in-time recovery
(pymem/sql/incremental/0016_lexical_index.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0016", "0015"
upgrade, downgrade = incremental("0016_lexical_index.sql")
