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


def current_revision(conn: psycopg.Connection) -> str | None:
    exists = conn.execute("select to_regclass('public.alembic_version') is not null").fetchone()[0]
    if not exists:
        return None
    row = conn.execute("select version_num from public.alembic_version").fetchone()
    return row[0] if row else None


def _check_frozen(conn: psycopg.Connection) -> None:
    exists = conn.execute("select to_regclass('_pymem.incremental_files') is not null").fetchone()[0]
    if not exists:
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


def _idempotent_files() -> list[Path]:
    return sorted((sql_dir() / "idempotent").glob("*.sql"))


def idempotent_sha256() -> str:
    """One digest over the idempotent files' names and contents, in the order they apply."""
    digest = hashlib.sha256()
    for path in _idempotent_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def applied_idempotent_sha256(conn: psycopg.Connection) -> str | None:
    exists = conn.execute("select to_regclass('_pymem.idempotent_sql') is not null").fetchone()[0]
    if not exists:
        return None
    row = conn.execute("select sha256 from _pymem.idempotent_sql").fetchone()
    return row[0] if row else None


def apply_idempotent(conn: psycopg.Connection) -> list[str]:
    schemas = extension_schemas(conn)
    applied = []
    for path in _idempotent_files():
        conn.execute(path.read_text(encoding="utf-8").replace("@extensions@", schemas))
        applied.append(path.name)
    conn.execute(
        "insert into _pymem.idempotent_sql (sha256) values (%s)"
        " on conflict (singleton) do update set sha256 = excluded.sha256, applied_at = now()",
        (idempotent_sha256(),),
    )
    return applied


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
