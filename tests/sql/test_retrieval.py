"""pymem.retrieve: components, fusion modes, settings, context turns, visibility, token budget,
filters, the graph extension point, the lexical fallback, reindexing, and the client's query
cache and format_context. Real database, acting as the tenant role through the client."""

import datetime as dt
import threading
import time

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from click.testing import CliRunner

import pymem
from pymem.cli import main
from pymem.client import InvalidInput, Memory, format_context

from ..conftest import unit_vector

DAY = dt.timedelta(days=1)
FACTS_ONLY = ["fact", "preference", "event", "procedural"]


@pytest.fixture
def acme(client):
    client.create_tenant("acme")
    return client.tenant("acme")


def _age(db, memory_id, *, days: float, **columns):
    """Move a memory into the past (created, valid from and observed ``days`` ago)."""
    when = dt.datetime.now(dt.timezone.utc) - days * DAY
    sets = {"created_at": when, "valid_from": when, "observed_at": when, **columns}
    with db.connect() as conn:
        assignments = psycopg.sql.SQL(", ").join(
            psycopg.sql.SQL("{} = %s").format(psycopg.sql.Identifier(k)) for k in sets)
        conn.execute(psycopg.sql.SQL("update _pymem.memories set {} where id = %s").format(assignments),
                     [*sets.values(), memory_id])
    return when


# -- scores ---------------------------------------------------------------------------


def test_weighted_score_is_the_sum_of_its_components(acme):
    acme.remember("alice", "Alice adopted a grey cat named Miso", embedding=unit_vector(1), importance=0.9)
    acme.remember("alice", "Alice's cat Miso hates the vacuum cleaner", embedding=unit_vector(2))
    acme.remember("alice", "Alice works as a nurse", embedding=unit_vector(3))
    results = acme.retrieve("alice", "cat Miso", query_embedding=unit_vector(1))
    assert len(results) == 3
    for r in results:
        assert r.context_score == 0
        assert r.score == pytest.approx(0.6 * r.vector_score + 0.25 * r.lexical_score + 0.15 * r.recency_score
                                        + 0.2 * r.graph_score)
    assert results[0].graph_score == 1.0  # "cat" names an entity the memory is linked to
    assert max(r.lexical_score for r in results) == pytest.approx(1.0)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_rrf_fusion_sums_weight_over_k_plus_rank(acme):
    for i, text in enumerate(["blue kayak trip on the lake", "kayak paddles need repair", "bought a red bicycle"]):
        acme.remember("bob", text, embedding=unit_vector(20 + i), importance=0.2 + 0.3 * i)
    results = acme.retrieve("bob", "kayak lake", query_embedding=unit_vector(20),
                            options={"fusion": "rrf", "rrf_k": 10})

    def ranks(values):  # rank() semantics: ties share a rank; zeros do not count
        return [1 + sum(w > v for w in values) if v > 0 else None for v in values]

    weights = {"vector_score": 0.6, "lexical_score": 0.25, "recency_score": 0.15, "graph_score": 0.2}
    expected = [0.0] * len(results)
    for component, weight in weights.items():
        for i, rank in enumerate(ranks([getattr(r, component) for r in results])):
            if rank:
                expected[i] += weight / (10 + rank)
    assert [r.score for r in results] == pytest.approx(expected)
    assert results[0].content == "blue kayak trip on the lake"


def test_tenant_settings_and_call_options_override_the_defaults(client):
    client.create_tenant("lex", settings={"weight_vector": 0, "weight_lexical": 1, "weight_temporal": 0,
                                          "weight_graph": 0})
    lex = client.tenant("lex")
    lex.remember("u", "the quarterly report is due friday", embedding=unit_vector(5))
    lex.remember("u", "lunch at noon", embedding=unit_vector(6))
    results = lex.retrieve("u", "quarterly report", query_embedding=unit_vector(6))
    assert results[0].content == "the quarterly report is due friday"
    assert all(r.score == pytest.approx(r.lexical_score) for r in results)
    # A call may override; the tenant's settings change with update_tenant_settings.
    vector_first = lex.retrieve("u", "quarterly report", query_embedding=unit_vector(6),
                                options={"weight_vector": 1, "weight_lexical": 0})
    assert vector_first[0].content == "lunch at noon"
    settings = client.update_tenant_settings("lex", {"weight_lexical": None, "hnsw_ef_search": 200})
    assert settings["weight_lexical"] == 0.25 and settings["hnsw_ef_search"] == 200


