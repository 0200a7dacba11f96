"""Attacks through extension functions and shared locks, acting as tenant B's role and as
B's login role against tenant A (issue 15, items 1-5). Every attempt must fail with a
permission error or a clean error, and leave A's data and the server as they were.

Run with the embedded (superuser) owner, which can revoke the extensions' PUBLIC grants.
"""

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from ..conftest import unit_vector
from ..helpers import as_role, sqlstate_of

DENIED = "42501"


@pytest.fixture
def world(client, db):
    client.create_tenant("tenant-a")
    client.create_tenant("tenant-b")
    a = client.tenant("tenant-a")
    a.remember("alice", "Alice is allergic to dogs, vault code 4821", embedding=unit_vector(1),
               metadata={"entities": [{"name": "Dog", "type": "Animal"}],
                         "relations": [{"predicate": "ALLERGIC_TO", "entity": "Dog", "type": "Animal"}]})
    client.tenant("tenant-b").remember("bob", "Bob likes tea", embedding=unit_vector(2))
    login = client.create_login("tenant-b")["login"]
    with db.connect() as conn:
        a_row = conn.execute("select graph_name, storage_suffix from _pymem.tenants where tenant_id = 'tenant-a'").fetchone()
        vertex = conn.execute(sql.SQL("select id::text from {}._ag_label_vertex limit 1").format(
            sql.Identifier(a_row[0]))).fetchone()[0]
    yield {"graph_a": a_row[0], "index_a": f"_pymem.memories_{a_row[1]}_bm25", "vertex_a": vertex,
           "role_a": client.tenant_role("tenant-a"), "role_b": client.tenant_role("tenant-b"), "login_b": login}
    client.drop_login(login)


def sessions(db, world):
    """B's role (SET ROLE through the service role) and B's login, each with the extension
    schemas on its path (a session may set its own path)."""
    with as_role(db, world["role_b"]) as conn:
        conn.execute("set search_path = public, ag_catalog, pymem")
        yield conn
    with psycopg.connect(db.server.uri(db.name, user=world["login_b"]), autocommit=True) as conn:
        conn.execute("set search_path = public, ag_catalog")
        yield conn


def _a_fingerprint(db):
    with db.connect() as conn:
        return conn.execute("select count(*), md5(string_agg(content || status, ',' order by id)) from _pymem.memories "
                            "where tenant_id = 'tenant-a'").fetchone()


def test_another_tenants_graph_is_out_of_reach(db, world):
    """Item 3: AGE's functions take a graph by name (age_vle returned B's user and edges)."""
    before = _a_fingerprint(db)
    for conn in sessions(db, world):
        graph = world["graph_a"]
        for statement in [
            f"select * from ag_catalog.cypher('{graph}', $$ MATCH (n) RETURN n $$) as (n ag_catalog.agtype)",
            "select ag_catalog.create_graph('planted')",
            f"select * from ag_catalog.age_vle('\"{graph}\"'::ag_catalog.agtype, null, null, null, null, null, null)",
            f"select * from {graph}._ag_label_vertex",
        ]:
            assert sqlstate_of(conn, statement) in (DENIED, "42883"), statement  # 42883: no USAGE, so not even found
    assert _a_fingerprint(db) == before


def test_a_tenant_owns_no_table_that_owner_run_code_reads(db, world):
    """Item 1: a tenant that owned its label tables could add a forced policy calling its own
    function, which the owner-run erasure then executed."""
    with db.connect() as conn:
        owned = conn.execute("select c.oid::regclass::text from pg_class c where c.relowner = to_regrole(%s) "
                             "and c.relkind in ('r', 'p', 'S', 'v', 'm')", (world["role_a"],)).fetchall()
    assert owned == []
    with as_role(db, world["role_a"]) as conn:
        assert sqlstate_of(conn, sql.SQL("create policy planted on {}._ag_label_vertex using (true)").format(
            sql.Identifier(world["graph_a"])).as_string(conn)) == DENIED
    erased = psycopg.connect(db.service_dsn, autocommit=True)
    with erased:
        erased.execute(sql.SQL("set role {}").format(sql.Identifier(world["role_a"])))
        assert erased.execute("select pymem.erase_user('alice')").fetchone()[0]["residual"] == 0


