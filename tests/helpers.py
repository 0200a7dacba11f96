"""Small helpers shared by the tests."""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql


@contextmanager
def as_role(db, role: str):
    """A service-role session that has become ``role`` (SET ROLE), autocommit per statement.

    This is how the isolation tests act: as the tenant's role, never as owner or superuser.
    """
    with psycopg.connect(db.service_dsn, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        yield conn


def sqlstate_of(conn: psycopg.Connection, statement: str, params=None) -> str | None:
    """Run ``statement``; return the SQLSTATE it failed with, or None if it succeeded."""
    try:
        conn.execute(statement, params)
    except psycopg.Error as exc:
        return exc.sqlstate
    return None
