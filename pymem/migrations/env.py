"""Alembic environment for pymem.

pymem.migrate drives alembic programmatically and hands it an open connection
(``config.attributes["connection"]``); there is no alembic.ini to keep in sync.
Each revision applies one frozen file from sql/incremental/.
"""

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    version_table="alembic_version",
    version_table_schema="public",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
