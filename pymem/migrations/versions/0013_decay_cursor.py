"""The decay sweep walks memories in key order and writes only what changed
(pymem/sql/incremental/0013_decay_cursor.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0013", "0012"
upgrade, downgrade = incremental("0013_decay_cursor.sql")