@pytest.mark.parametrize("options, message", [
    ({"weight_vector": -1}, "weight_vector must be a number between 0 and 100"),
    ({"candidate_pool": 0}, "candidate_pool must be an integer"),
    ({"candidate_pool": 2.5}, "candidate_pool must be an integer"),
    ({"fusion": "max"}, 'fusion must be "weighted" or "rrf"'),
    ({"context_weights": [0.5, "x"]}, "context_weights must be an array"),
    ({"hnsw_m": 8}, "unknown retrieval option 'hnsw_m'"),
    ({"tenant_id": "other"}, "unknown retrieval option 'tenant_id'"),
])
def test_bad_options_are_rejected(acme, options, message):
    with pytest.raises(InvalidInput, match=message):
        acme.retrieve("u", "anything", options=options)


def test_bad_tenant_settings_are_rejected(client):
    with pytest.raises(InvalidInput, match="bm25_b must be a number between 0 and 1"):
        client.create_tenant("bad", settings={"bm25_b": 2})
    client.create_tenant("good")
    with pytest.raises(InvalidInput, match="hnsw_m must be an integer"):
        client.update_tenant_settings("good", {"hnsw_m": 1})
    with pytest.raises(InvalidInput, match="text_config must name"):
        client.update_tenant_settings("good", {"text_config": "klingon"})


# -- determinism, visibility, budget, filters -----------------------------------------


def test_same_query_same_order_every_time(acme):
    for i in range(30):
        acme.remember("carol", f"note {i} about gardening and tomatoes", embedding=unit_vector(40 + i),
                      kind="episode" if i % 2 else "fact", session_id=f"s{i // 10}")
    # (Scores move in the tenth decimal between calls: recency is measured at now().)
    first = [r.id for r in acme.retrieve("carol", "tomatoes gardening", query_embedding=unit_vector(40), top_k=20)]
    assert len(first) == 20
    for _ in range(5):
        again = [r.id for r in acme.retrieve("carol", "tomatoes gardening", query_embedding=unit_vector(40), top_k=20)]
        assert again == first


def test_superseded_and_archived_memories_appear_only_as_of_the_past(acme, db):
    old = acme.remember("dan", "Dan lives in Berlin", kind="fact")
    new = acme.remember("dan", "Dan lives in Lisbon", kind="fact")
    archived = acme.remember("dan", "Dan lives with two roommates", kind="fact")
    _age(db, old, days=30)
    moved = _age(db, new, days=10)
    _age(db, archived, days=20, status="archived")
    with db.connect() as conn:
        conn.execute("update _pymem.memories set status = 'superseded', valid_to = %s, superseded_by = %s "
                     "where id = %s", (moved, new, old))
    now = acme.retrieve("dan", "where does Dan live")
    assert [r.id for r in now] == [new]
    then = acme.retrieve("dan", "where does Dan live", as_of=dt.datetime.now(dt.timezone.utc) - 15 * DAY)
    assert {r.id for r in then} == {old, archived}
    before_all = acme.retrieve("dan", "where does Dan live", as_of=dt.datetime.now(dt.timezone.utc) - 40 * DAY)
    assert before_all == []


@pytest.mark.parametrize("budget", [1, 5, 12, 30, 60, 200, 10_000])
def test_token_budget_is_never_exceeded_and_cuts_a_prefix(acme, budget):
    for i in range(10):
        acme.remember("erin", f"budget line {i} " + "word " * (3 * i), embedding=unit_vector(60 + i))
    full = acme.retrieve("erin", "budget line", query_embedding=unit_vector(60), top_k=10)
    cut = acme.retrieve("erin", "budget line", query_embedding=unit_vector(60), top_k=10, token_budget=budget)
    assert sum(r.token_count for r in cut) <= budget
    expected, used = [], 0
    for r in full:  # the longest prefix that fits: predictable
        if used + r.token_count > budget:
            break
        used += r.token_count
        expected.append(r.id)
    assert [r.id for r in cut] == expected


