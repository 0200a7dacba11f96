"""remember / retrieve / get / list / forget / history through the Python clients (sync and
async, the same cases), on the real database."""

import datetime as dt

import psycopg
import pytest

from pymem.client import AlreadyExists, InvalidInput, NotFound

from ..conftest import unit_vector


@pytest.fixture
def client(any_client):
    """Every test here runs against pymem.connect() and pymem.connect_async()."""
    return any_client


@pytest.fixture
def acme(client):
    client.create_tenant("acme")
    return client.tenant("acme")


def test_remember_then_retrieve_returns_the_memory_with_its_score_components(acme):
    memory_id = acme.remember("alice", "Alice prefers dark mode in every editor", embedding=unit_vector(1),
                              kind="preference", metadata={"source": "chat"})
    acme.remember("alice", "Alice's time zone is Europe/Berlin", embedding=unit_vector(2))
    results = acme.retrieve("alice", "dark mode", query_embedding=unit_vector(1))
    assert [r.id for r in results][0] == memory_id
    top = results[0]
    assert (top.tenant_id, top.user_id, top.kind) == ("acme", "alice", "preference")
    assert top.vector_score == pytest.approx(1.0, abs=1e-5)
    assert top.lexical_score == pytest.approx(1.0)
    assert 0 < top.recency_score <= 1
    assert top.graph_score == 1.0  # "dark mode" is a known entity (Setting) named by the query
    assert top.score == pytest.approx(0.6 * top.vector_score + 0.25 * top.lexical_score
                                      + 0.15 * top.recency_score + 0.2 * top.graph_score)
    assert top.metadata == {"source": "chat"}
    assert len(results) == 2


def test_lexical_only_retrieval_works_without_vectors(acme):
    acme.remember("bob", "Bob is allergic to peanuts")
    acme.remember("bob", "Bob drives a blue bicycle")
    results = acme.retrieve("bob", "peanut allergy")
    assert results[0].content == "Bob is allergic to peanuts"
    assert results[0].vector_score == 0


def test_users_of_one_tenant_do_not_see_each_other(acme):
    acme.remember("alice", "secret of alice", embedding=unit_vector(3))
    acme.remember("bob", "secret of bob", embedding=unit_vector(3))
    assert {r.user_id for r in acme.retrieve("alice", "secret", query_embedding=unit_vector(3))} == {"alice"}


def test_order_is_deterministic_and_ties_go_newer_first_then_id(acme):
    # Episodes are a raw log (never deduplicated), so five identical turns stay five rows.
    ids = [acme.remember("carol", "identical words here", embedding=unit_vector(4), kind="episode")
           for _ in range(5)]
    first = [r.id for r in acme.retrieve("carol", "identical words", query_embedding=unit_vector(4))]
    for _ in range(3):
        assert [r.id for r in acme.retrieve("carol", "identical words", query_embedding=unit_vector(4))] == first
    # Same content and vector: scores tie up to recency (same second); uuid v7 ids grow with
    # time, so newer-first then id-descending means reverse insertion order.
    assert first == list(reversed(ids))


def test_top_k_kinds_and_token_budget(acme):
    for i in range(8):
        acme.remember("dave", f"note number {i} about the garden " + "x" * (40 * i), kind="event" if i % 2 else "fact",
                      embedding=unit_vector(10 + i))
    assert len(acme.retrieve("dave", "garden", top_k=3)) == 3
    assert {r.kind for r in acme.retrieve("dave", "garden", kinds=["event"])} == {"event"}
    full = acme.retrieve("dave", "garden", top_k=8)
    budget = full[0].token_count + full[1].token_count
    cut = acme.retrieve("dave", "garden", top_k=8, token_budget=budget)
    # The cut is a prefix of the full ranking and never exceeds the budget.
    assert [r.id for r in cut] == [r.id for r in full[:len(cut)]]
    assert sum(r.token_count for r in cut) <= budget
    assert len(cut) >= 2


def test_filters_and_as_of(acme):
    before = dt.datetime.now(dt.timezone.utc)
    acme.remember("erin", "lunch plan with Sam", session_id="s1", metadata={"topic": "food"})
    acme.remember("erin", "lunch plan with Kim", session_id="s2", metadata={"topic": "work"})
    assert [r.content for r in acme.retrieve("erin", "lunch", filters={"session_id": "s2"})] == ["lunch plan with Kim"]
    assert [r.content for r in acme.retrieve("erin", "lunch", filters={"metadata": {"topic": "food"}})] == [
        "lunch plan with Sam"]
    assert acme.retrieve("erin", "lunch", as_of=before) == []
    with pytest.raises(InvalidInput, match="unknown filter"):
        acme.retrieve("erin", "lunch", filters={"tenant_id": "other"})


