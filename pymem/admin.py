"""Administrative operations that run as the owning role or as a superuser.

``prepare_owner`` and ``lockdown`` are the superuser's two steps for an install owned by a
role that is not a superuser (pymem/sql/owner_prelude.sql; ``_pymem.lockdown()``).

``reindex_tenant`` rebuilds one tenant's HNSW and GIN (lexical) indexes from its current
settings without blocking reads (and rewrites its lexemes where text_config changed). Nothing
needs a reindex after a restart, a crash or a recovery: both indexes are WAL-logged;
``index_health`` / ``pymem doctor`` say when one is short anyway. The statements come from
``pymem.reindex_plan()`` (the database decides what to build and how); this module only runs
them in order, each in its own implicit transaction, because CREATE/DROP INDEX CONCURRENTLY
refuse to run inside one.

``reembed`` changes the database's embedding model (pymem/sql/idempotent/048_embedding_model.sql
says how): reads and writes go on throughout, and the switch is one transaction.
"""

from __future__ import annotations

import time

import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from .errors import Conflict
from .retry import backoff_delay, call_with_retries
from .sql import SQL_DIR, query


def prepare_owner(superuser_dsn: str, owner: str) -> None:
    """As a superuser: let ``owner`` (LOGIN, CREATEROLE) install and own pymem in this database."""
    with psycopg.connect(superuser_dsn, autocommit=True) as conn:
        conn.execute(query("set_owner"), {"owner": owner})
        conn.execute((SQL_DIR / "owner_prelude.sql").read_text(encoding="utf-8"))
        # The owner grants CONNECT to the service role (migrate) and to each login
        # (create_login): a database closed to PUBLIC then still lets them in.
        database = conn.execute("select current_database()").fetchone()[0]
        conn.execute(sql.SQL("grant connect on database {} to {} with grant option").format(
            sql.Identifier(database), sql.Identifier(owner)))


def lockdown(superuser_dsn: str) -> dict:
    """As a superuser, after each migrate: revoke PUBLIC's EXECUTE on the functions that let
    one tenant reach another (and TEMP on the database); returns what was revoked."""
    with psycopg.connect(superuser_dsn, autocommit=True) as conn:
        return conn.execute(query("lockdown")).fetchone()[0]


def restrict_connect(superuser_dsn: str) -> dict:
    """As a superuser, in a pymem database: CONNECT for its owner (with grant option), its
    service role and its logins only, not PUBLIC. Another install's login, or anyone's, then
    cannot connect here. Idempotent; returns the roles that may connect.

    The embedded server runs this for every pymem database at each start; on a server of
    your own, `pymem doctor` prints the statements a DBA runs instead.
    """
    with psycopg.connect(superuser_dsn, autocommit=True) as conn:
        database, owner, service = conn.execute(
            "select current_database(), owner_role, _pymem.service_role() from _pymem.install").fetchone()
        logins = [r[0] for r in conn.execute(
            "select l.role_name from _pymem.logins l join pg_roles r on r.rolname = l.role_name order by 1")]
        target = sql.Identifier(database)
        conn.execute(sql.SQL("grant connect on database {} to {} with grant option").format(
            target, sql.Identifier(owner)))
        # Granted by the owner, as migrate and create_login grant it: the owner's drop_login
        # can then revoke it (a grant of the superuser's would keep the role from being dropped).
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(owner)))
        for role in (service, *logins):
            conn.execute(sql.SQL("grant connect on database {} to {}").format(target, sql.Identifier(role)))
        conn.execute("reset role")
        conn.execute(sql.SQL("revoke connect on database {} from public").format(target))
    return {"database": database, "connect": [owner, service, *logins]}


def databases_open_to_logins(dsn: str) -> dict[str, str]:
    """Databases besides this one that every role may connect to (CONNECT granted to PUBLIC),
    each with the statement that closes it: a pymem login there is outside this database's
    lockdown and login limits (advisory locks, large objects, sleeps past its timeouts)."""
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute(
            "select datname, format('revoke connect on database %I from public;', datname) from pg_database "
            "where datallowconn and datname <> current_database() "
            "and has_database_privilege('public', oid, 'connect') order by 1").fetchall())


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
                progress("reindex", len(steps), len(plan))
    return {"tenant_id": tenant_id, "steps": steps, "seconds": round(time.perf_counter() - started, 3)}


def index_health(dsn: str) -> list[dict]:
    """``pymem.index_health()``: per tenant, rows against what its lexical and vector indexes
    return, and the command that repairs an unhealthy one (service role or owner)."""
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(query("index_health"))
        names = [c.name for c in cur.description]
        return [dict(zip(names, row)) for row in cur]


