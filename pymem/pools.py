"""A client's connections: pools grouped by tenant, checked without a round trip.

``pymem.retrieve`` prepares its main statement once per session for each tenant
(pymem/sql/idempotent/040_retrieve.sql); a session keeps the most recent 64. One pool lends its
connections in turn, so with more tenants than that every session ends up serving all of
them and planning again for a third of the calls or more (2-4 ms each). Here a tenant has a home group of
connections (a stable hash of its role), so a session serves the tenants of its group only.
A call whose group has no idle connection and cannot open one borrows an idle connection
of another group rather than wait, and a tenant never holds all of its group's connections.

Before lending a connection, the pools look at its socket: an idle connection that the
server closed (a restart, a terminated backend) is readable, and only then is it checked
with a round trip (and replaced when dead). A healthy idle connection costs one poll().
"""

from __future__ import annotations

import select
import threading
import zlib
from contextlib import asynccontextmanager, contextmanager

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

GROUP_SIZE = 5  # connections per group; the service's per-tenant share is a quarter of 20


def group_sizes(max_size: int, group_size: int = GROUP_SIZE) -> list[int]:
    """How ``max_size`` connections split into groups of about ``group_size`` (at least one;
    0 means one group)."""
    if max_size < 1:
        raise ValueError(f"a pool needs at least one connection, not {max_size}")
    if group_size < 0:
        raise ValueError(f"connections per group must be 0 (one group) or more, not {group_size}")
    groups = max(1, max_size // group_size) if group_size else 1
    return [max_size // groups + (1 if i < max_size % groups else 0) for i in range(groups)]


def _readable(conn: psycopg.BaseConnection) -> bool:
    """True when the server has written to, or closed, an idle connection."""
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True  # no usable socket: let the real check decide


def check_idle(conn: psycopg.Connection) -> None:
    """The pool's ``check``: a round trip only for a connection the server spoke on."""
    if _readable(conn):
        ConnectionPool.check_connection(conn)


async def acheck_idle(conn: psycopg.AsyncConnection) -> None:
    if _readable(conn):
        await AsyncConnectionPool.check_connection(conn)


def _has_room(pool) -> bool:
    stats = pool.get_stats()
    return stats["pool_available"] > 0 or stats["pool_size"] < stats["pool_max"]


def _idle(pool) -> bool:
    return pool.get_stats()["pool_available"] > 0


def _waiting(pool) -> int:
    return pool.get_stats().get("requests_waiting", 0)


class _Groups:
    def __init__(self, pool_class, dsn: str, *, max_size: int, min_size: int, name: str, group_size: int = GROUP_SIZE,
                 **kwargs):
        sizes = group_sizes(max_size, group_size)
        self.max_size = max_size
        self.pools = [pool_class(dsn, min_size=min(min_size, size), max_size=size, open=False,
                                 name=name if len(sizes) == 1 else f"{name}-{i}", **kwargs)
                      for i, size in enumerate(sizes)]
        self._active: dict[str | None, int] = {}  # calls in flight per role
        self._lock = threading.Lock()

    def for_role(self, role: str | None):
        """The pool a call as ``role`` borrows from (None: the service role's own calls).

        Its home group while that has room, and while the role holds fewer than all but one
        of its connections (so one tenant's slow calls never fill the group the others
        share); else a group with an idle connection; else, with every group busy, the
        group with the shortest queue (the home one on a tie)."""
        pools = self.pools
        if len(pools) == 1:
            return pools[0]
        home = pools[zlib.crc32(role.encode()) % len(pools)] if role else pools[0]
        with self._lock:
            active = self._active.get(role, 0)
        if active <= home.max_size - 1 and _has_room(home):  # active counts this call
            return home
        others = [pool for pool in pools if pool is not home] + [home]
        idle = next((pool for pool in others if _idle(pool)), None)
        return idle or min(others, key=lambda pool: (_waiting(pool), pool is not home))

    @contextmanager
    def _counted(self, role: str | None):
        with self._lock:
            self._active[role] = self._active.get(role, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._active[role] - 1
                if left:
                    self._active[role] = left
                else:
                    del self._active[role]


class TenantPools(_Groups):
    """Blocking pools grouped by tenant (see the module's doc)."""

    def __init__(self, dsn: str, *, max_size: int, min_size: int = 1, name: str = "pymem", **kwargs):
        super().__init__(ConnectionPool, dsn, max_size=max_size, min_size=min_size, name=name,
                         check=check_idle, **kwargs)

    def open(self, timeout: float = 30) -> None:
        try:
            for pool in self.pools:
                pool.open(wait=True, timeout=timeout)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for pool in self.pools:
            pool.close()

    @contextmanager
    def connection(self, role: str | None = None):
        with self._counted(role), self.for_role(role).connection() as conn:
            yield conn


class AsyncTenantPools(_Groups):
    """The asyncio twin of :class:`TenantPools`."""

    def __init__(self, dsn: str, *, max_size: int, min_size: int = 1, name: str = "pymem-async", **kwargs):
        super().__init__(AsyncConnectionPool, dsn, max_size=max_size, min_size=min_size, name=name,
                         check=acheck_idle, **kwargs)

    async def open(self, timeout: float = 30) -> None:
        try:
            for pool in self.pools:
                await pool.open(wait=True, timeout=timeout)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for pool in self.pools:
            await pool.close()

    @asynccontextmanager
    async def connection(self, role: str | None = None):
        with self._counted(role):
            async with self.for_role(role).connection() as conn:
                yield conn
