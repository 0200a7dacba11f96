"""${message} (pymem/sql/incremental/${up_revision}_NAME.sql)."""

from pymem.migrate import incremental

revision, down_revision = ${repr(up_revision)}, ${repr(down_revision)}
upgrade, downgrade = incremental("${up_revision}_NAME.sql")
