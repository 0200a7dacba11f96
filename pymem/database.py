"""The one way pymem's Python reaches the database, shared by the client, the worker and the
benchmarks: a call runs in a transaction as the tenant's role (``SET LOCAL ROLE``; row-level
security does the isolating), a database error comes out as one of pymem's exceptions
(pymem.errors), and the NOTIFY channels are named here and LISTENed to one way."""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Iterator

import psycopg
from psycopg import sql

from .errors import translate
from .sql import query

# The channels the database NOTIFYs (_pymem.hint, 010_internal.sql); a payload is only a hint.
EPISODES_CHANNEL = "pymem_episodes"  # episodes wait for extraction: wakes the workers
FORGET_CHANNEL = "pymem_forget"      # a user was erased or a tenant dropped: clears query caches


@contextmanager
def translated() -> Iterator[None]:
    """Raises a database error inside the block as pymem's exception for it."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc) from exc


def _opening(role: str | None, statement_timeout_ms: int | None) -> list[tuple[Any, dict | None]]:
    """The statements that open a call's transaction: its time limit, then the tenant's role
    (None: the connection's own, the service role)."""
    statements: list[tuple[Any, dict | None]] = []
    if statement_timeout_ms is not None:
        statements.append((query("set_statement_timeout"), {"ms": str(int(statement_timeout_ms))}))
    if role is not None:
        statements.append((sql.SQL("set local role {}").format(sql.Identifier(role)), None))
    return statements


@contextmanager
def transaction(conn: psycopg.Connection, role: str | None, *,
                statement_timeout_ms: int | None = None) -> Iterator[psycopg.Connection]:
    """A transaction on ``conn`` as ``role``, committed when the block ends; errors come out
    as pymem's exceptions. In pipeline mode the opening statements cost no round trip."""
    with translated(), conn.transaction():
        for statement, params in _opening(role, statement_timeout_ms):
            conn.execute(statement, params)
        yield conn


@asynccontextmanager
async def atransaction(conn: psycopg.AsyncConnection, role: str | None, *,
                       statement_timeout_ms: int | None = None) -> AsyncIterator[psycopg.AsyncConnection]:
    """:func:`transaction` for an async connection."""
    with translated():
        async with conn.transaction():
            for statement, params in _opening(role, statement_timeout_ms):
                await conn.execute(statement, params)
            yield conn


def listen(conn: psycopg.Connection, channel: str) -> None:
    """LISTEN on ``channel`` (one of the channels above) on an autocommit connection."""
    conn.execute(sql.SQL("listen {}").format(sql.Identifier(channel)))
