"""Extensions, schemas, roles and the tables every tenant shares (pymem/sql/incremental/0001_schema.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0001", None
upgrade, downgrade = incremental("0001_schema.sql")
