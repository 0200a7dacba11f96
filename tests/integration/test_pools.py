"""The client's connections: grouped by tenant, borrowed across groups when busy, and a
connection the server closed replaced on checkout."""

import time
from contextlib import ExitStack

import pytest

import pymem
from pymem.pools import group_sizes


def test_connections_split_into_groups_of_about_five():
    assert group_sizes(1) == [1]
    assert group_sizes(9) == [9]
    assert group_sizes(10) == [5, 5]
    assert group_sizes(20) == [5, 5, 5, 5]
    assert group_sizes(22) == [6, 6, 5, 5]
    assert group_sizes(20, 10) == [10, 10] and group_sizes(20, 0) == [20]
    with pytest.raises(ValueError, match="at least one connection"):
        group_sizes(0)


def test_a_tenant_keeps_to_its_group_and_tenants_spread_over_groups(db):
    with pymem.connect(db.service_dsn, embedder=None, max_size=20) as client:
        assert client.pool_size == 20 and len(client._pools.pools) == 4
        roles = []
        for n in range(16):
            client.create_tenant(f"t{n}")
            roles.append(client.tenant_role(f"t{n}"))
        homes = [client._pools.for_role(role) for role in roles]
        assert homes == [client._pools.for_role(role) for role in roles]  # stable
        assert len({id(pool) for pool in homes}) >= 3
        for n, role in enumerate(roles):
            before = [pool.get_stats().get("requests_num", 0) for pool in client._pools.pools]
            client.tenant(f"t{n}").remember("u", f"fact {n}")
            after = [pool.get_stats().get("requests_num", 0) for pool in client._pools.pools]
            # the call borrowed once, from its home group (all groups were idle)
            assert [b - a for a, b in zip(before, after)] == [int(pool is homes[n]) for pool in client._pools.pools]


def test_a_busy_group_lends_an_idle_connection_of_another(db):
    with pymem.connect(db.service_dsn, embedder=None, max_size=10) as client:
        client.create_tenant("acme")
        role = client.tenant_role("acme")
        home = client._pools.for_role(role)
        held = [home.getconn(timeout=10) for _ in range(home.max_size)]
        try:
            # Waiting on the home group would time out at once; another group answers.
            home.timeout = 0.2
            client.tenant("acme").remember("u", "lives in Lisbon")
            assert [m.content for m in client.tenant("acme").retrieve("u", "Lisbon")] == ["lives in Lisbon"]
            assert client._pools.for_role(role) is not home
        finally:
            for conn in held:
                home.putconn(conn)


def _lent(pool) -> int:
    stats = pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


def test_a_tenant_never_holds_every_connection_of_its_group(db):
    with pymem.connect(db.service_dsn, embedder=None, max_size=10) as client:
        client.create_tenant("acme")
        role = client.tenant_role("acme")
        home = client._pools.for_role(role)
        with ExitStack() as calls:
            for _ in range(home.max_size - 1):
                calls.enter_context(client._pools.connection(role))
            assert _lent(home) == home.max_size - 1
            # The group's last connection stays for the other tenants homed there.
            calls.enter_context(client._pools.connection(role))
            assert _lent(home) == home.max_size - 1
            assert sum(_lent(pool) for pool in client._pools.pools) == home.max_size
        assert client._pools._active == {}


@pytest.mark.parametrize("max_size", [1, 10])
def test_a_connection_the_server_closed_is_replaced_on_checkout(db, max_size):
    with pymem.connect(db.service_dsn, embedder=None, max_size=max_size) as client:
        client.create_tenant("acme")
        acme = client.tenant("acme")
        acme.remember("u", "lives in Lisbon")
        pool = client._pools.for_role(acme.role)
        with pool.connection() as conn:
            before = conn.info.backend_pid
        with db.connect(autocommit=True) as admin:  # each poll a fresh pg_stat_activity snapshot
            admin.execute("select pg_terminate_backend(%s)", [before])
            deadline = time.monotonic() + 10
            while admin.execute("select count(*) from pg_stat_activity where pid = %s", [before]).fetchone()[0]:
                assert time.monotonic() < deadline, "the backend did not end"
                time.sleep(0.05)
        # no error: the pool saw the closed socket, checked it, and opened another
        assert [m.content for m in acme.retrieve("u", "Lisbon")] == ["lives in Lisbon"]
        with pool.connection() as conn:
            assert conn.info.backend_pid != before
