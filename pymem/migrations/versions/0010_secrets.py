"""Keys only the owner reads: the audit log's subject-hash key (pymem/sql/incremental/0010_secrets.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0010", "0009"
upgrade, downgrade = incremental("0010_secrets.sql")