def log_index_health(dsn: str, log) -> list[dict]:
    """Check every tenant's indexes and log the outcome: a warning with the repair per
    unhealthy tenant (the worker runs this at start). Never raises: a check, not a gate."""
    try:
        report = index_health(dsn)
    except psycopg.Error as exc:
        log.warning("index health: not checked (%s)", str(exc).strip().splitlines()[0])
        return []
    unhealthy = [r for r in report if not r["healthy"]]
    for r in unhealthy:
        log.warning("index health: tenant %s has %d rows; its lexical index returns %d, its vector index %d of %d; "
                    "repair: %s", r["tenant_id"], r["rows"], r["lexical_indexed"], r["vector_indexed"],
                    r["vector_rows"], r["repair"])
    if not unhealthy:
        log.info("index health: the lexical and vector indexes of all %d tenants hold every row", len(report))
    return report


def reembed(owner_dsn: str, embedder, *, batch_size: int = 256, maintenance_work_mem: str | None = "1GB",
            progress=None, poll: float = 0.5) -> dict:
    """Re-embed every memory with ``embedder`` (its ``model`` and ``dimensions`` become the
    database's), then switch over atomically. Resumable: run it again after an interruption.

    This process embeds batches, and so does every running `pymem worker` that can reach the
    new model (they claim batches with SKIP LOCKED). ``progress(phase, done, total)`` is
    called as batches land ("embed") and indexes are built ("index"). Until the switch,
    retrieval keeps using the old vectors and clients keep the old model; after it, clients
    with the old model are refused and must be restarted with the new one.
    """
    started = time.perf_counter()
    here = 0
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        register_vector(conn)
        if not conn.execute(query("reembed_lock")).fetchone()[0]:
            raise Conflict("another `pymem embeddings reembed` is running on this database", "55P03")
        # begin_reembed asks for its table lock with a short lock_timeout (048_embedding_model.sql)
        call_with_retries(lambda: conn.execute(query("begin_reembed"),
                                               {"model": embedder.model, "dimensions": embedder.dimensions}),
                          attempts=600, base=0.1, cap=1.0, retry_on=(psycopg.errors.LockNotAvailable,))
        counted = 0.0
        while True:
            embedded = reembed_step(conn, embedder, batch_size)
            here += embedded
            if embedded and time.monotonic() - counted < 1.0:
                continue  # counting scans every row: at most once a second
            counted = time.monotonic()
            state = conn.execute(query("reembed_progress")).fetchone()[0]
            if progress:
                progress("embed", state["done"], state["total"])
            if state["done"] >= state["total"]:
                break
            if not embedded:
                time.sleep(poll)  # the rest is claimed by workers right now
        if maintenance_work_mem:
            conn.execute(query("set_maintenance_work_mem"), {"value": maintenance_work_mem})
        statements = [row[0] for row in conn.execute(query("reembed_index_ddl"))]
        for i, statement in enumerate(statements, 1):
            conn.execute(statement)
            if progress:
                progress("index", i, len(statements))
        for attempt in range(1, 121):
            try:
                with conn.transaction():
                    conn.execute(query("reembed_hold_writes"))
                    # What was written since, with writers held: a few rows.
                    while reembed_step(conn, embedder, batch_size, commit=False):
                        pass
                    report = conn.execute(query("finish_reembed")).fetchone()[0]
                break
            except psycopg.errors.ObjectNotInPrerequisiteState:
                if attempt == 120:
                    raise
                time.sleep(poll)  # a worker still holds a batch: let it land, then try again
            except psycopg.errors.LockNotAvailable:
                if attempt == 120:
                    raise
                time.sleep(backoff_delay(attempt, base=0.1, cap=2.0))  # a session holds a write: wait, retry
    return {**report, "embedded_here": here, "seconds": round(time.perf_counter() - started, 3)}


def reembed_step(conn: psycopg.Connection, embedder, batch_size: int, *, commit: bool = True) -> int:
    """Claim a batch still without a new vector, embed it, store it; how many were stored.
    ``commit`` False: inside the caller's transaction."""
    def step() -> int:
        rows = conn.execute(query("reembed_claim"), {"limit": batch_size}).fetchall()
        if not rows:
            return 0
        vectors = embedder.embed([content for _, _, content in rows])
        return conn.execute(query("reembed_store"), {"tenant_ids": [r[0] for r in rows], "ids": [r[1] for r in rows],
                                                     "vectors": list(vectors)}).fetchone()[0]

    if not commit:
        return step()
    with conn.transaction():
        return step()


def reembed_state(dsn: str) -> dict:
    """The database's model, and the change in progress if any (owner)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(query("reembed_progress")).fetchone()[0]


def abort_reembed(owner_dsn: str) -> dict:
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        return conn.execute(query("abort_reembed")).fetchone()[0]