def test_filters_kinds_session_agent_metadata_and_time_range(acme, db):
    ids = {}
    for name, kwargs in {
        "a": dict(kind="fact", session_id="s1", agent_id="planner", metadata={"topic": "travel", "lang": "en"}),
        "b": dict(kind="event", session_id="s2", agent_id="planner", metadata={"topic": "travel"}),
        "c": dict(kind="preference", session_id="s2", agent_id="coach", metadata={"topic": "food"}),
    }.items():
        ids[name] = acme.remember("fay", f"trip notes {name}", embedding=unit_vector(80), **kwargs)
    _age(db, ids["a"], days=3)

    def got(**kwargs):
        return {r.id for r in acme.retrieve("fay", "trip notes", query_embedding=unit_vector(80), **kwargs)}

    assert got(kinds=["event", "preference"]) == {ids["b"], ids["c"]}
    assert got(filters={"session_id": "s2"}) == {ids["b"], ids["c"]}
    assert got(filters={"agent_id": "planner"}) == {ids["a"], ids["b"]}
    assert got(filters={"metadata": {"topic": "travel", "lang": "en"}}) == {ids["a"]}
    yesterday = (dt.datetime.now(dt.timezone.utc) - DAY).isoformat()
    assert got(filters={"observed_before": yesterday}) == {ids["a"]}
    assert got(filters={"observed_after": yesterday, "agent_id": "coach"}) == {ids["c"]}


# -- context turns, graph, lexical ----------------------------------------------------


def _conversation(handle, user):
    observed = dt.datetime(2024, 5, 8, 13, 56, tzinfo=dt.timezone.utc)
    turns = ["Hey, how was your weekend?", "Great, we hiked up the volcano on Saturday.",
             "What did you cook for dinner afterwards?", "I made a spicy lentil curry with rice.",
             "Sounds delicious, send me the recipe!"]
    ids = [handle.remember(user, text, kind="episode", session_id="s1", observed_at=observed) for text in turns]
    handle.remember(user, "Unrelated: my printer ran out of ink.", kind="episode", session_id="s2",
                    observed_at=observed + DAY)
    return ids


def test_a_matching_turn_brings_its_neighbours_with_a_context_score(acme):
    ids = _conversation(acme, "gil")
    no_graph = {"weight_graph": 0}  # (cooking hints at food: the graph would find the curry itself)
    results = acme.retrieve("gil", "what did you cook for dinner", options=no_graph)
    by_id = {r.id: r for r in results}
    assert results[0].id == ids[2]  # the question itself matches best
    answer = by_id[ids[3]]  # the reply shares no word with the query, yet it is found
    assert answer.lexical_score == 0 and answer.context_score > 0
    assert answer.context_score == pytest.approx(0.35 * results[0].score - 0.35 * results[0].context_score
                                                 + 0.2 * (results[0].score - results[0].context_score))
    assert ids[0] in by_id and ids[4] in by_id  # two turns away
    assert all(r.session_id == "s1" for r in results)
    off = acme.retrieve("gil", "what did you cook for dinner",
                        options={**no_graph, "context_weights": [], "context_session_weight": 0})
    assert [r.id for r in off] == [ids[2]]


def _turns_with_vectors(handle, user, order):
    """The same session stored in ``order`` (positions of the turns, by observed_at); each
    turn's embedding is its own, the query's is turn 2's."""
    start = dt.datetime(2024, 5, 8, 13, 56, tzinfo=dt.timezone.utc)
    turns = ["Hey, how was your weekend?", "Great, we hiked up the volcano on Saturday.",
             "What did you cook for dinner afterwards?", "I made a spicy lentil curry with rice.",
             "Sounds delicious, send me the recipe!", "Will do, talk tomorrow."]
    for n in order:
        handle.remember(user, turns[n], kind="episode", session_id="s1", embedding=unit_vector(300 + n),
                        observed_at=start + n * dt.timedelta(minutes=1))


