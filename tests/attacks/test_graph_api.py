"""No text a tenant sends reaches Cypher or AGE (issue 31, item 1).

pymem.cypher() checked the caller's Cypher against an allow-list: AGE read a quote inside a
backtick name differently from the check, and the rest of the text ran as SQL as the install
owner (every tenant's rows, the tombstone key, pg_read_file, another backend terminated).
Through the same check, age_vertex_stats with a made-up id crashed the whole cluster. The
graph is now read through fixed functions whose Cypher pymem writes and whose inputs are
bound values; these tests send the published injection and a grammar-aware fuzz of hostile
text through every graph function, as tenant B's role and as B's login, and expect no row of
A's, a documented error at worst, and a server that never restarted.
"""

from __future__ import annotations

import json
import random

import psycopg
import pytest

from ..conftest import unit_vector
from ..helpers import as_role, sqlstate_of

A_SECRET = "vault code 4821"
A_MARKS = ("Marmoset", "Strongroom", A_SECRET)  # A's words; no fragment below contains them
INJECTION = ("select * from cypher($q$RETURN 1 AS `'`$c$, $1) as (r ag_catalog.agtype) where false union all "
             "select array_agg(to_jsonb(m)) from (select tenant_id,user_id,content,current_user who from "
             "_pymem.memories) m order by 1 nulls last limit 1 --'$q$);")
FUZZ_CASES = 5000
FUZZ_WRITES = 300


@pytest.fixture
def world(client, db):
    client.create_tenant("tenant-a")
    client.create_tenant("tenant-b")
    client.tenant("tenant-a").remember(
        "alice", f"Alice is allergic to dogs, {A_SECRET}", embedding=unit_vector(1),
        metadata={"entities": [{"name": "Marmoset", "type": "Animal"}, {"name": "Strongroom", "type": "Thing"}],
                  "relations": [{"predicate": "ALLERGIC_TO", "entity": "Marmoset", "type": "Animal"}]})
    client.tenant("tenant-b").remember(
        "bob", "Bob uses Python and VS Code", embedding=unit_vector(2),
        metadata={"entities": [{"name": "Python", "type": "ProgrammingLanguage"}, {"name": "VS Code", "type": "Tool"}],
                  "relations": [{"predicate": "USES", "entity": "Python", "type": "ProgrammingLanguage"}]})
    login = client.create_login("tenant-b")["login"]
    yield {"role_b": client.tenant_role("tenant-b"), "login_b": login}
    client.drop_login(login)


def _b_sessions(db, world):
    with as_role(db, world["role_b"]) as conn:
        yield "role", conn
    with psycopg.connect(db.server.uri(db.name, user=world["login_b"]), autocommit=True) as conn:
        yield "login", conn


def _postmaster_alive_since(db) -> tuple:
    with db.connect() as conn:
        return conn.execute("select pg_postmaster_start_time(), pg_conf_load_time()").fetchone()


def test_the_published_injection_finds_no_cypher_to_inject_into(db, world):
    for who, conn in _b_sessions(db, world):
        for path in ("", "public, ag_catalog, pymem", "pymem, public"):
            if path:
                conn.execute(f"set search_path = {path}")
            state = sqlstate_of(conn, INJECTION)
            # no such function (42883) or no USAGE on ag_catalog (42501): nothing ran
            assert state in ("42883", "42501"), (who, path, state)
        for name in ("pymem.cypher", "cypher"):
            assert sqlstate_of(conn, f"select * from {name}('MATCH (n) RETURN n', '{{}}'::jsonb)") in ("42883", "42501")


def test_age_functions_are_out_of_reach_of_every_tenant_session(db, world):
    for who, conn in _b_sessions(db, world):
        conn.execute("set search_path = public, ag_catalog")
        for statement in ["select ag_catalog.age_vertex_stats('\"x\"'::ag_catalog.agtype, '1'::ag_catalog.agtype)",
                          "select ag_catalog.age_vle(null, null, null, null, null, null, null)",
                          "select * from ag_catalog.cypher('x', $$ RETURN 1 $$) as (r ag_catalog.agtype)"]:
            assert sqlstate_of(conn, statement) in ("42501", "42883"), (who, statement)


