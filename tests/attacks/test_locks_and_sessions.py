"""Attacks through locks, sessions and limits (issue 15, items 6-9 and 11), acting as tenant
B's role or B's login role against tenant A and the install. Each must fail cleanly and
leave A served.
"""

import threading
import time

import psycopg
from psycopg.types.json import Jsonb
import pytest
from psycopg import sql

import pymem
from pymem.admin import reindex_tenant
from pymem.client import Conflict, LimitExceeded

from ..conftest import unit_vector
from ..helpers import as_role, sqlstate_of

DENIED = "42501"


def login_dsn(db, login):
    return db.server.uri(db.name, user=login)


def test_no_tenant_can_lock_a_shared_table(db, world, client):
    """Item 6: LOCK TABLE _pymem.memories IN ACCESS EXCLUSIVE MODE (allowed by a table-level
    UPDATE) stopped every tenant's reads. Tenants update through column privileges now."""
    with as_role(db, world["role_b"]) as conn:
        for table in ("_pymem.memories", world["partition_b"], world["partition_a"], "_pymem.users", "_pymem.episodes"):
            for mode in ("access exclusive", "exclusive", "share row exclusive", "share"):
                conn.execute("begin")
                assert sqlstate_of(conn, f"lock table {table} in {mode} mode") == DENIED, (table, mode)
                conn.execute("rollback")
        # B's own writes, which update rows, still work.
        memory = client.tenant("tenant-b").remember("bob", "Bob likes green tea", embedding=unit_vector(3))
        assert client.tenant("tenant-b").forget(memory) is True
        # and no id or tenant column can be rewritten
        assert sqlstate_of(conn, "update _pymem.memories set tenant_id = 'tenant-a' where user_id = 'bob'") == DENIED
    with psycopg.connect(login_dsn(db, world["login_b"]), autocommit=True) as conn:
        conn.execute("begin")
        assert sqlstate_of(conn, "lock table _pymem.memories in access exclusive mode") == DENIED
        conn.execute("rollback")


def test_a_login_cannot_hijack_retrieves_prepared_statement(db, world, client):
    """Item 8: a login PREPAREd `pymem_retrieve_<md5>` with its own query, and the next
    retrieve() EXECUTEd it as the tenant role. Logins' calls are never run by name now."""
    args = ("bob", "tea")
    with as_role(db, world["role_b"]) as conn:  # the same call through SET ROLE prepares its statement
        conn.execute("select * from pymem.retrieve(%s, %s)", args).fetchall()
        (name,) = conn.execute("select name from pg_prepared_statements where name like 'pymem\\_retrieve\\_%'"
                               ).fetchone()
    with db.connect() as conn:
        columns = conn.execute(
            "select a.name, a.type from pg_proc p, unnest(p.proargnames, p.proallargtypes::regtype[]::text[], "
            "p.proargmodes::text[]) a(name, type, mode) where p.oid = "
            "'pymem.retrieve(text, text, vector, integer, integer, text[], jsonb, timestamptz, jsonb)'::regprocedure "
            "and a.mode = 't'").fetchall()
    sentinel = ", ".join("'hijacked by ' || current_user" if name == "content" else f"null::{type_}"
                         for name, type_ in columns)
    with psycopg.connect(login_dsn(db, world["login_b"]), autocommit=True) as conn:
        conn.execute("select set_config('search_path', current_setting('search_path') || ', public', false)")
        conn.execute(sql.SQL("prepare {} (text, text, vector, text[], jsonb, timestamptz, integer, double precision[], "
                             "tsquery, text, uuid[], double precision[], uuid[]) as select {}").format(
            sql.Identifier(name), sql.SQL(sentinel)))
        rows = conn.execute("select content from retrieve(%s, %s)", args).fetchall()
    assert rows == [("Bob likes tea",)]