def _context_by_content(handle, user):
    """Each result's context score by its text, in rank order."""
    return {r.content: r.context_score
            for r in handle.retrieve(user, "what did you cook for dinner", query_embedding=unit_vector(302),
                                     options={"weight_graph": 0})}


def test_a_turn_stored_late_takes_its_place_in_the_session_by_observed_at(acme):
    """Neighbours are counted in observed_at order, not in the order turns were stored: a turn
    stored after the others but said before them is the neighbour it was in the conversation."""
    _turns_with_vectors(acme, "in_order", range(6))
    _turns_with_vectors(acme, "late", [0, 1, 2, 4, 5, 3])  # the answer arrives last
    in_order = _context_by_content(acme, "in_order")
    assert in_order["I made a spicy lentil curry with rice."] > 0
    late = _context_by_content(acme, "late")
    assert list(late) == list(in_order) and late == pytest.approx(in_order)


def test_context_scores_are_the_same_on_the_hnsw_path(client, acme):
    """A user past exact_scan_max_rows finds neighbours through the episode-order index, not
    the exact scan: the same context scores."""
    client.create_tenant("wide", settings={"exact_scan_max_rows": 0})
    wide = client.tenant("wide")
    _turns_with_vectors(acme, "gus", range(6))
    _turns_with_vectors(wide, "gus", range(6))
    exact = _context_by_content(acme, "gus")
    assert sum(1 for context in exact.values() if context > 0) >= 4
    hnsw = _context_by_content(wide, "gus")
    assert list(hnsw) == list(exact) and hnsw == pytest.approx(exact)


def test_context_does_not_touch_facts_or_turns_without_a_session(acme):
    acme.remember("hal", "Hal's favourite dinner is ramen", kind="fact")
    acme.remember("hal", "ramen place opens at six", kind="episode")  # no session
    for r in acme.retrieve("hal", "dinner ramen"):
        assert r.context_score == 0


def test_graph_candidates_join_the_pool_and_weigh_with_weight_graph(acme, db):
    target = acme.remember("ida", "Ida's brother is called Tom", kind="fact")
    acme.remember("ida", "Ida likes green tea", kind="fact")
    hidden = acme.remember("ida", "Ida's old brother note", kind="fact")
    acme.forget(hidden)
    with db.connect() as conn:  # a stand-in graph: retrieve only consumes (memory_id, graph_score)
        conn.execute("""
            create or replace function _pymem.graph_scores(p_tenant_id text, p_user_id text, p_query text,
                                                           p_limit integer)
                returns table (memory_id uuid, graph_score double precision)
                language sql stable security invoker set search_path = pg_catalog, public, pg_temp
            as $$ select m.id, 1.0::float8 from _pymem.memories m
                  where m.user_id = p_user_id and m.content like '%brother%' $$""")
    results = acme.retrieve("ida", "family members", options={"weight_graph": 0.5})
    assert [r.id for r in results] == [target]  # the forgotten one stays hidden
    assert results[0].graph_score == 1.0
    assert results[0].score == pytest.approx(0.5 + 0.15 * results[0].recency_score)


def test_lexical_score_is_bm25_over_the_users_own_memories(acme, db):
    acme.remember("joe", "Joe is allergic to peanuts and shellfish")
    acme.remember("joe", "Joe plays the cello")
    acme.remember("joe", "Joe likes peanuts")
    for i in range(5):  # another user's memories say nothing about Joe's words
        acme.remember("other", f"shellfish shellfish number {i}")
    results = acme.retrieve("joe", "which allergies does Joe have? peanuts shellfish")
    assert results[0].content == "Joe is allergic to peanuts and shellfish"
    assert results[0].lexical_score == pytest.approx(1.0)
    by_text = {r.content: r.lexical_score for r in results}
    assert 0 < by_text["Joe likes peanuts"] < 1
    # N = 3 memories of joe, average length 3 lexemes (allergi, peanut, shellfish, joe, cello, play,
    # like): BM25 with k1 1.2, b 0.3, a word counted once per memory.
    with db.connect() as conn:
        assert conn.execute("select documents, lexemes from _pymem.lexical_stats where user_id = 'joe'").fetchone() \
            == (3, 4 + 3 + 3)
    import math
    idf = {w: math.log(1 + (3 - df + 0.5) / (df + 0.5)) for w, df in {"peanut": 2, "shellfish": 1, "joe": 3}.items()}

    def bm25(words, length):
        return sum(idf[w] for w in words) * 2.2 / (1 + 1.2 * (0.7 + 0.3 * length / (10 / 3)))

    best = bm25(["peanut", "shellfish", "joe"], 4)
    assert by_text["Joe likes peanuts"] == pytest.approx(bm25(["peanut", "joe"], 3) / best)


