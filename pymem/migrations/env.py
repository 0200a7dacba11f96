"""Alembic environment for pymem: the runner of record for the whole schema.

Order, every upgrade: the incremental revisions not yet applied (versions/NNNN_*.py, each
running pymem/sql/incremental/NNNN_*.sql once), then every idempotent file
(pymem/sql/idempotent/NNN_*.sql, `create or replace`), all in one transaction. The
idempotent files describe the head schema, so an upgrade to an older revision (tests do
that, to upgrade from a release) runs the revisions only. pymem's revision is kept in
_pymem.alembic_version, clear of an application's own Alembic (``migrate.prepare_version_table``).

``pymem.migrate.migrate()`` drives this programmatically and hands over an open connection
(``config.attributes["connection"]``). Plain ``alembic`` works too: give the database as
``-x dsn=postgresql://...`` (or PYMEM_DSN) and ``script_location`` pointing here.
"""

import os

import psycopg
from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from pymem import migrate

config = context.config


def _to_head() -> bool:
    target = context.get_revision_argument()
    target = target[0] if isinstance(target, tuple) and len(target) == 1 else target
    return target in ("head", "heads", ScriptDirectory.from_config(config).get_current_head())


def run(connection) -> None:
    context.configure(connection=connection, version_table=migrate.VERSION_TABLE,
                      version_table_schema=migrate.VERSION_TABLE_SCHEMA)
    raw = connection.connection.driver_connection  # the psycopg connection
    with context.begin_transaction():
        migrate.prepare_version_table(raw, context.get_context(), ScriptDirectory.from_config(config))
        context.run_migrations()
        if _to_head():
            config.attributes["idempotent_files"] = migrate.apply_idempotent(raw)


if "connection" in config.attributes:
    run(config.attributes["connection"])
else:
    dsn = context.get_x_argument(as_dictionary=True).get("dsn") or config.attributes.get("dsn") \
        or os.environ.get("PYMEM_DSN")
    if not dsn:
        raise SystemExit("pymem migrations: give the database with -x dsn=... or PYMEM_DSN")
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=NullPool)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
