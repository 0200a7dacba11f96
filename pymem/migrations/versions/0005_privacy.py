"""The audit log and the tenant login roles (pymem/sql/incremental/0005_privacy.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0005", "0004"
upgrade, downgrade = incremental("0005_privacy.sql")
