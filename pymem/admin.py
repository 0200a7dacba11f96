"""Administrative operations that run as the owning role or as a superuser.

``prepare_owner`` and ``lockdown`` are the superuser's two steps for an install owned by a
role that is not a superuser (pymem/sql/owner_prelude.sql; ``_pymem.lockdown()``).

``reindex_tenant`` rebuilds one tenant's HNSW and BM25 (or GIN) indexes from its current
settings without blocking reads. The statements come from ``pymem.reindex_plan()`` (the
database decides what to build and how); this module only runs them in order, each in its
own implicit transaction, because CREATE/DROP INDEX CONCURRENTLY refuse to run inside one.
"""

from __future__ import annotations

import time

import psycopg

from .client import Conflict
from .queries import SQL_DIR, query


def prepare_owner(superuser_dsn: str, owner: str) -> None:
    """As a superuser: let ``owner`` (LOGIN, CREATEROLE) install and own pymem in this database."""
    with psycopg.connect(superuser_dsn, autocommit=True) as conn:
        conn.execute(query("set_owner"), {"owner": owner})
        conn.execute((SQL_DIR / "owner_prelude.sql").read_text(encoding="utf-8"))


def lockdown(superuser_dsn: str) -> dict:
    """As a superuser, after each migrate: revoke PUBLIC's EXECUTE on the functions that let
    one tenant reach another (and TEMP on the database); returns what was revoked."""
    with psycopg.connect(superuser_dsn, autocommit=True) as conn:
        return conn.execute(query("lockdown")).fetchone()[0]


def reindex_tenant(owner_dsn: str, tenant_id: str, *, maintenance_work_mem: str | None = "1GB",
                   progress=None) -> dict:
    """Run ``pymem.reindex_plan(tenant_id)`` step by step; returns the steps with their timings.

    ``owner_dsn`` must connect as the role that owns the tables (the one ``pymem migrate``
    runs as): building an index needs ownership of its table.
    """
    steps = []
    started = time.perf_counter()
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        if maintenance_work_mem:
            conn.execute(query("set_maintenance_work_mem"), {"value": maintenance_work_mem})
        # One rebuild per tenant at a time: two would drop each other's half-built indexes
        # and deadlock. A session lock, released when this connection closes.
        if not conn.execute(query("reindex_lock"), {"tenant_id": tenant_id}).fetchone()[0]:
            raise Conflict(f"a rebuild of tenant {tenant_id!r}'s indexes is already running", "55P03")
        plan = conn.execute(query("reindex_plan"), {"tenant_id": tenant_id}).fetchall()
        for step, index_name, action, statement in plan:
            t0 = time.perf_counter()
            if action == "swap":
                # Two renames in one transaction: the index name never goes missing.
                with conn.transaction():
                    conn.execute(statement)
            else:
                conn.execute(statement)
            elapsed = time.perf_counter() - t0
            steps.append({"step": step, "index": index_name, "action": action, "seconds": round(elapsed, 3)})
            if progress:
                progress(f"{index_name}: {action} ({elapsed:.2f} s)")
    return {"tenant_id": tenant_id, "steps": steps, "seconds": round(time.perf_counter() - started, 3)}
