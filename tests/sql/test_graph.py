"""The knowledge graph: typed entities and relations per tenant, supersession closes edges,
graph-aware retrieval, and isolation of graphs between tenants."""

import datetime as dt

import pytest

from pymem.embed import HTTPEmbedder
from pymem.worker.extract import RuleExtractor
from pymem.worker.worker import Worker, WorkerConfig

from ..embedding_server import EmbeddingEndpoint
from ..helpers import as_role, sqlstate_of

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture
def extracted(client, db):
    """Runs the real extraction path (ingest -> worker) for a list of (user, text)."""
    client.create_tenant("acme", exist_ok=True)
    acme = client.tenant("acme")
    db.declare_embedding_model("m")
    with EmbeddingEndpoint() as endpoint:
        worker = Worker(db.service_dsn, embedder=HTTPEmbedder(endpoint.url, "m"),
                        extractor=RuleExtractor(), config=WorkerConfig())

        def run(*statements, observed_at=None):
            for user, text in statements:
                acme.ingest(user, text, observed_at=observed_at)
            worker.run(once=True)
            return acme

        yield run


def facts(tenant_client, user, as_of=None):
    rows = tenant_client.client._call("graph_facts", {"user_id": user, "as_of": as_of}, role=tenant_client.role)
    return sorted((r["predicate"], r["entity"], r["entity_type"]) for r in rows)


def test_dogs_and_hot_dogs_are_different_entities_in_the_graph(extracted):
    acme = extracted(("alice", "I'm allergic to dogs"), ("alice", "I love hot dogs"))
    assert facts(acme, "alice") == [("ALLERGIC_TO", "Dog", "Animal"), ("LIKES", "Hot dog", "Food")]


def test_graph_aware_retrieval_matches_types(extracted):
    acme = extracted(("alice", "I'm allergic to dogs"), ("alice", "I love hot dogs"))
    food = [r for r in acme.retrieve("alice", "what food does the user like?", top_k=10) if r.kind != "episode"]
    assert food[0].content == "User likes hot dogs"
    assert [r.content for r in food].index("User is allergic to dogs") > 0
    assert food[0].graph_score > 0 and next(r for r in food if "allergic" in r.content).graph_score == 0
    visit = [r for r in acme.retrieve("alice", "can I bring my dog when I visit?", top_k=10) if r.kind != "episode"]
    assert visit[0].content == "User is allergic to dogs"
    assert visit[0].graph_score == 1.0


def test_supersession_closes_edges_and_graph_facts_answers_as_of(extracted):
    t0, t1 = NOW - dt.timedelta(days=10), NOW - dt.timedelta(days=2)
    extracted(("bob", "I live in Lisbon"), observed_at=t0)
    acme = extracted(("bob", "I moved to Berlin"), observed_at=t1)
    assert facts(acme, "bob") == [("LIVES_IN", "Berlin", "Place")]
    assert facts(acme, "bob", as_of=t0 + dt.timedelta(days=1)) == [("LIVES_IN", "Lisbon", "Place")]
    assert facts(acme, "bob", as_of=t0 - dt.timedelta(days=1)) == []


def test_neighbors_entities_paths_and_no_cypher(extracted, db, client):
    extracted(("carol", "I mostly use VS Code and Python"))
    role = client.tenant_role("acme")
    with as_role(db, role) as conn:
        rows = conn.execute("select entity, entity_type, hops from pymem.graph_neighbors('carol', 'VS Code', 1)").fetchall()
        assert rows == [("Python", "ProgrammingLanguage", 1)]
        entities = conn.execute("select entity, memories, relation_types from pymem.graph_entities('carol')").fetchall()
        assert sorted(entities) == [("Python", 2, ["USES"]), ("VS Code", 2, ["USES"])]  # the turn and its memory
        assert conn.execute("select path, hops from pymem.graph_paths('carol', 'vs code', 'Python')").fetchall() == [
            (["VS Code", "Python"], 1)]
        assert conn.execute("select count(*) from pymem.graph_paths('carol', 'VS Code', 'Nowhere')").fetchone()[0] == 0
        assert "USES" in [r[0] for r in conn.execute("select * from pymem.graph_relation_types()")]
        # No function takes Cypher text any more.
        assert conn.execute("select count(*) from pg_proc where proname = 'cypher' "
                            "and pronamespace = 'pymem'::regnamespace").fetchone()[0] == 0


def test_other_tenants_cannot_reach_the_graph(extracted, client, db):
    extracted(("alice", "I'm allergic to dogs"))
    client.create_tenant("other")
    other_role = client.tenant_role("other")
    with db.connect() as conn:
        graph_a = conn.execute("select graph_name from _pymem.tenants where tenant_id = 'acme'").fetchone()[0]
    with as_role(db, other_role) as conn:
        # Every graph function derives the graph from the role: B sees its own (empty) graph.
        assert conn.execute("select count(*) from pymem.graph_facts('alice')").fetchone()[0] == 0
        assert conn.execute("select count(*) from pymem.graph_neighbors('alice', 'Dog', 2)").fetchone()[0] == 0
        assert conn.execute("select count(*) from pymem.graph_entities('alice')").fetchone()[0] == 0
        assert conn.execute("select count(*) from pymem.graph_paths('alice', 'Dog', 'Dog')").fetchone()[0] == 0
        assert conn.execute("select count(*) from _pymem.memory_entities").fetchone()[0] == 0
        assert conn.execute("select count(*) from _pymem.graph_scores('acme', 'alice', 'dogs', 10)").fetchone()[0] == 0
        # And A's graph directly: permission denied.
        assert sqlstate_of(conn, f"select * from ag_catalog.cypher('{graph_a}', $$ MATCH (n) RETURN n $$) "
                                 "as (n ag_catalog.agtype)") == "42501"
        assert sqlstate_of(conn, f"select _pymem.graph_exec('{graph_a}', 'MATCH (n) DETACH DELETE n RETURN n', '{{}}')") == "42501"


def test_bad_graph_arguments(extracted, client, db):
    extracted(("alice", "I'm allergic to dogs"))
    with as_role(db, client.tenant_role("acme")) as conn:
        assert sqlstate_of(conn, "select * from pymem.graph_neighbors('alice', 'Dog', 9)") == "22023"
        assert sqlstate_of(conn, "select * from pymem.graph_paths('alice', 'Dog', 'Cat', 4)") == "22023"
        assert sqlstate_of(conn, "select * from pymem.graph_paths('alice', repeat('x', 201), 'Cat')") == "22023"
        assert sqlstate_of(conn, "select * from pymem.graph_entities('alice', 0)") == "22023"
