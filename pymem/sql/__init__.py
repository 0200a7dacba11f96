"""pymem's SQL, shipped inside the package: the migrations' files (incremental/, idempotent/,
released.json), schema.sql, owner_prelude.sql, and queries.sql, where every query the package
runs is a named block (the procrastinate pattern): ``-- name: NAME``, a one-line description,
then the SQL. The benchmarks keep theirs the same way in pymem/bench/queries.sql.

This module imports nothing of pymem's, so any module may read the SQL through it."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent
QUERIES = SQL_DIR / "queries.sql"

_BLOCK = re.compile(r"^-- name: (?P<name>\w+)\n-- (?P<doc>[^\n]*)\n(?P<sql>.*?)(?=^-- name: |\Z)", re.M | re.S)


@cache
def load(path: Path) -> dict[str, str]:
    """Every named block of one file: name -> SQL."""
    found = {m["name"]: m["sql"].strip().rstrip(";") for m in _BLOCK.finditer(path.read_text(encoding="utf-8"))}
    if not found:
        raise RuntimeError(f"{path} holds no named queries")
    return found


def query(name: str, path: Path = QUERIES) -> str:
    try:
        return load(path)[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in {path.name}") from None
