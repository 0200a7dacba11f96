"""A second learned reading head, "holds", read by the write path
(pymem/sql/incremental/0021_holds_head.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0021", "0020"
upgrade, downgrade = incremental("0021_holds_head.sql")