def test_login_sessions_are_held_to_their_limits(db, world, client):
    """Item 9: logins had no connection limit and no timeouts. Now CONNECTION LIMIT and
    session defaults come from the tenant's login_* settings, and enforce_login_limits()
    ends a session that lifted its own timeouts and sat in a transaction."""
    client.update_tenant_settings("tenant-b", {"login_connection_limit": 2, "login_idle_in_transaction_timeout_ms": 200,
                                               "login_statement_timeout_ms": 500})
    with db.connect() as conn:
        limit, config = conn.execute("select rolconnlimit, (select setconfig from pg_db_role_setting s "
                                     "where s.setrole = r.oid) from pg_roles r where rolname = %s",
                                     (world["login_b"],)).fetchone()
    assert limit == 2
    assert {"statement_timeout=500", "idle_in_transaction_session_timeout=200", "lock_timeout=5000",
            "transaction_timeout=300000"} <= set(config)

    first = psycopg.connect(login_dsn(db, world["login_b"]), autocommit=True)
    second = psycopg.connect(login_dsn(db, world["login_b"]), autocommit=True)
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            psycopg.connect(login_dsn(db, world["login_b"]))
        # A session that lifts its own limits and holds a transaction open (vacuum's horizon).
        first.execute("set idle_in_transaction_session_timeout = 0")
        first.execute("begin")
        first.execute("select count(*) from retrieve('bob', 'tea')")
        time.sleep(0.5)
        with psycopg.connect(db.service_dsn, autocommit=True) as service:
            report = service.execute("select pymem.enforce_login_limits()").fetchone()[0]
        assert report == {"terminated": 1, "not_permitted": 0}
        with pytest.raises(psycopg.OperationalError):
            first.execute("select 1")
        assert second.execute("select count(*) from retrieve('bob', 'tea')").fetchone()[0] == 1  # untouched
        with db.connect() as conn:
            audit = conn.execute("select details from _pymem.audit_log where action = 'end_login_session'").fetchone()[0]
        assert audit == {"login": world["login_b"], "reason": "idle_in_transaction"}
    finally:
        first.close()
        second.close()


def test_a_held_lock_does_not_queue_everyone_behind_tenant_creation(db, world, client):
    """Item 9 (locks): creating a tenant adds a partition, which needs an ACCESS EXCLUSIVE lock
    on _pymem.memories. A login holding the table in an open transaction must not queue every
    tenant's reads behind that request: it is asked for with a 200 ms lock_timeout and retried
    with backoff (issue 31), so A is served meanwhile and the tenant is created once the
    holder lets go."""
    holder = psycopg.connect(db.service_dsn)
    holder.execute(sql.SQL("set role {}").format(sql.Identifier(world["role_b"])))
    holder.execute("select count(*) from _pymem.memories")  # ACCESS SHARE on the parent until rollback
    created: list = []
    creator = threading.Thread(target=lambda: created.append(client.create_tenant("tenant-c")))
    try:
        creator.start()
        time.sleep(0.5)
        assert creator.is_alive()  # still waiting for the holder
        for _ in range(5):
            started = time.monotonic()
            assert [m.content for m in client.tenant("tenant-a").retrieve("alice", "bees")] == ["Alice keeps bees"]
            assert time.monotonic() - started < 1.5
    finally:
        holder.close()
    creator.join(30)
    assert created and created[0]["tenant_id"] == "tenant-c"


def test_import_counts_against_the_memory_cap(world, client):
    """Item 9: import_user skipped max_memories."""
    export = client.tenant("tenant-b").export_user("bob")
    client.update_tenant_settings("tenant-b", {"max_memories": 1})
    with pytest.raises(LimitExceeded):
        client.tenant("tenant-b").import_user(export, user_id="bob-copy")


def test_concurrent_rebuilds_of_one_tenant_conflict_cleanly(db, world):
    """Item 11: two rebuilds of one tenant deadlocked and the losers got 503. The second is
    now refused with a Conflict (409 in the service) while the first runs."""
    with psycopg.connect(db.admin_dsn, autocommit=True) as running:
        assert running.execute("select pg_try_advisory_lock(hashtext('pymem.reindex'), hashtext('tenant-a'))"
                               ).fetchone()[0]
        with pytest.raises(Conflict, match="already running"):
            reindex_tenant(db.owner_dsn, "tenant-a")
        assert reindex_tenant(db.owner_dsn, "tenant-b")["steps"]  # another tenant is not held up
    assert reindex_tenant(db.owner_dsn, "tenant-a")["steps"]


