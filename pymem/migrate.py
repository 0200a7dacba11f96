"""Schema migrations: alembic for the incremental files, then every idempotent file.

Two kinds of SQL (the pgai pattern):
  sql/incremental/NNNN_*.sql  run once each by an alembic revision, recorded with their
                              sha256 and frozen: a released file never changes.
  sql/idempotent/*.sql        `create or replace` functions and grants, re-applied in name
                              order on every migrate, so fixing a function is a file edit;
                              their digest is recorded, so a database running older
                              functions counts as needing migration.
Re-running migrate is a no-op for the schema. A session advisory lock serialises
concurrent migrates (two workers starting at once).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
from alembic import command, op
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from .paths import migrations_dir, sql_dir

_LOCK_KEY = 0x706D656D  # "pmem"


class MigrationError(RuntimeError):
    """The database cannot be brought to the current schema."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def apply_incremental(file_name: str) -> None:
    """Run from an alembic revision: execute one incremental file and record its hash."""
    path = sql_dir() / "incremental" / file_name
    raw = op.get_bind().connection.driver_connection  # the psycopg connection
    raw.execute(path.read_text(encoding="utf-8"))
    raw.execute(
        "insert into _pymem.incremental_files (file_name, sha256) values (%s, %s)",
        (file_name, _sha256(path)),
    )


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def _one_value(conn: psycopg.Connection, table: str, column: str) -> str | None:
    """The value in a one-row bookkeeping table; None when the table or the row is missing."""
    if not _table_exists(conn, table):
        return None
    row = conn.execute(f"select {column} from {table}").fetchone()  # our own constant names
    return row[0] if row else None


def current_revision(conn: psycopg.Connection) -> str | None:
    return _one_value(conn, "public.alembic_version", "version_num")


def _check_frozen(conn: psycopg.Connection) -> None:
    if not _table_exists(conn, "_pymem.incremental_files"):
        return
    for file_name, recorded in conn.execute("select file_name, sha256 from _pymem.incremental_files"):
        path = sql_dir() / "incremental" / file_name
        if path.exists() and _sha256(path) != recorded:
            raise MigrationError(
                f"sql/incremental/{file_name} changed after it was applied "
                f"(recorded {recorded[:12]}, file {_sha256(path)[:12]}); released migrations are "
                "immutable: put the change in a new incremental file"
            )


def extension_schemas(conn: psycopg.Connection) -> str:
    """The schemas holding pgvector and pg_textsearch, quoted, for function search_paths.

    Functions pin ``search_path`` (pg_catalog, these, pg_temp) so neither a caller's path
    nor an object planted elsewhere can change what an operator like <=> resolves to.
    """
    row = conn.execute(
        "select string_agg(distinct quote_ident(n.nspname), ', ') from pg_extension e"
        " join pg_namespace n on n.oid = e.extnamespace where e.extname in ('vector', 'pg_textsearch')"
    ).fetchone()
    if not row[0]:
        raise MigrationError("the vector extension is not installed")
    return row[0]


def _idempotent_sources() -> list[tuple[str, bytes]]:
    """(file name, contents) of the idempotent files, in the order they apply."""
    return [(path.name, path.read_bytes()) for path in sorted((sql_dir() / "idempotent").glob("*.sql"))]


def _digest(sources: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, raw in sources:
        digest.update(name.encode() + b"\0" + raw + b"\0")
    return digest.hexdigest()


def idempotent_sha256() -> str:
    """One digest over the installed idempotent files' names and contents."""
    return _digest(_idempotent_sources())


def applied_idempotent_sha256(conn: psycopg.Connection) -> str | None:
    return _one_value(conn, "_pymem.idempotent_sql", "sha256")


def apply_idempotent(conn: psycopg.Connection) -> list[str]:
    schemas = extension_schemas(conn)
    sources = _idempotent_sources()  # read once: the digest recorded is of what ran
    for _, raw in sources:
        conn.execute(raw.decode("utf-8").replace("@extensions@", schemas))
    conn.execute(
        "insert into _pymem.idempotent_sql (sha256) values (%s)"
        " on conflict (singleton) do update set sha256 = excluded.sha256, applied_at = now()",
        (_digest(sources),),
    )
    return [name for name, _ in sources]


def migrate(dsn: str) -> dict:
    """Bring the database at ``dsn`` to the head revision and re-apply idempotent SQL."""
    with psycopg.connect(dsn, autocommit=True) as lock_conn:
        lock_conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            before = current_revision(lock_conn)
            _check_frozen(lock_conn)
            engine = create_engine(
                "postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=NullPool
            )
            try:
                with engine.begin() as sa_conn:
                    config = _alembic_config()
                    config.attributes["connection"] = sa_conn
                    command.upgrade(config, "head")
            finally:
                engine.dispose()
            with psycopg.connect(dsn) as conn, conn.transaction():
                idempotent = apply_idempotent(conn)
            after = current_revision(lock_conn)
        finally:
            lock_conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return {"from": before, "to": after, "idempotent_files": idempotent}


def needs_migration(conn: psycopg.Connection) -> bool:
    """True when the schema is behind the package, or its functions are (a changed
    idempotent file changes no revision)."""
    return current_revision(conn) != head_revision() or applied_idempotent_sha256(conn) != idempotent_sha256()


__all__ = ["MigrationError", "apply_incremental", "idempotent_sha256", "migrate", "needs_migration"]
