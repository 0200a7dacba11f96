"""Schema migrations: alembic runs everything, in one order that reads straight.

The SQL ships inside the package (``pymem/sql/``), in two kinds (the pgai pattern):

  sql/incremental/NNNN_*.sql  run once each, in number order, by the alembic revision of the
                              same number (pymem/migrations/versions/); recorded in the
                              database with their sha256. Once released (listed in
                              sql/released.json) a file never changes: a change is a new file.
  sql/idempotent/NNN_*.sql    `create or replace` functions, views, grants; re-applied in
                              number order by alembic's env.py after the revisions, on every
                              upgrade. Their digest is recorded, so a database whose functions
                              predate the package counts as needing migration.

``sql/schema.sql`` is what all of that produces on a fresh database (``make schema``
regenerates it; a test checks it), so a reader sees the whole schema in one file.
Re-running migrate is a no-op for the schema. A session advisory lock serialises
concurrent migrates (two workers starting at once).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from .retry import call_with_retries
from .sql import SQL_DIR, query

# alembic and SQLAlchemy are imported where a migration runs: every `connect()` checks the
# revision, and importing them would cost a CLI call about 0.4 s.

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
RELEASED = SQL_DIR / "released.json"
SCHEMA_SQL = SQL_DIR / "schema.sql"

_LOCK_KEY = 0x706D656D  # "pmem"

# A migration's DDL asks for its table locks with this timeout and the whole migration is
# retried (one transaction, so a retry starts clean) with backoff while a lock is busy.
# Without it, a login idling in a transaction that had written a row made the migration wait,
# and every tenant's writes queued behind the migration's lock request (HTTP 504s) until the
# login went away. With it, other writers wait at most this long at a time.
DDL_LOCK_TIMEOUT_MS = 200
DDL_LOCK_ATTEMPTS = 600  # about ten minutes of retries at the backoff's cap


class MigrationError(RuntimeError):
    """The database cannot be brought to the current schema."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- incremental files ---------------------------------------------------------------------


def incremental(file_name: str):
    """(upgrade, downgrade) for the alembic revision that runs one incremental file."""

    def upgrade() -> None:
        from alembic import op

        path = SQL_DIR / "incremental" / file_name
        raw = op.get_bind().connection.driver_connection  # the psycopg connection
        raw.execute(path.read_text(encoding="utf-8"))
        raw.execute("insert into _pymem.incremental_files (file_name, sha256) values (%s, %s)",
                    (file_name, _sha256(path)))

    def downgrade() -> None:
        raise NotImplementedError("pymem migrations are append-only; restore from a backup instead")

    return upgrade, downgrade


def released_files() -> dict[str, str]:
    """Every released incremental file with its sha256 (sql/released.json)."""
    manifest = json.loads(RELEASED.read_text(encoding="utf-8"))
    return {name: digest for release in manifest["releases"] for name, digest in release["files"].items()}


def first_release_revision() -> str:
    """The head revision of the first release (where upgrade tests start)."""
    return json.loads(RELEASED.read_text(encoding="utf-8"))["releases"][0]["head"]


def _check_frozen(conn: psycopg.Connection) -> None:
    """Refuse to migrate when an incremental file differs from what this database ran."""
    if not _table_exists(conn, "_pymem.incremental_files"):
        return
    for file_name, recorded in conn.execute("select file_name, sha256 from _pymem.incremental_files"):
        path = SQL_DIR / "incremental" / file_name
        if path.exists() and _sha256(path) != recorded:
            raise MigrationError(
                f"pymem/sql/incremental/{file_name} changed after it was applied "
                f"(recorded {recorded[:12]}, file {_sha256(path)[:12]}); released migrations are "
                "immutable: put the change in a new incremental file"
            )


# -- idempotent files ----------------------------------------------------------------------


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
    return [(path.name, path.read_bytes()) for path in sorted((SQL_DIR / "idempotent").glob("*.sql"))]


