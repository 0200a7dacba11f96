"""What the retrieval benchmarks share: where the shared data lives, a database of their
own, percentiles, and the named queries in sql/bench.sql."""

from __future__ import annotations

import os
import re
import statistics
from functools import cache
from pathlib import Path

import psycopg

from .. import migrate as migrations
from ..paths import sql_dir
from ..server import EmbeddedServer

_BLOCK = re.compile(r"^-- name: (?P<name>\w+)\n-- (?P<doc>[^\n]*)\n(?P<sql>.*?)(?=^-- name: |\Z)", re.M | re.S)


@cache
def _bench_queries() -> dict[str, str]:
    text = (sql_dir() / "bench.sql").read_text(encoding="utf-8")
    return {m["name"]: m["sql"].strip().rstrip(";") for m in _BLOCK.finditer(text)}


def bench_query(name: str) -> str:
    """A named query from sql/bench.sql (the benchmarks' own; the product's are in queries.sql)."""
    return _bench_queries()[name]


def shared_dir(override: str | os.PathLike | None = None) -> Path:
    """The shared benchmark folder: ``override``, ``$PYMEM_SHARED_BENCH``, or ``../shared/bench``
    beside the repository root (the checkout sits at /work/main or a CI clone with shared/
    next to it). Data is read from there and never copied into the repository."""
    if override:
        return Path(override).expanduser().resolve()
    if os.environ.get("PYMEM_SHARED_BENCH"):
        return Path(os.environ["PYMEM_SHARED_BENCH"]).expanduser().resolve()
    repo_root = Path(__file__).resolve().parents[2]
    for candidate in (repo_root.parent / "shared" / "bench", Path.cwd().parent / "shared" / "bench"):
        if candidate.is_dir():
            return candidate
    return repo_root.parent / "shared" / "bench"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(rounds: list[list[float]]) -> dict:
    """p50/p95/p99 in ms: each computed per round, then the median over rounds."""
    def med(q: float) -> float:
        return round(statistics.median(percentile(r, q) for r in rounds), 3)

    return {"p50_ms": med(0.50), "p95_ms": med(0.95), "p99_ms": med(0.99),
            "calls": sum(len(r) for r in rounds), "rounds": len(rounds)}


class BenchDatabase:
    """A database of the benchmark's own: in the embedded server (created on demand; dropped
    first when ``fresh``), or the one ``dsn`` names (used as it is, by its owner)."""

    def __init__(self, name: str, *, home: str | None = None, dsn: str | None = None):
        self.name = name
        self.home = home
        self.dsn = dsn
        self.created = False

    def open(self, *, fresh: bool) -> "BenchDatabase":
        if self.dsn:
            self.admin_dsn = self.dsn
        else:
            server = EmbeddedServer(self.home)
            server.start()
            with psycopg.connect(server.uri(), autocommit=True) as conn:
                exists = conn.execute("select 1 from pg_database where datname = %s", (self.name,)).fetchone()
                if exists and fresh:
                    conn.execute(psycopg.sql.SQL("drop database {} with (force)").format(psycopg.sql.Identifier(self.name)))
                    exists = None
                if not exists:
                    conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(self.name)))
                    self.created = True
            self.admin_dsn = server.uri(self.name)
            self._server = server
        with psycopg.connect(self.admin_dsn) as conn:
            outdated = migrations.needs_migration(conn)
        if outdated:  # a given DSN that is current may be the service role's, which cannot migrate
            migrations.migrate(self.admin_dsn)
        with psycopg.connect(self.admin_dsn) as conn:
            install_id = conn.execute("select _pymem.install_id()").fetchone()[0]
        self.service_dsn = (self._server.uri(self.name, user=f"pm_{install_id}_service")
                            if not self.dsn else self.dsn)
        return self