def test_lexical_scores_count_every_memory_in_n_and_only_visible_ones_in_df(acme, db):
    """BM25 as retrieve computes it (in its main statement on the exact path): N and the
    average length count every memory of the user, forgotten ones too; document frequencies
    and candidates only the visible ones; a memory matching four query words sums all four;
    lexical_scan_limit keeps the best."""
    texts = ["Joe is allergic to peanuts and shellfish", "Joe plays the cello at the peanut festival",
             "shellfish stew with peanuts for Joe and Ann", "Ann likes the cello", "a festival of stew and cello",
             "peanuts, shellfish, cello, stew: Joe's list"]
    ids = [acme.remember("lex", text, embedding=unit_vector(40 + n)) for n, text in enumerate(texts)]
    acme.forget(ids[1])
    query = "Joe peanuts shellfish cello stew"
    with db.connect() as conn:
        words = [set(conn.execute("select tsvector_to_array(to_tsvector('english', %s))", (t,)).fetchone()[0])
                 for t in [*texts, query]]
    import math
    docs, terms = words[:-1], words[-1]
    visible = [d for n, d in enumerate(docs) if n != 1]
    average = sum(len(d) for d in docs) / len(docs)

    def bm25(d):
        return sum(math.log(1 + (len(docs) - df + 0.5) / (df + 0.5)) * 2.2 / (1 + 1.2 * (0.7 + 0.3 * len(d) / average))
                   for t in terms & d for df in [sum(1 for v in visible if t in v)])

    expected = {text: bm25(d) for n, (text, d) in enumerate(zip(texts, docs)) if n != 1 and terms & d}
    best = max(expected.values())
    got = {r.content: r.lexical_score for r in acme.retrieve("lex", query, query_embedding=unit_vector(40),
                                                             options={"weight_graph": 0})}
    assert texts[1] not in got and len(expected) == 5 and max(len(terms & d) for d in visible) >= 4
    assert {text: got[text] for text in expected} == pytest.approx({text: s / best for text, s in expected.items()})
    kept = [r.content for r in acme.retrieve("lex", query, query_embedding=unit_vector(40),
                                             options={"weight_graph": 0, "lexical_scan_limit": 2})
            if r.lexical_score > 0]
    assert set(kept) == set(sorted(expected, key=expected.get, reverse=True)[:2])


def test_lexical_candidates_are_the_users_best_lexical_scan_limit(acme):
    for i in range(5):
        acme.remember(f"other{i}", "zebra zebra zebra crossing")
    acme.remember("kim", "a zebra at the zoo")
    acme.remember("kim", "a zebra crossing")
    # Other users' matches take no room: kim's best match stays within a limit of 1.
    got = acme.retrieve("kim", "zebra crossing", options={"lexical_scan_limit": 1, "weight_temporal": 0})
    assert [r.content for r in got if r.lexical_score > 0] == ["a zebra crossing"]
    assert {r.user_id for r in acme.retrieve("kim", "zebra")} == {"kim"}


def test_big_users_take_the_hnsw_path(client):
    client.create_tenant("ann", settings={"exact_scan_max_rows": 5, "hnsw_m": 8, "hnsw_ef_construction": 32})
    ann = client.tenant("ann")
    for i in range(40):
        ann.remember("big", f"memory {i}", embedding=unit_vector(1000 + i))
    got = [r.content for r in ann.retrieve("big", "", query_embedding=unit_vector(1003), top_k=5,
                                           options={"hnsw_ef_search": 40})]
    assert got[0] == "memory 3"


