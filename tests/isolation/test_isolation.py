"""Isolation, proven by trying: as tenant B's role, read, count, update, delete and insert
tenant A's rows through every public function and directly on every table, partition and
graph. Everything must fail (42501) or return nothing, and A's data must be unchanged.

The tests act by becoming the role (SET ROLE from the service role), never as owner or
superuser.
"""

import psycopg
import pytest

from ..conftest import unit_vector
from ..helpers import as_role, sqlstate_of

DENIED = "42501"


@pytest.fixture
def two_tenants(client, db):
    client.create_tenant("tenant-a")
    client.create_tenant("tenant-b")
    a = client.tenant("tenant-a")
    ids = [a.remember("shared-user", f"A's private fact {i}: the vault code is 12{i}", embedding=unit_vector(i),
                      session_id="sa") for i in range(3)]
    client.tenant("tenant-b").remember("shared-user", "B's own fact", embedding=unit_vector(99))
    with db.connect() as conn:
        suffix_a, graph_a = conn.execute(
            "select storage_suffix, graph_name from _pymem.tenants where tenant_id = 'tenant-a'").fetchone()
        snapshot = conn.execute("select count(*), md5(string_agg(content || status, ',' order by id)) "
                                "from _pymem.memories where tenant_id = 'tenant-a'").fetchone()
    return {
        "a_ids": ids, "role_a": client.tenant_role("tenant-a"), "role_b": client.tenant_role("tenant-b"),
        "partition_a": f"_pymem.memories_{suffix_a}", "graph_a": graph_a, "snapshot": snapshot,
    }


def _a_unchanged(db, two_tenants):
    with db.connect() as conn:
        assert conn.execute("select count(*), md5(string_agg(content || status, ',' order by id)) "
                            "from _pymem.memories where tenant_id = 'tenant-a'").fetchone() == two_tenants["snapshot"]
        assert conn.execute("select count(*) from _pymem.memory_versions where tenant_id = 'tenant-a'").fetchone()[0] == 3


def test_public_data_functions_as_b_see_nothing_of_a(db, two_tenants):
    with as_role(db, two_tenants["role_b"]) as conn:
        rows = conn.execute("select tenant_id, content from pymem.retrieve('shared-user', 'vault code', %s)",
                            (unit_vector(0),)).fetchall()
        assert rows and all(tenant == "tenant-b" for tenant, _ in rows)
        for memory_id in two_tenants["a_ids"]:
            assert conn.execute("select pymem.forget(%s)", (memory_id,)).fetchone()[0] is False
            assert conn.execute("select * from pymem.history(%s)", (memory_id,)).fetchall() == []
        # remember as B lands in B, whatever B claims in metadata or source.
        conn.execute("select pymem.remember('shared-user', 'planted', p_metadata => '{\"tenant_id\": \"tenant-a\"}')")
        assert conn.execute("select tenant_id from _pymem.memories where content = 'planted'").fetchone()[0] == "tenant-b"
    _a_unchanged(db, two_tenants)


def test_admin_functions_are_closed_to_tenant_roles(db, two_tenants):
    with as_role(db, two_tenants["role_b"]) as conn:
        for statement in ["select pymem.create_tenant('tenant-c')",
                          "select pymem.drop_tenant('tenant-a')",
                          "select * from pymem.list_tenants()",
                          "select pymem.tenant_role('tenant-a')",
                          "select _pymem.provision_tenant(t) from _pymem.tenants t",
                          "select _pymem.install_id()"]:
            assert sqlstate_of(conn, statement) == DENIED, statement
    _a_unchanged(db, two_tenants)


