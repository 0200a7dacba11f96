"""The owner's DDL never queues every tenant's writes behind one login (issue 31, item 2).

A login idles in a transaction holding a lock on the memories table (it wrote a memory and
never committed). A migration or the end of a re-embedding then asked for a lock that
conflicts with it, waited without a lock_timeout, and every other tenant's write queued
behind that request (HTTP remember 504) until the login went away. Now each of those locks
is asked for with a short lock_timeout and retried with backoff: other tenants wait at most
one timeout at a time, and the DDL completes once the login lets go.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from pymem import migrate

from ..conftest import unit_vector


@pytest.fixture
def idle_login(db, client):
    client.create_tenant("tenant-a")
    client.create_tenant("tenant-b")
    login = client.create_login("tenant-b")["login"]
    conn = psycopg.connect(db.server.uri(db.name, user=login))
    conn.execute("select remember('bob', 'Bob holds a lock and idles')")  # and never commits
    yield conn
    conn.close()
    client.drop_login(login)


def _writes_while(db, client, action):
    """Tenant A's remember latencies while ``action`` runs in another thread."""
    failure: list[BaseException] = []

    def run():
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - reported
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)  # the DDL is waiting for its lock by now
    latencies = []
    a = client.tenant("tenant-a")
    for i in range(8):
        started = time.monotonic()
        a.remember("alice", f"Alice writes note {i} during the DDL", embedding=unit_vector(i + 1))
        latencies.append(time.monotonic() - started)
    return latencies, thread, failure


def test_a_migration_waits_for_an_idle_login_without_stalling_other_tenants(db, client, idle_login):
    latencies, thread, failure = _writes_while(db, client, lambda: migrate.migrate(db.owner_dsn))
    # every write of A went through while the login still held its lock
    assert max(latencies) < 2.0, latencies
    assert thread.is_alive() or failure, "the migration did not need the lock"
    idle_login.rollback()  # the login lets go; the migration finishes
    thread.join(60)
    assert not thread.is_alive() and not failure, failure


def test_finishing_a_reembedding_waits_for_an_idle_login_without_stalling_other_tenants(db, client, idle_login):
    from pymem.admin import reembed

    class Other:
        model, dimensions = "other-model", 384

        def embed(self, texts):
            import numpy as np
            return np.stack([unit_vector(hash(t) % 1000) for t in texts])

    latencies, thread, failure = _writes_while(db, client, lambda: reembed(db.owner_dsn, Other(), poll=0.05))
    assert max(latencies) < 2.0, latencies
    assert thread.is_alive() or failure, "the switch did not need the lock"
    idle_login.rollback()
    thread.join(120)
    assert not thread.is_alive() and not failure, failure
    with db.connect() as conn:
        assert conn.execute("select model from _pymem.embedding_model").fetchone()[0] == "other-model"
