"""API keys for the HTTP service (pymem/sql/incremental/0007_service.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0007", "0006"
upgrade, downgrade = incremental("0007_service.sql")
