"""PymemStore against LangGraph's documented BaseStore behaviour (get, put, delete, search with
query, filter and pagination, list_namespaces with prefix, suffix, wildcards and depth), on
the real database, through the sync and the async client; and inside a compiled graph."""

import asyncio
import threading

import pytest
from langgraph.store.base import InvalidNamespaceError

import pymem
from pymem.integrations.langgraph import PymemStore



class SyncFacade:
    """The store's async methods (a* over the async client) behind the sync names, so every
    case below runs against both clients."""

    def __init__(self, store, loop):
        self.store, self.loop = store, loop

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def put(self, *args, **kwargs):
        return self._run(self.store.aput(*args, **kwargs))

    def get(self, *args, **kwargs):
        return self._run(self.store.aget(*args, **kwargs))

    def delete(self, *args, **kwargs):
        return self._run(self.store.adelete(*args, **kwargs))

    def search(self, *args, **kwargs):
        return self._run(self.store.asearch(*args, **kwargs))

    def list_namespaces(self, *args, **kwargs):
        return self._run(self.store.alist_namespaces(*args, **kwargs))


@pytest.fixture(params=["sync", "async"])
def stores(request, db, client):
    """(a store whose first namespace element is the user, one bound to user "carol") for tenant acme."""
    client.create_tenant("acme")
    client.create_tenant("globex")
    if request.param == "sync":
        tenant = client.tenant("acme")
        yield PymemStore(tenant, user_from=0), PymemStore(tenant, user_id="carol")
        return
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    async_client = asyncio.run_coroutine_threadsafe(pymem.connect_async(db.service_dsn, embedder=None), loop).result()
    tenant = async_client.tenant("acme")
    try:
        yield SyncFacade(PymemStore(tenant, user_from=0), loop), SyncFacade(PymemStore(tenant, user_id="carol"), loop)
    finally:
        asyncio.run_coroutine_threadsafe(async_client.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_put_get_overwrite_and_delete(stores, client):
    store, _ = stores
    assert store.get(("alice", "prefs"), "theme") is None
    store.put(("alice", "prefs"), "theme", {"content": "Alice prefers dark mode", "mode": "dark"})
    first = store.get(("alice", "prefs"), "theme")
    assert (first.namespace, first.key, first.value) == (("alice", "prefs"), "theme",
                                                         {"content": "Alice prefers dark mode", "mode": "dark"})
    store.put(("alice", "prefs"), "theme", {"content": "Alice prefers light mode", "mode": "light"})
    second = store.get(("alice", "prefs"), "theme")
    assert second.value["mode"] == "light"
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    # pymem kept the old version: superseded, with history
    old = [m for m in client.tenant("acme").list("alice", as_of=first.updated_at) if "dark" in m.content]
    assert old and client.tenant("acme").get(old[0].id).status == "superseded"
    store.delete(("alice", "prefs"), "theme")
    assert store.get(("alice", "prefs"), "theme") is None
    store.delete(("alice", "prefs"), "theme")  # deleting what is gone is fine


def test_search_by_query_filter_prefix_and_pages(stores):
    store, _ = stores
    store.put(("alice", "food"), "tea", {"content": "Alice drinks green tea every morning", "rating": 5})
    store.put(("alice", "food"), "cake", {"content": "Alice bakes carrot cake on Sundays", "rating": 3})
    store.put(("alice", "travel"), "oslo", {"content": "Alice flew to Oslo for a conference", "rating": 4})
    store.put(("bob", "food"), "tea", {"content": "Bob drinks black tea", "rating": 5})
    found = store.search(("alice",), query="green tea")
    assert found[0].key == "tea" and found[0].namespace == ("alice", "food") and found[0].score > 0
    assert all(item.namespace[0] == "alice" for item in found)  # bob's tea is another user's
    assert {i.key for i in store.search(("alice", "food"))} == {"tea", "cake"}
    assert {i.key for i in store.search(("alice",), filter={"rating": 5})} == {"tea"}
    assert {i.key for i in store.search(("alice",), filter={"rating": {"$gte": 4}})} == {"tea", "oslo"}
    assert {i.key for i in store.search(("alice",), filter={"rating": {"$ne": 5}})} == {"cake", "oslo"}
    everything = [i.key for i in store.search(("alice",), limit=10)]
    assert len(everything) == 3
    assert [i.key for i in store.search(("alice",), limit=2, offset=1)] == everything[1:3]
    assert store.search(("alice", "nothing-here")) == []


def test_list_namespaces(stores):
    store, _ = stores
    for path in [("alice", "a", "x"), ("alice", "a", "y"), ("alice", "b"), ("alice", "c", "x")]:
        store.put(path, "k", {"content": "/".join(path)})
    assert store.list_namespaces(prefix=("alice",)) == [("alice", "a", "x"), ("alice", "a", "y"), ("alice", "b"),
                                                        ("alice", "c", "x")]
    assert store.list_namespaces(prefix=("alice", "a")) == [("alice", "a", "x"), ("alice", "a", "y")]
    assert store.list_namespaces(prefix=("alice",), suffix=("x",)) == [("alice", "a", "x"), ("alice", "c", "x")]
    assert store.list_namespaces(prefix=("alice", "*", "x")) == [("alice", "a", "x"), ("alice", "c", "x")]
    assert store.list_namespaces(prefix=("alice",), max_depth=2) == [("alice", "a"), ("alice", "b"), ("alice", "c")]
    assert store.list_namespaces(prefix=("alice",), limit=2, offset=1) == [("alice", "a", "y"), ("alice", "b")]


def test_a_store_bound_to_a_user(stores, client):
    store, carols = stores
    carols.put(("notes",), "n1", {"content": "Carol is learning Rust"})
    assert carols.get(("notes",), "n1").namespace == ("notes",)
    assert [i.key for i in carols.search((), query="Rust")] == ["n1"]
    assert carols.list_namespaces() == [("notes",)]
    # the same item through the unbound store: carol is the first element
    assert store.get(("carol", "notes"), "n1").value == {"content": "Carol is learning Rust"}


def test_refused_namespaces_and_tenants(stores, client):
    store, _ = stores
    with pytest.raises(InvalidNamespaceError):
        store.search((), query="anything")  # whose? this store is not bound to a user
    with pytest.raises(InvalidNamespaceError):
        store.list_namespaces()
    with pytest.raises(InvalidNamespaceError):
        store.put(("alice", "a.b"), "k", {"content": "x"})
    store.put(("alice", "secret"), "code", {"content": "the vault code is 7731"})
    other = PymemStore(client.tenant("globex"), user_from=0)
    assert other.get(("alice", "secret"), "code") is None
    assert other.search(("alice",), query="vault code") == []


def test_inside_a_compiled_graph(db, client):
    """A node reads and writes memories through the store LangGraph hands it."""
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph
    from langgraph.store.base import BaseStore

    class State(TypedDict):
        user: str
        said: str
        recalled: list

    def node(state: State, *, store: BaseStore) -> dict:
        store.put((state["user"], "chat"), str(len(state["said"])), {"content": state["said"]})
        return {"recalled": [item.value["content"] for item in store.search((state["user"], "chat"), query="tea")]}

    client.create_tenant("acme")
    builder = StateGraph(State)
    builder.add_node("remember", node)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    graph = builder.compile(store=PymemStore(client.tenant("acme"), user_from=0))
    result = graph.invoke({"user": "alice", "said": "I only drink green tea", "recalled": []})
    assert result["recalled"] == ["I only drink green tea"]




# -- issue 35: LangMem's namespace convention, items apart from conversation, scores, sync over async


def test_a_store_must_know_where_the_user_is(client):
    """No guess: LangMem writes ("memories", user_id), LangGraph's guide (user_id, "memories")."""
    client.create_tenant("acme")
    tenant = client.tenant("acme")
    with pytest.raises(TypeError, match="user_from=1"):
        PymemStore(tenant)
    with pytest.raises(TypeError, match="only one way"):
        PymemStore(tenant, user_id="alice", user_from=1)
    for wrong in (-1, "1", True, 1.0):
        with pytest.raises(TypeError, match="user_from"):
            PymemStore(tenant, user_from=wrong)


def test_langmem_namespace_and_erase_user(client):
    """("memories", user_id) as LangMem's docs write it: the user is hana, so erasing hana erases it."""
    client.create_tenant("acme")
    tenant = client.tenant("acme")
    store = PymemStore(tenant, user_from=1)
    store.put(("memories", "hana"), "diet", {"content": "Hana is vegan"})
    store.put(("memories", "hana", "profile"), "city", {"content": "Hana lives in Kyoto"})
    store.put(("memories", "ivan"), "diet", {"content": "Ivan eats everything"})
    assert [m.content for m in tenant.list("hana")] == ["Hana lives in Kyoto", "Hana is vegan"]
    assert tenant.list("memories") == []
    assert store.get(("memories", "hana"), "diet").namespace == ("memories", "hana")
    assert {i.key for i in store.search(("memories", "hana"))} == {"diet", "city"}  # a prefix within hana
    assert store.list_namespaces(prefix=("memories", "hana")) == [("memories", "hana"),
                                                                   ("memories", "hana", "profile")]
    with pytest.raises(InvalidNamespaceError, match="user_from=1"):
        store.search(("memories",), query="vegan")  # names no user: pymem searches per user
    tenant.erase_user("hana")
    assert store.get(("memories", "hana"), "diet") is None
    assert store.search(("memories", "hana"), query="vegan") == []
    assert store.get(("memories", "ivan"), "diet").value == {"content": "Ivan eats everything"}


def test_user_from_a_callable(client):
    client.create_tenant("acme")
    tenant = client.tenant("acme")
    store = PymemStore(tenant, user_from=lambda ns: next((x[5:] for x in ns if x.startswith("user:")), None))
    store.put(("org:acme", "user:hana", "notes"), "n1", {"content": "Hana prefers tea"})
    assert [m.user_id for m in tenant.list("hana")] == ["hana"]
    assert store.get(("org:acme", "user:hana", "notes"), "n1").namespace == ("org:acme", "user:hana", "notes")
    assert store.list_namespaces(prefix=("org:acme", "user:hana")) == [("org:acme", "user:hana", "notes")]
    with pytest.raises(InvalidNamespaceError, match="names no user"):
        store.put(("org:acme",), "k", {"content": "whose?"})


def test_store_items_stay_out_of_retrieval(client):
    """A store item is an application's data, not something the user said: ordinary retrieval
    (and so MCP, HTTP, LangChain and LlamaIndex) leaves it out unless asked for it."""
    from pymem.integrations.langchain import PymemRetriever

    client.create_tenant("acme")
    tenant = client.tenant("acme")
    store = PymemStore(tenant, user_from=1)
    said = [tenant.remember("alice", text) for text in ("Alice loves pizza from Naples",
                                                        "Alice orders pizza on Fridays")]
    store.put(("memories", "alice"), "order", {"food": "pizza", "n": 5})
    store.put(("memories", "alice"), "pizza", {"food": "pizza"}, index=False)  # its key is its only text
    for n in range(6):
        store.put(("memories", "alice"), f"slice{n}", {"content": f"pizza slice {n}"})
    found = tenant.retrieve("alice", "pizza")
    assert sorted(m.id for m in found) == sorted(said)
    assert len(tenant.retrieve("alice", "pizza", top_k=2)) == 2  # items in the way do not shrink top_k
    assert [m.id for m in tenant.retrieve("alice", "pizza", top_k=1)] == [found[0].id]
    assert len(tenant.retrieve("alice", "pizza", include_store_items=True)) == 10
    documents = PymemRetriever(tenant=tenant, user_id="alice").invoke("pizza")
    assert sorted(d.metadata["id"] for d in documents) == sorted(said)
    # the store's own search still finds its items
    assert "order" in {i.key for i in store.search(("memories", "alice"), query="pizza", limit=20)}


@pytest.mark.slow
def test_search_scores_are_within_0_and_1(semantic_client):
    """pymem's score adds recency and importance to relevance: an exact match scores about 1.16.
    LangGraph's SearchItem.score reads as a similarity, so it is clamped to [0, 1] (the order
    stays pymem's)."""
    semantic_client.create_tenant("acme")
    tenant = semantic_client.tenant("acme")
    store = PymemStore(tenant, user_from=1)
    store.put(("memories", "alice"), "order", {"food": "pizza", "n": 5})
    store.put(("memories", "alice"), "pizza", {"food": "pizza"}, index=False)
    store.put(("memories", "alice"), "said", {"content": "pizza"})
    raw = tenant.retrieve("alice", "pizza", include_store_items=True)
    assert max(m.score for m in raw) > 1  # what SearchItem.score reported before
    items = store.search(("memories", "alice"), query="pizza")
    assert [i.key for i in items] == [m.metadata["langgraph"]["key"] for m in raw]
    assert all(0.0 <= i.score <= 1.0 for i in items)
    assert [i.score for i in items] == pytest.approx([min(1.0, m.score) for m in raw], abs=1e-6)


def test_a_sync_node_over_the_async_client(db, client):
    """LangGraph runs a sync node of an ainvoke'd graph in a worker thread: the store hands its
    calls to the client's loop. On the loop's own thread, or with no loop, it says what to do."""
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph
    from langgraph.store.base import BaseStore

    class State(TypedDict):
        said: str
        recalled: list

    def node(state: State, *, store: BaseStore) -> dict:
        store.put(("memories", "alice"), "drink", {"content": state["said"]})
        return {"recalled": [i.value["content"] for i in store.search(("memories", "alice"), query="tea")]}

    client.create_tenant("acme")

    async def main():
        async_client = await pymem.connect_async(db.service_dsn, embedder=None)
        try:
            store = PymemStore(async_client.tenant("acme"), user_from=1)
            builder = StateGraph(State)
            builder.add_node("remember", node)
            builder.add_edge(START, "remember")
            builder.add_edge("remember", END)
            graph = builder.compile(store=store)
            result = await graph.ainvoke({"said": "Alice drinks green tea", "recalled": []})
            with pytest.raises(TypeError, match="make the node async"):
                store.get(("memories", "alice"), "drink")  # on the loop's thread: would deadlock
            return result
        finally:
            await async_client.close()

    assert asyncio.run(main())["recalled"] == ["Alice drinks green tea"]
    assert client.tenant("acme").list("alice")[0].content == "Alice drinks green tea"
    loop = asyncio.new_event_loop()
    try:
        async_client = loop.run_until_complete(pymem.connect_async(db.service_dsn, embedder=None))
        with pytest.raises(TypeError, match="no running event loop"):
            PymemStore(async_client.tenant("acme"), user_from=1).get(("memories", "alice"), "drink")
        loop.run_until_complete(async_client.close())
    finally:
        loop.close()


def test_langmem_tools_in_a_compiled_graph(client):
    """LangMem's own tools in a compiled graph (tests/integration/langmem_graph.py)."""
    pytest.importorskip("langmem")
    from tests.integration.langmem_graph import check_langmem_tools

    client.create_tenant("acme")
    check_langmem_tools(client.tenant("acme"))