def test_forget_hides_a_memory_and_history_keeps_the_change(acme):
    memory_id = acme.remember("frank", "Frank's locker code is 4411")
    assert acme.forget(memory_id, reason="user asked") is True
    assert acme.retrieve("frank", "locker code") == []
    assert acme.forget(memory_id) is False
    history = acme.history(memory_id)
    assert [(v["version"], v["operation"]) for v in history] == [(1, "create"), (2, "forget")]
    assert history[1]["reason"] == "user asked"
    assert history[0]["snapshot"]["content"] == "Frank's locker code is 4411"


@pytest.mark.parametrize("kwargs, message", [
    ({"content": ""}, "content must be a non-empty"),
    ({"content": "   "}, "content must be a non-empty"),
    ({"content": "x" * 100001}, "limit is 100000"),
    ({"kind": "rumour"}, "kind must be one of"),
    ({"importance": 1.5}, "importance must be between"),
    ({"embedding": [0.1, 0.2, 0.3]}, "3 dimensions"),
    ({"content": "nul\x00byte"}, "NUL byte"),
    ({"user_id": ""}, "user_id must be a non-empty"),
    ({"user_id": "u" * 257}, "limit is 256"),
    ({"user_id": "line\nbreak"}, "control characters"),
    ({"user_id": "nul\x00"}, "NUL byte"),
])
def test_bad_input_gets_a_clear_error_and_writes_nothing(acme, db, kwargs, message):
    args = {"user_id": "gina", "content": "valid content", **kwargs}
    with pytest.raises(InvalidInput, match=message):
        acme.remember(args.pop("user_id"), args.pop("content"), **args)
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.memories").fetchone()[0] == 0
        assert conn.execute("select count(*) from _pymem.memory_versions").fetchone()[0] == 0


@pytest.mark.parametrize("user_id", ["o'brien", 'quote"d', "semi;colon -- drop table x", "ünïcødé 用户 🧠", "a" * 256])
def test_awkward_but_valid_user_ids_round_trip_exactly(acme, user_id):
    acme.remember(user_id, "a memory of an awkward user")
    acme.remember("plain", "a memory of an awkward user")
    results = acme.retrieve(user_id, "awkward user")
    assert [r.user_id for r in results] == [user_id]


def test_ten_kilobyte_content_is_stored_and_found(acme):
    content = "needle " + "hay " * 2600
    assert len(content) > 10_000
    memory_id = acme.remember("hank", content)
    assert acme.retrieve("hank", "needle")[0].id == memory_id


def test_tenant_ids_are_validated(client):
    for bad in ["", "-leading", "has space", "quote'", "semi;colon", "x" * 64, "ünï", "nul\x00"]:
        with pytest.raises(InvalidInput):
            client.create_tenant(bad)
    assert client.list_tenants() == []
    client.create_tenant("ok.tenant:1@x-y")
    with pytest.raises(AlreadyExists):
        client.create_tenant("ok.tenant:1@x-y")
    assert client.create_tenant("ok.tenant:1@x-y", exist_ok=True)["tenant_id"] == "ok.tenant:1@x-y"
    with pytest.raises(NotFound):
        client.tenant("nobody").retrieve("u", "q")


def test_drop_tenant_removes_its_storage_and_role(client, db):
    client.create_tenant("doomed")
    role = client.tenant_role("doomed")
    client.tenant("doomed").remember("u", "soon gone")
    report = client.drop_tenant("doomed")
    assert report["dropped"] is True and report["memories"] == 1
    with db.connect() as conn:
        assert conn.execute("select count(*) from pg_roles where rolname = %s", (role,)).fetchone()[0] == 0
        assert conn.execute("select count(*) from _pymem.memories").fetchone()[0] == 0
        assert conn.execute("select count(*) from ag_catalog.ag_graph").fetchone()[0] == 0
    assert client.drop_tenant("doomed")["dropped"] is False


def test_big_users_take_the_hnsw_path_and_agree_with_the_exact_scan(client):
    """exact_scan_max_rows decides per query; past it the query leaves the planner free to
    use the partition's HNSW index (iterative scan) and must find the same neighbours.
    (At 60 rows the planner still prefers the btree; the scale benchmark covers HNSW.)"""
    client.create_tenant("exact", settings={"exact_scan_max_rows": 10000})
    client.create_tenant("ann", settings={"exact_scan_max_rows": 5})
    exact, ann = client.tenant("exact"), client.tenant("ann")
    for i in range(60):
        for handle in (exact, ann):
            handle.remember("big", f"memory {i}", embedding=unit_vector(1000 + i))
            handle.remember("other", f"memory {i}", embedding=unit_vector(1000 + i))
    query = unit_vector(1003)
    got_exact = [r.content for r in exact.retrieve("big", "", query_embedding=query, top_k=10)]
    got_ann = [r.content for r in ann.retrieve("big", "", query_embedding=query, top_k=10)]
    assert got_exact[0] == "memory 3"
    assert len(set(got_exact) & set(got_ann)) >= 9
    assert {r.user_id for r in ann.retrieve("big", "memory", query_embedding=query, top_k=50)} == {"big"}