def test_another_tenants_bm25_index_is_out_of_reach(db, world):
    """Item 2: to_bm25query(word, <B's index>) and the score function needed no privilege."""
    for conn in sessions(db, world):
        index = world["index_a"]
        for statement in [f"select to_bm25query('vault', '{index}')",
                          f"select bm25_dump_index('{index}')",
                          f"select bm25_summarize_index('{index}')",
                          "select bm25_text_text_score('vault code', 'vault')"]:
            assert sqlstate_of(conn, statement) in (DENIED, "42883"), statement
    with as_role(db, world["role_b"]) as conn:  # B's own lexical search still works
        rows = conn.execute("select tenant_id, content from pymem.retrieve('bob', 'tea')").fetchall()
        assert rows == [("tenant-b", "Bob likes tea")]


def test_no_tenant_can_take_an_advisory_lock(db, world):
    """Item 5: one login took 93,376 advisory locks and kept them (out of shared memory), and
    could hold the locks the sweeps and erasure use."""
    for conn in sessions(db, world):
        for statement in ["select pg_advisory_lock(1)", "select pg_try_advisory_lock(1)",
                          "select pg_advisory_lock_shared(1, 2)", "select pg_advisory_xact_lock(1)"]:
            assert sqlstate_of(conn, statement) == DENIED, statement
    with psycopg.connect(db.service_dsn, autocommit=True) as conn:  # the scheduler's own lock
        assert conn.execute("select pg_try_advisory_lock(7)").fetchone()[0] is True
        assert conn.execute("select pg_advisory_unlock(7)").fetchone()[0] is True


def test_relations_cannot_create_labels(db, client, world):
    """Item 5: metadata.relations created one AGE label per predicate (200 from one request)."""
    labels = ("select array_agg(l.name::text order by l.name) from ag_catalog.ag_label l "
              "join ag_catalog.ag_graph g on g.graphid = l.graph where g.name = %s")
    with db.connect() as conn:
        vocabulary = {row[0] for row in conn.execute("select unnest(_pymem.relation_predicates())")}
    client.tenant("tenant-a").remember("alice", "Alice knows many things", metadata={
        "entities": [{"name": f"Thing {i}", "type": "Thing"} for i in range(200)],
        "relations": [{"predicate": f"PLANTED_{i}", "entity": f"Thing {i}", "type": "Thing"} for i in range(200)]})
    with db.connect() as conn:
        after = set(conn.execute(labels, (world["graph_a"],)).fetchone()[0])
        links = conn.execute("select count(*) from _pymem.memory_entities where tenant_id = 'tenant-a' "
                             "and entity_name like 'Thing %%'").fetchone()[0]
    assert not any(label.startswith("PLANTED") for label in after)
    assert after <= vocabulary | {"_ag_label_vertex", "_ag_label_edge", "User", "Entity", "RELATED"}
    assert links == 50  # entities per memory are capped too


def test_graph_functions_refuse_another_tenants_rows(db, world):
    """The graph functions run as the owner: a row of A's passed by B is refused."""
    with db.connect() as conn:
        row = conn.execute("select to_jsonb(m) - 'embedding' from _pymem.memories m where tenant_id = 'tenant-a' "
                           "limit 1").fetchone()[0]
    with as_role(db, world["role_b"]) as conn:
        for fn in ("graph_link", "graph_close"):
            assert sqlstate_of(conn, f"select _pymem.{fn}(jsonb_populate_record(null::_pymem.memories, %s))",
                               (Jsonb(row),)) == DENIED