def test_the_path_follows_the_rows_a_user_can_see(client, db):
    """Past exact_scan_max_rows by memories of any status, a user whose active memories are
    no more takes the exact path (their active rows counted from the status index); more
    active memories take the HNSW path, unless a filter narrows them to few."""
    import json

    from ..helpers import as_role

    client.create_tenant("few", settings={"exact_scan_max_rows": 5})
    few = client.tenant("few")
    ids = [few.remember("u", f"memory {i}", embedding=unit_vector(3000 + i), session_id=f"s{i % 2}")
           for i in range(8)]
    for memory_id in ids[:4]:
        assert few.forget(memory_id)

    def path(filters=None):
        with as_role(db, client.tenant_role("few")) as conn:
            notes = []
            conn.add_notice_handler(lambda d: notes.append(d.message_primary))
            conn.execute("set pymem.profile_retrieve = on")
            rows = conn.execute("select content from pymem.retrieve('u', 'memory', %s, 3, p_filters => %s)",
                                (unit_vector(3005), psycopg.types.json.Jsonb(filters) if filters else None)).fetchall()
        profile = json.loads(next(n for n in notes if n.startswith("pymem.retrieve profile "))[23:])
        return profile["path"], rows[0][0]

    assert path() == ("exact", "memory 5")
    for i in range(8, 12):
        few.remember("u", f"memory {i}", embedding=unit_vector(3000 + i), session_id="s2")
    assert path() == ("hnsw", "memory 5")
    assert path({"session_id": "s1"}) == ("exact", "memory 5")


# -- reindex --------------------------------------------------------------------------


def _index_defs(db, tenant_id):
    with db.connect() as conn:
        return dict(conn.execute(
            """select c.relname, pg_get_indexdef(c.oid) from pg_index i join pg_class c on c.oid = i.indexrelid
               where i.indrelid = (select ('_pymem.memories_' || storage_suffix)::regclass
                                   from _pymem.tenants where tenant_id = %s)""", (tenant_id,)).fetchall())


def test_admin_reindex_applies_new_settings_without_blocking_reads(client, db):
    client.create_tenant("re")
    tenant = client.tenant("re")
    for i in range(200):
        tenant.remember("u", f"reindex me {i} apple banana", embedding=unit_vector(2000 + i))
    stop, errors, calls = threading.Event(), [], []

    def reader():
        with pymem.connect(db.service_dsn, embedder=None) as reading:
            handle = reading.tenant("re")
            while not stop.is_set():
                try:
                    handle.retrieve("u", "apple banana", query_embedding=unit_vector(2001), top_k=5)
                    calls.append(1)
                except Exception as exc:  # noqa: BLE001 - any failure is the finding
                    errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = CliRunner().invoke(main, ["--dsn", db.admin_dsn, "admin", "reindex", "--tenant", "re",
                                           "--hnsw-m", "12", "--bm25-b", "0.5", "--json"], catch_exceptions=False)
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert errors == [] and calls
    defs = _index_defs(db, "re")
    suffix = next(name for name in defs if name.endswith("_hnsw")).removesuffix("_hnsw")
    assert "m='12'" in defs[f"{suffix}_hnsw"]
    assert "gin (lexemes)" in defs[f"{suffix}_fts"]
    assert client.tenant_settings("re")["bm25_b"] == 0.5  # applies at query time, no index holds it
    assert not any(name.endswith(("_rebuild", "_old")) for name in defs)
    assert tenant.retrieve("u", "apple banana", top_k=1)[0].content.startswith("reindex me")


