"""Named queries from sql/queries.sql (the procrastinate pattern)."""

from __future__ import annotations

import re
from functools import cache

from .paths import sql_dir

_BLOCK = re.compile(r"^-- name: (?P<name>\w+)\n-- (?P<doc>[^\n]*)\n(?P<sql>.*?)(?=^-- name: |\Z)", re.M | re.S)


@cache
def queries() -> dict[str, str]:
    text = (sql_dir() / "queries.sql").read_text(encoding="utf-8")
    found = {m["name"]: m["sql"].strip().rstrip(";") for m in _BLOCK.finditer(text)}
    if not found:
        raise RuntimeError("sql/queries.sql holds no named queries")
    return found


def query(name: str) -> str:
    try:
        return queries()[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in sql/queries.sql") from None