def test_get_and_list_show_memories_as_stored(acme):
    first = acme.remember("alice", "Alice prefers dark mode", kind="preference", embedding=unit_vector(1),
                          subject="user", attribute="display_theme", value="dark mode",
                          metadata={"app": "editor"}, session_id="s1")
    second = acme.remember("alice", "Alice prefers light mode", kind="preference", embedding=unit_vector(2),
                           subject="user", attribute="display_theme", value="light mode")
    acme.remember("alice", "Alice keeps bees", embedding=unit_vector(3), session_id="s1")
    acme.remember("bob", "Bob likes tea", embedding=unit_vector(4))
    old = acme.get(first)
    assert (old.status, old.superseded_by, old.value, old.metadata) == ("superseded", second, "dark mode",
                                                                        {"app": "editor"})
    assert old.valid_to is not None and acme.get(second).status == "active"
    assert acme.get("00000000-0000-0000-0000-000000000000") is None
    # list: current memories, newest first, narrowed like retrieve, a page at a time
    assert [m.content for m in acme.list("alice")] == ["Alice keeps bees", "Alice prefers light mode"]
    assert [m.content for m in acme.list("alice", kinds=["preference"])] == ["Alice prefers light mode"]
    assert [m.content for m in acme.list("alice", filters={"session_id": "s1"})] == ["Alice keeps bees"]
    page = acme.list("alice", limit=1)
    assert [m.content for m in acme.list("alice", limit=1, before=page[0].id)] == ["Alice prefers light mode"]
    # as_of: what was current then
    then = old.created_at + dt.timedelta(microseconds=1)
    assert [m.content for m in acme.list("alice", as_of=then)] == ["Alice prefers dark mode"]
    with pytest.raises(InvalidInput, match="limit"):
        acme.list("alice", limit=0)
    with pytest.raises(InvalidInput, match="unknown filter"):
        acme.list("alice", filters={"colour": "red"})


def test_key_value_store_items_stay_out_of_retrieve_unless_asked_for_and_list_shows_them(acme):
    """Items of an application's key-value store (metadata key "langgraph", PymemStore's) are
    not conversational memory; the rule is in SQL, so every caller gets it."""
    item = acme.remember("alice", '{"food": "pizza", "n": 5}', embedding=unit_vector(1),
                         metadata={"langgraph": {"path": "alice/prefs", "key": "food"}})
    said = acme.remember("alice", "Alice loves pizza", embedding=unit_vector(2))
    assert [m.id for m in acme.retrieve("alice", "pizza", query_embedding=unit_vector(1))] == [said]
    assert {m.id for m in acme.retrieve("alice", "pizza", query_embedding=unit_vector(1),
                                        include_store_items=True)} == {item, said}
    assert {m.id for m in acme.retrieve("alice", "pizza", query_embedding=unit_vector(1),
                                        filters={"metadata": {"langgraph": {"key": "food"}}})} == {item}
    assert {m.id for m in acme.list("alice")} == {item, said}
    assert [m.id for m in acme.list("alice", filters={"store_items": False})] == [said]
    with pytest.raises(InvalidInput, match="store_items must be true or false"):
        acme.retrieve("alice", "pizza", query_embedding=unit_vector(1), filters={"store_items": "yes"})


def test_min_score_leaves_out_weak_matches(acme):
    acme.remember("alice", "Alice prefers dark mode", embedding=unit_vector(1))
    acme.remember("alice", "Alice has two cats named Miso and Tofu", embedding=unit_vector(2))
    everything = acme.retrieve("alice", "cats", query_embedding=unit_vector(2))
    assert len(everything) == 2
    strong = acme.retrieve("alice", "cats", query_embedding=unit_vector(2), min_score=everything[0].score - 1e-6)
    assert [m.content for m in strong] == [everything[0].content]
    assert acme.retrieve("alice", "cats", query_embedding=unit_vector(2), min_score=999) == []
    with pytest.raises(InvalidInput, match="min_score"):
        acme.retrieve("alice", "cats", min_score=-1)


def test_an_unknown_tenant_names_how_to_create_one_on_every_surface(db):
    with db.connect() as conn, pytest.raises(psycopg.errors.UndefinedObject) as raised:
        conn.execute("select _pymem.tenant('nobody')")
    hint = raised.value.diag.message_hint
    assert "pymem tenant create nobody" in hint and "client.create_tenant('nobody')" in hint
    assert "select pymem.create_tenant('nobody')" in hint