def test_tables_directly_as_b(db, two_tenants):
    with as_role(db, two_tenants["role_b"]) as conn:
        # Read and count: only B's rows exist for B.
        assert conn.execute("select count(*) from _pymem.memories where tenant_id = 'tenant-a'").fetchone()[0] == 0
        assert {r[0] for r in conn.execute("select distinct tenant_id from _pymem.memories")} == {"tenant-b"}
        assert conn.execute("select count(*) from _pymem.memory_versions where tenant_id = 'tenant-a'").fetchone()[0] == 0
        assert conn.execute("select count(*) from _pymem.episodes where tenant_id = 'tenant-a'").fetchone()[0] == 0
        assert [r[0] for r in conn.execute("select tenant_id from _pymem.tenants")] == ["tenant-b"]
        for memory_id in two_tenants["a_ids"]:
            assert conn.execute("select count(*) from _pymem.memories where id = %s", (memory_id,)).fetchone()[0] == 0
        # Update: A's rows are invisible, so nothing matches.
        assert conn.execute("update _pymem.memories set content = 'pwned' where tenant_id = 'tenant-a'").rowcount == 0
        assert conn.execute("update _pymem.memories set content = 'pwned' where id = %s",
                            (two_tenants["a_ids"][0],)).rowcount == 0
        assert conn.execute("update _pymem.episodes set status = 'dead' where tenant_id = 'tenant-a'").rowcount == 0
        # Moving B's own row into A is refused by the policy's WITH CHECK.
        assert sqlstate_of(conn, "update _pymem.memories set tenant_id = 'tenant-a' where tenant_id = 'tenant-b'") in (
            DENIED, "23514")
        # Insert as A: refused.
        assert sqlstate_of(conn, "insert into _pymem.memories (tenant_id, user_id, kind, content) "
                                 "values ('tenant-a', 'shared-user', 'fact', 'planted')") == DENIED
        assert sqlstate_of(conn, "insert into _pymem.memory_versions (tenant_id, memory_id, user_id, version, operation, snapshot) "
                                 "values ('tenant-a', %s, 'shared-user', 9, 'update', '{}')", (two_tenants["a_ids"][0],)) == DENIED
        assert sqlstate_of(conn, "insert into _pymem.episodes (tenant_id, user_id, messages) "
                                 "values ('tenant-a', 'shared-user', '[]')") == DENIED
        assert sqlstate_of(conn, "insert into _pymem.tenants (tenant_id, role_name, storage_suffix, graph_name) "
                                 "values ('evil', 'x', 'abcdefgh', 'g_evil')") == DENIED
        # Delete: no tenant may delete rows directly at all; history is append-only.
        for table in ("memories", "memory_versions", "episodes", "tenants"):
            assert sqlstate_of(conn, f"delete from _pymem.{table}") == DENIED, table
        assert sqlstate_of(conn, "update _pymem.memory_versions set reason = 'x'") == DENIED
        assert sqlstate_of(conn, "truncate _pymem.memories") == DENIED
        assert sqlstate_of(conn, "select * from _pymem.install") == DENIED
        # The decay sweep's place names another tenant's memory; moving it would skip theirs.
        assert sqlstate_of(conn, "select * from _pymem.decay_cursor") == DENIED
        assert sqlstate_of(conn, "update _pymem.decay_cursor set tenant_id = null, id = null") == DENIED
        assert sqlstate_of(conn, "delete from _pymem.pending_backfills") == DENIED
        assert sqlstate_of(conn, "select * from _pymem.alembic_version") == DENIED
    _a_unchanged(db, two_tenants)


def test_a_partition_directly_as_b(db, two_tenants):
    partition = two_tenants["partition_a"]
    with as_role(db, two_tenants["role_b"]) as conn:
        for statement in [f"select * from {partition}",
                          f"select count(*) from {partition}",
                          f"update {partition} set content = 'pwned'",
                          f"delete from {partition}",
                          f"insert into {partition} (tenant_id, user_id, kind, content) values ('tenant-a', 'u', 'fact', 'x')",
                          f"insert into {partition} (tenant_id, user_id, kind, content) values ('tenant-b', 'u', 'fact', 'x')"]:
            assert sqlstate_of(conn, statement) == DENIED, statement
    _a_unchanged(db, two_tenants)