# The pieces hostile text is made of: Cypher's quotes and names, dollar quotes, comments,
# escapes, unicode look-alikes, SQL fragments and AGE function calls.
FRAGMENTS = [
    "`", "'", '"', "\\'", '\\"', "\\\\", "$c$", "$q$", "$$", "$1", "$uid", "/*", "*/", "//", "--", ";",
    "\u2018", "\u2019", "\u201c", "\u201d", "\u02bc", "\uff07", "\x00"[:0], "\t", "\n", " ", "::", "::vertex",
    "(", ")", "[", "]", "{", "}", "*1..3", "-[", "]-", "->", "<-",
    "MATCH (n) RETURN n", "RETURN 1 AS `'`", "WITH 1 AS `'` RETURN", "DETACH DELETE n", "CREATE (x)",
    "timestamp()", "`timestamp`()", "pg_catalog./**/pg_backend_pid/**/()", "age_vertex_stats(1, 1)",
    "ag_catalog.age_vle", "pg_read_file('/etc/passwd')", "pg_terminate_backend(1)",
    "union all select content from _pymem.memories", "current_user", "' or '1'='1", "`) RETURN n //",
    "Dog", "alice", "Vault", "Python", "VS Code", "bob", "E'\\x27'", "U&'\\0027'",
]


def hostile_texts(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        parts = rng.choices(FRAGMENTS, k=rng.randint(1, 8))
        if rng.random() < 0.3:  # nested: a fragment wrapped in another's quotes
            quote = rng.choice(["`", "'", '"', "$c$"])
            parts = [quote, *parts, quote]
        yield "".join(parts)[:200] or "x"


GRAPH_CALLS = [
    ("select * from pymem.graph_neighbors(%s, %s, %s)", lambda t, rng: (rng.choice(["bob", "alice", t]), t,
                                                                          rng.randint(1, 3))),
    ("select * from pymem.graph_paths(%s, %s, %s, %s)", lambda t, rng: (rng.choice(["bob", "alice"]), t,
                                                                          rng.choice(["Python", "Marmoset", t]),
                                                                          rng.randint(1, 3))),
    ("select * from pymem.graph_entities(%s)", lambda t, rng: (rng.choice(["alice", t]),)),
    ("select * from pymem.graph_facts(%s)", lambda t, rng: (t,)),
]


def test_fuzzed_graph_api_returns_nothing_of_another_tenant_and_never_crashes(db, world, client):
    started = _postmaster_alive_since(db)
    sentinel = psycopg.connect(db.admin_dsn, autocommit=True)  # a crash would end it too
    outcomes: dict[str, int] = {}
    rng = random.Random(31)
    bob = client.tenant("tenant-b")
    try:
        # Hostile entity names stored by B become AGE parameters (graph_link): still only values.
        for i, text in enumerate(hostile_texts(7, FUZZ_WRITES)):
            try:
                bob.remember("bob", f"Bob mentions thing {i}", embedding=unit_vector(3 + i % 50),
                             metadata={"entities": [{"name": text, "type": "Thing"}, {"name": "Python",
                                                                                      "type": "ProgrammingLanguage"}],
                                       "relations": [{"predicate": "USES", "entity": text, "type": "Thing"}]})
                outcomes["write:ok"] = outcomes.get("write:ok", 0) + 1
            except pymem_errors() as exc:
                state = getattr(exc, "sqlstate", None) or "client"
                assert state.startswith("22") or state == "client", (text, exc)
                outcomes[f"write:{state[:2]}"] = outcomes.get(f"write:{state[:2]}", 0) + 1
        with as_role(db, world["role_b"]) as conn:
            conn.execute("set statement_timeout = '10s'")
            for text in hostile_texts(31, FUZZ_CASES):
                statement, make = rng.choice(GRAPH_CALLS)
                args = make(text, rng)
                try:
                    rows = conn.execute(statement, args).fetchall()
                    outcome = "ok"
                    dumped = json.dumps(rows, default=str)
                    assert not any(mark in dumped for mark in A_MARKS), (args, rows)
                except psycopg.OperationalError:
                    raise  # the server or the connection went away
                except psycopg.Error as exc:
                    outcome = exc.sqlstate or "client-side"
                    assert outcome == "client-side" or outcome.startswith("22"), (statement, args, exc)
                outcomes[outcome[:2]] = outcomes.get(outcome[:2], 0) + 1
            # B's own graph still answers
            assert ("Python",) in [r[:1] for r in conn.execute("select * from pymem.graph_entities('bob', 1000)")]
        assert sentinel.execute("select 1").fetchone() == (1,)
    finally:
        sentinel.close()
    assert _postmaster_alive_since(db) == started
    assert sum(v for k, v in outcomes.items() if not k.startswith("write")) == FUZZ_CASES
    assert client.tenant("tenant-a").export_user("alice")["memories"][0]["content"].endswith(A_SECRET)
    print(f"\ngraph fuzz: {FUZZ_CASES} reads, {FUZZ_WRITES} writes, outcomes {dict(sorted(outcomes.items()))}")


def pymem_errors():
    import pymem

    return (pymem.PymemError,)
