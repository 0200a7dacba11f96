"""Turn text hashes ingest can search under row security (pymem/sql/incremental/0012_turn_hash.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0012", "0011"
upgrade, downgrade = incremental("0012_turn_hash.sql")