def test_a_graph_as_b(db, two_tenants):
    graph = two_tenants["graph_a"]
    with as_role(db, two_tenants["role_b"]) as conn:
        assert sqlstate_of(conn, f"select * from {graph}._ag_label_vertex") == DENIED
        assert sqlstate_of(conn, f"insert into {graph}._ag_label_vertex (properties) values ('{{}}')") == DENIED
        state = sqlstate_of(conn, f"select * from ag_catalog.cypher('{graph}', $$ MATCH (n) RETURN n $$) as (n ag_catalog.agtype)")
        assert state == DENIED
        state = sqlstate_of(conn, f"select * from ag_catalog.cypher('{graph}', $$ CREATE (n:Planted) RETURN n $$) as (n ag_catalog.agtype)")
        assert state == DENIED
    # Not even A's own role reaches AGE directly: only pymem's graph functions (run as the
    # owner, the graph derived from the acting tenant) do. A owns no graph table.
    with as_role(db, two_tenants["role_a"]) as conn:
        assert sqlstate_of(conn, f"select * from ag_catalog.cypher('{graph}', $$ MATCH (n) RETURN n $$) "
                                 "as (n ag_catalog.agtype)") == DENIED
        assert conn.execute("select * from pymem.graph_entities('alice')").fetchall() == []
    with db.connect() as conn:
        owners = {r[0] for r in conn.execute(
            "select distinct pg_get_userbyid(c.relowner) from pg_class c where c.relnamespace = %s::regnamespace",
            (graph,))} | {conn.execute("select pg_get_userbyid(nspowner) from pg_namespace where nspname = %s",
                                       (graph,)).fetchone()[0]}
    assert owners == {"postgres"}


def test_roles_are_not_members_of_each_other_and_the_service_role_holds_no_rights(db, two_tenants):
    role_a, role_b = two_tenants["role_a"], two_tenants["role_b"]
    service = db.service_role
    with db.connect() as conn:
        assert conn.execute("select pg_has_role(%s, %s, 'member')", (role_b, role_a)).fetchone()[0] is False
        assert conn.execute("select pg_has_role(%s, %s, 'usage')", (service, role_a)).fetchone()[0] is False
        assert conn.execute("select pg_has_role(%s, %s, 'set')", (service, role_a)).fetchone()[0] is True
    with psycopg.connect(db.service_dsn, autocommit=True) as conn:
        # Without SET ROLE the service role can touch no tenant data, directly or via functions.
        assert sqlstate_of(conn, "select count(*) from _pymem.memories") == DENIED
        assert sqlstate_of(conn, "select * from pymem.retrieve('shared-user', 'vault')") == DENIED
        assert sqlstate_of(conn, "select pymem.remember('shared-user', 'x')") == DENIED
    with as_role(db, role_b) as conn:
        # A tenant role cannot reach the service role's rights either.
        assert sqlstate_of(conn, "select * from pymem.list_tenants()") == DENIED


def test_settable_settings_do_not_change_the_tenant(db, two_tenants):
    """The tenant comes from the role; no GUC a session can set changes it."""
    with as_role(db, two_tenants["role_b"]) as conn:
        conn.execute("set application_name = 'tenant-a'")
        conn.execute("select set_config('pymem.tenant_id', 'tenant-a', false)")
        assert conn.execute("select count(*) from _pymem.memories where tenant_id = 'tenant-a'").fetchone()[0] == 0
        assert conn.execute("select _pymem.current_tenant_id()").fetchone()[0] == "tenant-b"


@pytest.mark.parametrize("hostile", ["tenant-a' or '1'='1", "tenant-a; drop table _pymem.memories; --",
                                     "tenant-a\u0000", "x" * 10_000, "tenant-ä", "ten ant"])
def test_hostile_tenant_ids_fail_clearly_and_leak_nothing(client, db, two_tenants, hostile):
    from pymem.client import InvalidInput

    with pytest.raises(InvalidInput):
        client.tenant(hostile).retrieve("shared-user", "vault")
    with pytest.raises(InvalidInput):
        client.create_tenant(hostile)
    if "\x00" not in hostile:
        with as_role(db, two_tenants["role_b"]) as conn:
            # Hostile user ids are just text: they match nothing and break nothing.
            assert conn.execute("select count(*) from pymem.retrieve(%s, 'vault')", (hostile[:256],)).fetchone()[0] == 0
    _a_unchanged(db, two_tenants)
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.tenants").fetchone()[0] == 2
