"""The relational side of the knowledge graph: entity links and type hints (pymem/sql/incremental/0004_graph.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0004", "0003"
upgrade, downgrade = incremental("0004_graph.sql")