def test_a_write_in_flight_is_erased_with_its_user(db, world, client):
    """Item 11: an erasure racing a write failed with 500 "P0003" (or left the write behind).
    The user's row is the lock both take: the erasure waits for the write and removes it."""
    writer = psycopg.connect(db.service_dsn)
    pymem_role = sql.Identifier(world["role_b"])
    writer.execute(sql.SQL("set role {}").format(pymem_role))
    writer.execute("select pymem.remember('bob', 'Bob keeps a spare key under the mat')")  # not committed yet
    reports, errors = [], []

    def erase():
        try:
            reports.append(client.tenant("tenant-b").erase_user("bob"))
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            errors.append(exc)

    eraser = threading.Thread(target=erase, daemon=True)
    eraser.start()
    time.sleep(0.5)
    assert eraser.is_alive()  # waiting for the write
    writer.commit()
    writer.close()
    eraser.join(30)
    assert errors == [] and reports[0]["residual"] == 0 and reports[0]["memories"] == 2
    assert client.tenant("tenant-b").export_user("bob")["memories"] == []


def test_apply_extraction_and_erasure_take_their_locks_in_one_order(db, world, client):
    """A worker applying an episode and an erasure of its user: whichever comes second waits,
    neither deadlocks, nothing of the user remains."""
    tenant = client.tenant("tenant-b")
    tenant.ingest("bob", [{"role": "user", "content": "I live in Oslo"}])
    with psycopg.connect(db.service_dsn, autocommit=True) as service:
        episode = service.execute("select id from _pymem.claim_episodes(%s, 1, 60, 5)", ("w1",)).fetchone()[0]
    worker = psycopg.connect(db.service_dsn)
    worker.execute(sql.SQL("set role {}").format(sql.Identifier(world["role_b"])))
    applied = worker.execute("select pymem.apply_extraction(%s, 'w1', %s)",
                             (episode, Jsonb({"memories": [
                                 {"kind": "fact", "content": "Bob lives in Oslo"}]}))).fetchone()[0]
    assert applied["applied"] is True
    reports = []
    eraser = threading.Thread(target=lambda: reports.append(tenant.erase_user("bob")), daemon=True)
    eraser.start()
    time.sleep(0.5)
    worker.commit()
    worker.close()
    eraser.join(30)
    assert reports and reports[0]["residual"] == 0
    assert tenant.export_user("bob")["memories"] == []


def test_a_tenants_slow_calls_leave_the_others_their_share(db, world):
    """Item 9 (service): the per-tenant limit equalled the pool, so 20 slow calls of one tenant
    took every connection. Calls of A stuck behind a lock now hold A's share only; B is served."""
    from fastapi.testclient import TestClient

    from pymem.service import Service, ServiceConfig

    small = pymem.connect(db.service_dsn, embedder=None, max_size=4)
    keys = {t: small.create_api_key(t)["api_key"] for t in ("tenant-a", "tenant-b")}
    service = Service(small, ServiceConfig(request_timeout=3, key_cache_seconds=0), collect_database=False)
    assert service.limiter.limit == 1  # a quarter of 4
    statuses, stuck = [], []
    try:
        with TestClient(service.app(), raise_server_exceptions=False) as http, db.connect() as owner:
            owner.execute(sql.SQL("lock table {} in access exclusive mode").format(sql.SQL(world["partition_a"])))

            def ask_as_a():
                statuses.append(http.post("/api/memory/retrieve",
                                          headers={"Authorization": f"Bearer {keys['tenant-a']}"},
                                          json={"user_id": "alice", "query": "bees"}).status_code)

            stuck = [threading.Thread(target=ask_as_a) for _ in range(4)]
            for thread in stuck:
                thread.start()
            time.sleep(0.5)
            try:
                answer = http.post("/api/memory/retrieve", headers={"Authorization": f"Bearer {keys['tenant-b']}"},
                                   json={"user_id": "bob", "query": "tea"})
            finally:
                owner.rollback()  # A's calls go through again
                for thread in stuck:
                    thread.join(30)
            assert answer.status_code == 200, answer.text
            assert [r["content"] for r in answer.json()["results"]] == ["Bob likes tea"]
    finally:
        small.close()
    assert sorted(statuses).count(429) == 3  # beyond A's share: refused at once, not queued