def test_doctor_finds_a_short_index_and_names_the_repair(client, db):
    from pymem.admin import index_health, reindex_tenant

    client.create_tenant("hurt", settings={"exact_scan_max_rows": 0})
    client.create_tenant("fine")
    for i in range(30):
        client.tenant("hurt").remember("u", f"hurt memory {i}", embedding=unit_vector(3000 + i))
        client.tenant("fine").remember("u", f"fine memory {i}", embedding=unit_vector(4000 + i))
    with db.connect() as conn:
        suffix = conn.execute("select storage_suffix from _pymem.tenants where tenant_id = 'hurt'").fetchone()[0]
        conn.execute(psycopg.sql.SQL("drop index _pymem.{}").format(psycopg.sql.Identifier(f"memories_{suffix}_fts")))
    health = {h["tenant_id"]: h for h in index_health(db.service_dsn)}  # the worker's check, as the service
    assert health["fine"]["healthy"] and health["fine"]["rows"] == health["fine"]["lexical_indexed"] == 30
    assert health["fine"]["vector_indexed"] == 30
    assert not health["hurt"]["healthy"] and health["hurt"]["lexical_indexed"] == 0
    assert "pymem admin reindex --tenant hurt" in health["hurt"]["repair"]
    result = CliRunner().invoke(main, ["--dsn", db.admin_dsn, "doctor", "--json"])
    assert result.exit_code == 1 and "tenant hurt: 30 rows, the lexical index returns 0" in result.output
    reindex_tenant(db.admin_dsn, "hurt")
    assert all(h["healthy"] for h in index_health(db.service_dsn))


def test_admin_reindex_of_an_unknown_tenant_fails_cleanly(db):
    result = CliRunner().invoke(main, ["--dsn", db.admin_dsn, "admin", "reindex", "--tenant", "nobody"])
    assert result.exit_code == 1 and "unknown tenant" in result.output


# -- client: query cache, format_context ----------------------------------------------


class CountingEmbedder:
    model = "test/sum-of-ords"
    dimensions = 384

    def __init__(self):
        self.calls = []

    def embed(self, texts):
        self.calls.extend(texts)
        return np.stack([unit_vector(sum(map(ord, t))) for t in texts])


def test_query_embeddings_are_cached_lru(db):
    fake = CountingEmbedder()
    db.declare_embedding_model(fake.model)
    with pymem.connect(db.service_dsn, embedder=fake, query_cache_size=2) as client:
        client.create_tenant("cache")
        tenant = client.tenant("cache")
        tenant.remember("u", "something to find")
        fake.calls.clear()
        for query in ["alpha", "alpha", "beta", "alpha", "gamma", "beta"]:
            tenant.retrieve("u", query)
        # alpha (miss) alpha (hit) beta (miss) alpha (hit) gamma (miss, evicts beta) beta (miss)
        assert fake.calls == ["alpha", "beta", "gamma", "beta"]
        assert (client.query_cache.hits, client.query_cache.misses) == (2, 4)
        assert len(client.query_cache) == 2
        tenant.retrieve("u", "   ")  # blank: nothing to embed
        assert fake.calls == ["alpha", "beta", "gamma", "beta"]


def test_the_query_cache_is_shared_within_a_tenant_and_forgets_an_erased_user(db):
    fake = CountingEmbedder()
    db.declare_embedding_model(fake.model)
    with pymem.connect(db.service_dsn, embedder=fake) as client:
        for name in ("c1", "c2"):
            client.create_tenant(name)
        one, two = client.tenant("c1"), client.tenant("c2")
        for tenant, user in [(one, "u"), (one, "u"), (one, "v"), (two, "u"), (one, "w")]:
            tenant.retrieve(user, "what does the user prefer?")
        tenant_only = "a question only w asked"
        one.retrieve("w", tenant_only)
        # Users of one tenant share the entry; the other tenant embeds the text again.
        assert (client.query_cache.hits, client.query_cache.misses) == (3, 3)
        cleared = client.cache_forgetter.cleared
        one.erase_user("u")  # u asked the shared question: that entry goes at once
        assert client.query_cache.get("c1", "v", "what does the user prefer?") is None
        # then every entry, as in every process, when the erasure's notification arrives
        deadline = time.monotonic() + 10
        while client.cache_forgetter.cleared == cleared and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(client.query_cache) == 0
        one.retrieve("v", "what does the user prefer?")
        assert fake.calls.count("what does the user prefer?") == 3  # embedded again, not served from before