def _digest(sources: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, raw in sources:
        digest.update(name.encode() + b"\0" + raw + b"\0")
    return digest.hexdigest()


def idempotent_sha256() -> str:
    """One digest over the installed idempotent files' names and contents."""
    return _digest(_idempotent_sources())


def apply_idempotent(conn: psycopg.Connection) -> list[str]:
    """Re-apply every idempotent file (alembic's env.py calls this after the revisions)."""
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


# -- running alembic -----------------------------------------------------------------------


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def _one_value(conn: psycopg.Connection, table: str, column: str) -> str | None:
    """The value in a one-row bookkeeping table; None when the table or the row is missing."""
    if not _table_exists(conn, table):
        return None
    row = conn.execute(f"select {column} from {table}").fetchone()  # our own constant names
    return row[0] if row else None


def alembic_config(dsn: str | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if dsn:
        config.attributes["dsn"] = dsn
    return config


def revisions() -> list[str]:
    """pymem's revisions, oldest first: the numbers of the files in migrations/versions/, one
    after another (a unit test checks the head agrees with alembic's own reading)."""
    return sorted(p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def head_revision() -> str:
    return revisions()[-1]


# Where alembic records pymem's revision: pymem's own schema, not public.alembic_version, the
# default table of an application's own Alembic in the same database (each would misread or
# overwrite the other's revision). Earlier versions kept it in public; the next migrate moves
# it (prepare_version_table).
VERSION_TABLE_SCHEMA, VERSION_TABLE = "_pymem", "alembic_version"
_VERSION_TABLE, _PUBLIC_VERSION_TABLE = f"{VERSION_TABLE_SCHEMA}.{VERSION_TABLE}", "public.alembic_version"


def current_revision(conn: psycopg.Connection) -> str | None:
    """The database's pymem revision; None when pymem never migrated it. A database last
    migrated by a pymem that kept it in public is read there, until the next migrate."""
    if _table_exists(conn, _VERSION_TABLE):
        return _one_value(conn, _VERSION_TABLE, "version_num")
    if _table_exists(conn, _PUBLIC_VERSION_TABLE):
        return conn.execute("select max(version_num) from public.alembic_version where version_num = any(%s)",
                            (revisions(),)).fetchone()[0]
    return None


def revision_before_the_move(conn: psycopg.Connection) -> str:
    """The revision of a database migrated while pymem kept it in public: the last incremental
    file it ran (every revision runs one, in the same transaction as alembic records it). Read
    there rather than in public.alembic_version, which an application's Alembic may have
    rewritten."""
    revision = conn.execute("select max(left(file_name, 4)) from _pymem.incremental_files").fetchone()[0]
    if revision not in revisions():
        raise MigrationError(f"_pymem.incremental_files names no pymem revision (last: {revision!r})")
    return revision


def prepare_version_table(conn: psycopg.Connection, migration_context, script) -> None:
    """Makes _pymem.alembic_version ready before alembic runs the revisions (env.py calls this
    in the migration's transaction; ``conn`` is its psycopg connection).

    On a new database the first revision creates the _pymem schema, so alembic could not make
    its table there before running it: the first revision runs here, and is recorded. On a
    database migrated while pymem kept its revision in public, the revision is recorded here
    and pymem's row leaves public."""
    from alembic.operations import Operations

    if conn.execute("select to_regnamespace(%s) is null", (VERSION_TABLE_SCHEMA,)).fetchone()[0]:
        first = script.get_revision(revisions()[0])
        with Operations.context(migration_context):
            first.module.upgrade()
        migration_context.stamp(script, first.revision)
    elif not _table_exists(conn, _VERSION_TABLE):
        revision = revision_before_the_move(conn)
        migration_context.stamp(script, revision)
        leave_public(conn, revision)


def leave_public(conn: psycopg.Connection, revision: str) -> None:
    """Takes pymem's row (``revision``) out of public.alembic_version, and drops the table when
    that row was all it held: pymem made it. Any other row is an application's, and so is a
    table that held no row of pymem's: both stay as they are."""
    if not _table_exists(conn, _PUBLIC_VERSION_TABLE):
        return
    if conn.execute("delete from public.alembic_version where version_num = %s", (revision,)).rowcount \
            and not conn.execute("select exists (select from public.alembic_version)").fetchone()[0]:
        conn.execute("drop table public.alembic_version")


def applied_idempotent_sha256(conn: psycopg.Connection) -> str | None:
    return _one_value(conn, "_pymem.idempotent_sql", "sha256")


def migrate(dsn: str, target: str = "head", *, embedding: tuple[str, int] | None = None) -> dict:
    """Bring the database at ``dsn`` to ``target`` (alembic runs the incremental revisions,
    then re-applies the idempotent SQL), under an advisory lock.

    ``embedding`` (model, dimensions) chooses the database's embedding model; that works
    while it holds no vector yet (a new database), and is a no-op when it already is that
    model. Any other change is a re-embedding (``pymem embeddings reembed``)."""
    with psycopg.connect(dsn, autocommit=True) as lock_conn:
        lock_conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            from alembic import command
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            before = current_revision(lock_conn)
            _check_frozen(lock_conn)
            engine = create_engine("postgresql+psycopg://", poolclass=NullPool, creator=lambda: psycopg.connect(
                dsn, options=f"-c lock_timeout={DDL_LOCK_TIMEOUT_MS}"))
            try:
                idempotent = _upgrade_with_lock_retries(engine, command, target)
            finally:
                engine.dispose()
            after = current_revision(lock_conn)
            backfilled = run_backfills(lock_conn)
            has_model = _table_exists(lock_conn, "_pymem.embedding_model")
            if embedding is not None and has_model:
                model, dimensions = embedding
                try:
                    lock_conn.execute("select _pymem.set_embedding_model(%s, %s)", (model, dimensions))
                except psycopg.Error as exc:
                    raise MigrationError(str(exc.diag.message_primary or exc)
                                         + (f" ({exc.diag.message_hint})" if exc.diag.message_hint else "")) from exc
            recorded = embedding_model(lock_conn) if has_model else (None, None)
        finally:
            lock_conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return {"from": before, "to": after, "idempotent_files": idempotent, "backfilled": backfilled,
            "embedding_model": {"model": recorded[0], "dimensions": recorded[1]}}


def _upgrade_with_lock_retries(engine, command, target: str) -> list[str]:
    from sqlalchemy.exc import OperationalError

    def upgrade() -> list[str]:
        try:
            with engine.begin() as sa_conn:
                config = alembic_config()
                config.attributes["connection"] = sa_conn
                command.upgrade(config, target)
                return config.attributes.get("idempotent_files", [])
        except OperationalError as exc:
            # the revisions run through SQLAlchemy, which wraps psycopg's error; the
            # idempotent files raise it as it is
            if isinstance(exc.orig, psycopg.errors.LockNotAvailable):
                raise exc.orig from exc
            raise

    return call_with_retries(upgrade, attempts=DDL_LOCK_ATTEMPTS, base=0.1, cap=1.0,
                             retry_on=(psycopg.errors.LockNotAvailable,))


# Data changes an incremental file leaves pending (it names them in _pymem.pending_backfills)
# because they cannot be one transaction: one statement per tenant partition, each committed.
_BACKFILLS = {
    # 0012_turn_hash.sql
    "turn_hash": "update {} set turn_hash = _pymem.turn_hash(content) where kind = 'episode' and turn_hash is null",
    # 0018_rows_inline.sql: the values a row kept out of line or compressed, back in the row.
    # content || '' is a new value (an unchanged one keeps its TOAST pointer), so the lexemes
    # trigger computes the same lexemes afresh; the embedding goes through real[] (the same
    # floats). The lexical statistics trigger sees equal lexemes and does nothing.
    "rows_inline": "update {} m set content = m.content || '', embedding = (m.embedding::real[])::vector"
                   " where pg_column_toast_chunk_id(m.embedding) is not null"
                   " or pg_column_compression(m.embedding) is not null"
                   " or pg_column_toast_chunk_id(m.lexemes) is not null or pg_column_compression(m.lexemes) is not null"
                   " or pg_column_toast_chunk_id(m.content) is not null or pg_column_compression(m.content) is not null",
}


def run_backfills(conn: psycopg.Connection) -> list[str]:
    """Runs the pending backfills on an autocommit connection (a partition per transaction) and
    returns their names. Resumable: a name stays pending until every partition is done, and
    each statement skips rows already done."""
    if not _table_exists(conn, "_pymem.pending_backfills"):
        return []
    done = []
    for (name,) in conn.execute("select name from _pymem.pending_backfills order by name").fetchall():
        partitions = conn.execute(
            "select n.nspname, c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where i.inhparent = '_pymem.memories'::regclass order by c.relname").fetchall()
        for schema, table in partitions:
            conn.execute(sql.SQL(_BACKFILLS[name]).format(sql.Identifier(schema, table)))
        conn.execute("delete from _pymem.pending_backfills where name = %s", (name,))
        done.append(name)
    return done


def embedding_model(conn: psycopg.Connection) -> tuple[str, int]:
    """The database's embedding model: (name, dimensions). Any pymem role may ask."""
    return tuple(conn.execute(query("embedding_model")).fetchone())


def needs_migration(conn: psycopg.Connection) -> bool:
    """True when the schema is behind the package, or its functions are (a changed
    idempotent file changes no revision)."""
    return current_revision(conn) != head_revision() or applied_idempotent_sha256(conn) != idempotent_sha256()


# -- roles and the schema dump ----------------------------------------------------------------


def service_dsn(admin_dsn: str) -> str:
    """``admin_dsn`` with the install's service role as user: the login the client, the worker
    and the service connect as (the database names it: ``_pymem.service_role()``)."""
    with psycopg.connect(admin_dsn) as conn:
        role = conn.execute("select _pymem.service_role()").fetchone()[0]
    return psycopg.conninfo.make_conninfo(admin_dsn, user=role)


_VOLATILE_DUMP_LINE = re.compile(r"^(\\(un)?restrict |-- Dumped (from|by) |SET |SELECT pg_catalog\.set_config)")


def dump_schema(dsn: str, pg_dump: str | None = None) -> str:
    """The schemas pymem owns (pymem, _pymem), as pg_dump --schema-only prints them, with what
    differs between two installs of the same version taken out: the install id in role names
    (``pm_<install>``) and pg_dump's own version and session lines."""
    from .server import ServerError, bin_dir

    try:
        bundled = str(bin_dir())
    except ServerError:
        bundled = None

    binary = pg_dump or (bundled and shutil.which("pg_dump", path=bundled)) or shutil.which("pg_dump")
    if binary is None:
        raise MigrationError("pg_dump not found")
    with psycopg.connect(dsn) as conn:
        install_id = conn.execute("select _pymem.install_id()").fetchone()[0]
    result = subprocess.run([binary, "--schema-only", "--no-owner", "--schema=pymem", "--schema=_pymem",
                             "--dbname", dsn], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MigrationError(f"pg_dump failed: {result.stderr.strip()}")
    lines = [line for line in result.stdout.replace(f"pm_{install_id}", "pm_INSTALL").splitlines()
             if not _VOLATILE_DUMP_LINE.match(line)]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    header = ("-- Generated by `make schema` from a freshly migrated database: what pymem/sql/ builds,\n"
              "-- in one file, for reading. Not run by anything; tests/sql/test_migrations.py checks it.\n"
              "-- Role names read pm_INSTALL_...: each database has its own install id.\n\n")
    return header + text


__all__ = ["MigrationError", "apply_idempotent", "dump_schema", "idempotent_sha256", "incremental",
           "migrate", "needs_migration", "service_dsn"]


def write_schema() -> Path:
    """Migrate a throw-away embedded cluster from nothing and write its dump to sql/schema.sql."""
    import tempfile

    from .server import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="pymem-schema-") as home:
        server = EmbeddedServer(home, fast=True)
        server.start()
        try:
            with psycopg.connect(server.uri(), autocommit=True) as conn:
                conn.execute("create database pymem_schema")
            migrate(server.uri("pymem_schema"))
            SCHEMA_SQL.write_text(dump_schema(server.uri("pymem_schema")), encoding="utf-8")
        finally:
            server.destroy()
    return SCHEMA_SQL

