"""Workers find due episodes through one index in queue order
(pymem/sql/incremental/0014_episode_claims.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0014", "0013"
upgrade, downgrade = incremental("0014_episode_claims.sql")