def test_format_context_renders_one_line_per_memory():
    when = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    memories = [Memory(id="1", tenant_id="t", user_id="u", kind="preference", content="Prefers dark\nmode",
                       score=0.9, vector_score=0.8, lexical_score=1, recency_score=0.5, graph_score=0,
                       importance=0.5, created_at=when, observed_at=when),
                Memory(id="2", tenant_id="t", user_id="u", kind="fact", content="Lives in Lisbon",
                       score=0.5, vector_score=0.4, lexical_score=0, recency_score=0.5, graph_score=0,
                       importance=0.5, created_at=when, observed_at=when)]
    assert format_context(memories) == (
        "What you know about this user (most relevant first):\n"
        "- Prefers dark mode (preference, 2025-03-01)\n"
        "- Lives in Lisbon (fact, 2025-03-01)")
    assert format_context([]) == "What you know about this user:\nNothing is known about this user yet."
    assert pymem.format_context is format_context


def test_settings_and_reindex_plan_are_closed_to_tenant_roles(client, db):
    from ..helpers import as_role, sqlstate_of

    client.create_tenant("closed")
    with as_role(db, client.tenant_role("closed")) as conn:
        for statement in ["select pymem.update_tenant_settings('closed', '{\"weight_vector\": 1}')",
                          "select * from pymem.reindex_plan('closed')",
                          "select _pymem.search_index_ddl(t, 'hnsw', 'x') from _pymem.tenants t"]:
            assert sqlstate_of(conn, statement) == "42501", statement


def test_retrieve_leaves_the_session_settings_as_it_found_them(acme, client, db):
    from ..helpers import as_role

    acme.remember("lee", "settings stay put", embedding=unit_vector(7))
    with as_role(db, client.tenant_role("acme")) as conn:
        with conn.transaction():
            conn.execute("select set_config('hnsw.ef_search', '77', true)")
            conn.execute("select * from pymem.retrieve('lee', 'settings', %s)", (unit_vector(7),)).fetchall()
            after = conn.execute("select current_setting('enable_seqscan'), current_setting('enable_sort'), "
                                 "current_setting('enable_bitmapscan'), current_setting('hnsw.ef_search'), "
                                 "current_setting('plan_cache_mode')").fetchone()
    assert after == ("on", "on", "on", "77", "auto")


def test_a_session_keeps_the_latest_retrieve_statements_and_answers_the_same(client, db):
    """One connection serving several tenants keeps pymem.retrieve_statements prepared
    statements (the newest), and a call answers the same whether its statement was kept,
    evicted or never prepared."""
    tenants = ["t1", "t2", "t3"]
    for n, tenant_id in enumerate(tenants):
        client.create_tenant(tenant_id)
        client.tenant(tenant_id).remember("u", f"note {n} about kayaks", embedding=unit_vector(n))
    roles = {t: client.tenant_role(t) for t in tenants}

    def statements(conn):
        return conn.execute("select count(*) from pg_prepared_statements "
                            "where name like 'pymem\\_retrieve\\_%'").fetchone()[0]

    def ask(conn, tenant_id):
        conn.execute(psycopg.sql.SQL("set role {}").format(psycopg.sql.Identifier(roles[tenant_id])))
        rows = conn.execute("select tenant_id, content, round(score::numeric, 6) "  # recency moves with now()
                            "from pymem.retrieve('u', 'kayaks', %s)", (unit_vector(0),)).fetchall()
        conn.execute("reset role")
        return rows

    with psycopg.connect(db.service_dsn, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("set pymem.retrieve_statements = 2")
        first = {t: ask(conn, t) for t in tenants}  # t1 is evicted by t3
        assert statements(conn) == 2
        again = {t: ask(conn, t) for t in reversed(tenants)}  # t3, t2 kept; t1 prepared anew
        assert statements(conn) == 2
        assert again == first
        assert all(rows[0][0] == t for t, rows in first.items())
        assert ask(conn, "t1") == first["t1"] and statements(conn) == 2
        conn.execute("deallocate all")
        conn.execute(psycopg.sql.SQL("set role {}").format(psycopg.sql.Identifier(roles["t1"])))
        for bad in ("lots", "0", "1025"):
            conn.execute("select set_config('pymem.retrieve_statements', %s, false)", (bad,))
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="retrieve_statements"):
                conn.execute("select * from pymem.retrieve('u', 'kayaks')")
