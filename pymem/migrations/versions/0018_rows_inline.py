"""A memory's embedding, lexemes and content kept in its row instead of TOAST: retrieve's
exact scan and BM25 no longer fetch them out of line (pymem/sql/incremental/0018_rows_inline.sql)."""

from pymem.migrate import incremental

revision, down_revision = "0018", "0017"
upgrade, downgrade = incremental("0018_rows_inline.sql")
