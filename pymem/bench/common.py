"""What the benchmarks share: where their data lives (PYMEM_BENCH_DATA), a database of their
own, percentiles, paths fit to save, and their named queries (pymem/bench/queries.sql)."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import psycopg

from .. import migrate as migrations
from ..server import EmbeddedServer
from ..sql import query

QUERIES = Path(__file__).resolve().parent / "queries.sql"


def bench_query(name: str) -> str:
    """A named query of the benchmarks' own (the product's are in pymem/sql/queries.sql)."""
    return query(name, QUERIES)


class BenchDataMissing(FileNotFoundError):
    """The benchmark data folder (or a file in it) is not where the settings say."""


def repository_root() -> Path | None:
    """The repository checkout this code runs from (an editable install), or None for an
    installed wheel: benchmark corpora, load scripts and saved results live in the checkout."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / ".git").exists() else None


DATA_SETTING = "PYMEM_BENCH_DATA"


def bench_data_dir(override: str | os.PathLike | None = None) -> Path:
    """The benchmark data folder (locomo/, statebench/, k6/, recall_eval.py): ``override``
    (--data-dir), else ``$PYMEM_BENCH_DATA`` (``$PYMEM_SHARED_BENCH``, its old name, still
    counts), else ``../shared/bench`` beside the repository checkout. Data is read from
    there and never copied into the repository."""
    if override:
        return Path(override).expanduser().resolve()
    for variable in (DATA_SETTING, "PYMEM_SHARED_BENCH"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser().resolve()
    root = repository_root()
    if root is not None and (root.parent / "shared" / "bench").is_dir():
        return root.parent / "shared" / "bench"
    raise BenchDataMissing(f"no benchmark data folder: set {DATA_SETTING} (or pass --data-dir) to the folder "
                           "that holds locomo/, statebench/ and k6/")


def bench_data_file(*parts: str, override: str | os.PathLike | None = None) -> Path:
    """A file in the benchmark data folder; BenchDataMissing naming the setting when absent."""
    path = bench_data_dir(override).joinpath(*parts)
    if not path.is_file():
        raise BenchDataMissing(f"{path} not found: set {DATA_SETTING} (or pass --data-dir) to the benchmark "
                               f"data folder that holds {'/'.join(parts)}")
    return path


def repository_file(relative: str, what: str) -> Path:
    """A file that ships with the repository but not the wheel (corpora, load scripts)."""
    root = repository_root()
    path = (root or Path(__file__).resolve().parents[2]) / relative
    if not path.is_file():
        raise BenchDataMissing(f"{what} ({relative}) ships with the repository, not the wheel: run this "
                               "benchmark from a checkout (pip install -e .)")
    return path


def portable_paths(value, *, root: Path | None = None, data: Path | None = None):
    """``value`` (a result to save) with every absolute path made machine-independent:
    under the repository -> relative to it; under the benchmark data folder ->
    ``$PYMEM_BENCH_DATA/...``; anywhere else (a temporary folder, a home) -> None. A string
    counts as a path when it starts with ``/`` and its first part is a folder of this
    machine (so ``/api/memory/retrieve`` stays). Also ``--option=/path`` in argv."""
    if isinstance(value, dict):
        return {key: portable_paths(item, root=root, data=data) for key, item in value.items()}
    if isinstance(value, list):
        return [portable_paths(item, root=root, data=data) for item in value]
    if not isinstance(value, str):
        return value
    option, equals, rest = value.partition("=")
    if equals and option.startswith("--"):
        converted = portable_paths(rest, root=root, data=data)
        return f"{option}={converted}" if converted is not None else None
    parts = Path(value).parts
    if not value.startswith("/") or len(parts) < 2 or not Path("/", parts[1]).is_dir():
        return value
    path = Path(value)
    for base, prefix in ((data, f"${DATA_SETTING}"), (root, None)):
        if base is not None and path.is_relative_to(base):
            relative = path.relative_to(base).as_posix()
            return f"{prefix}/{relative}" if prefix else relative
    return None


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
        self.service_dsn = self.dsn or migrations.service_dsn(self.admin_dsn)
        return self


def cpu_seconds(pids: dict) -> dict[str, float]:
    """CPU seconds (user + system) used so far: by PostgreSQL's processes, the process trees
    of ``pids`` (part -> a process id or a list of them: "service", "worker"), this process's
    finished children (k6: each step's k6 has exited when this is read after it), this
    process itself ("bench") and the whole machine (busy time of all cores)."""
    import psutil

    parts = dict.fromkeys(("postgres", "service", "worker"), 0.0)
    trees = {}
    for part in ("service", "worker"):
        roots = pids.get(part) or []
        for pid in roots if isinstance(roots, list) else [roots]:
            try:
                root = psutil.Process(pid)
                trees.update({p.pid: part for p in [root, *root.children(recursive=True)]})
            except psutil.Error:
                pass
    procs = list(psutil.process_iter(["name", "ppid"]))
    postgres = {proc.pid for proc in procs if proc.info["name"] == "postgres"}
    for proc in procs:
        part = trees.get(proc.pid) or ("postgres" if proc.pid in postgres else None)
        if part:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue  # ended meanwhile (its CPU still counts in the machine's)
            parts[part] += times.user + times.system
            if part == "postgres" and proc.info["ppid"] not in postgres:
                # the postmaster: backends that have exited (a closed connection) count here
                parts[part] += times.children_user + times.children_system
    own = os.times()
    parts["k6"] = own.children_user + own.children_system
    parts["bench"] = own.user + own.system
    machine = psutil.cpu_times()
    parts["machine"] = machine.user + machine.nice + machine.system + machine.irq + machine.softirq + machine.steal
    return parts
