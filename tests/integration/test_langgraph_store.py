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
        yield PymemStore(tenant), PymemStore(tenant, user_id="carol")
        return
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    async_client = asyncio.run_coroutine_threadsafe(pymem.connect_async(db.service_dsn, embedder=None), loop).result()
    tenant = async_client.tenant("acme")
    try:
        yield SyncFacade(PymemStore(tenant), loop), SyncFacade(PymemStore(tenant, user_id="carol"), loop)
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
    other = PymemStore(client.tenant("globex"))
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
    graph = builder.compile(store=PymemStore(client.tenant("acme")))
    result = graph.invoke({"user": "alice", "said": "I only drink green tea", "recalled": []})
    assert result["recalled"] == ["I only drink green tea"]


