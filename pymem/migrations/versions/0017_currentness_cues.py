"""The cue phrases retrieve reads to put the current value first (pymem/sql/incremental/0017_currentness_cues.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0017", "0016"
upgrade, downgrade = incremental("0017_currentness_cues.sql")
