"""Named queries (the procrastinate pattern): every query the package runs is a block of
pymem/sql/queries.sql, ``-- name: NAME``, a one-line description, then the SQL. The
benchmarks keep theirs the same way in pymem/bench/queries.sql."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from .migrate import SQL_DIR

_BLOCK = re.compile(r"^-- name: (?P<name>\w+)\n-- (?P<doc>[^\n]*)\n(?P<sql>.*?)(?=^-- name: |\Z)", re.M | re.S)


@cache
def load(path: Path) -> dict[str, str]:
    """Every named block of one file: name -> SQL."""
    found = {m["name"]: m["sql"].strip().rstrip(";") for m in _BLOCK.finditer(path.read_text(encoding="utf-8"))}
    if not found:
        raise RuntimeError(f"{path} holds no named queries")
    return found


def query(name: str, path: Path = SQL_DIR / "queries.sql") -> str:
    try:
        return load(path)[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in {path.name}") from None
