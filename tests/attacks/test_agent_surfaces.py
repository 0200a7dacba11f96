"""Attacks through the agent surfaces (issue 31): `pymem mcp` (stdio and streamable HTTP,
driven by the mcp package's own client), the query-embedding cache of every process, and
the LangGraph store. The attacker holds a login of the tenant: an MCP server bound to
another user, a revoked key, or a namespace crafted to land on another item."""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid

import httpx2
import numpy as np
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

import pymem
from pymem.client import QueryEmbeddingCache
from pymem.integrations.langgraph import PymemStore

from ..conftest import unit_vector
from ..embedding_server import EmbeddingEndpoint

pytestmark = pytest.mark.slow


def text(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


def mcp_command(db, *args):
    return [sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "mcp", *args]


def stdio(db, key, *args, env=None):
    command = mcp_command(db, *args)
    return StdioServerParameters(command=command[0], args=command[1:],
                                 env={"PYMEM_API_KEY": key, "PATH": os.environ["PATH"], **(env or {})})


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def acme(client):
    client.create_tenant("acme")
    client.create_tenant("globex")
    return client.tenant("acme")


# -- MCP --user: a memory id of another user is no memory ------------------------------------

def test_mcp_bound_to_a_user_refuses_another_users_memory_by_id(db, client, acme):
    key = client.create_api_key("acme")["api_key"]
    bobs = acme.remember("bob", "Bob's door code is 4411")
    nobodys = str(uuid.uuid4())

    async def session():
        async with Client(stdio(db, key, "--embedder", "none", "--user", "mallory"), read_timeout_seconds=60) as mcp:
            mine = (await mcp.call_tool("remember", {"content": "Mallory likes chess"})).structured_content["id"]
            for tool in ("history", "forget"):
                theirs = await mcp.call_tool(tool, {"memory_id": bobs})
                missing = await mcp.call_tool(tool, {"memory_id": nobodys})
                assert theirs.is_error and missing.is_error
                # the same answer as for an id nobody has: nothing about bob's memory shows
                assert text(theirs).replace(bobs, "ID") == text(missing).replace(nobodys, "ID")
                assert "4411" not in text(theirs) and "bob" not in text(theirs)
            assert [v["operation"] for v in
                    (await mcp.call_tool("history", {"memory_id": mine})).structured_content["versions"]] == ["create"]
            assert (await mcp.call_tool("forget", {"memory_id": mine})).structured_content["forgotten"] is True

    asyncio.run(session())
    assert acme.get(bobs).status == "active"
    assert [v["operation"] for v in acme.history(bobs)] == ["create"]


# -- MCP over HTTP: every request's key is checked against the database -----------------------

@contextlib.contextmanager
def mcp_over_http(db, key, *args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(mcp_command(db, "--embedder", "none", "--transport", "http", "--port", str(port), *args),
                            env={**os.environ, "PYMEM_API_KEY": key}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        def up():
            assert proc.poll() is None, proc.stderr.read()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
            return False

        assert wait_until(up, 60)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def call_as(url, key, tool, arguments):
    async def session():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
        async with Client(streamable_http_client(url, http_client=http)) as mcp:
            return await mcp.call_tool(tool, arguments)

    return asyncio.run(session())


def status_for(url, key):
    return httpx2.post(url, json={}, headers={"Authorization": f"Bearer {key}"}).status_code


def test_mcp_over_http_checks_every_key_against_the_database(db, client, acme):
    started_with = client.create_api_key("acme")
    other_tenant = client.create_api_key("globex")["api_key"]
    with mcp_over_http(db, started_with["api_key"], "--user", "alice", "--key-cache-seconds", "0.5") as url:
        stored = call_as(url, started_with["api_key"], "remember", {"content": "Alice rides a red bike"})
        assert not stored.is_error, text(stored)
        # the key decides: another tenant's active key does not reach this server's tenant
        assert status_for(url, other_tenant) == 403
        assert status_for(url, "pm_made_up") == 401
        # the key the server started with is revoked: refused once the cache's half second is over
        assert client.revoke_api_key(str(started_with["key_id"]))
        time.sleep(0.6)
        assert status_for(url, started_with["api_key"]) == 401
        # a key made after the start, of the same tenant, is accepted
        fresh = client.create_api_key("acme")["api_key"]
        found = call_as(url, fresh, "retrieve", {"query": "bike"})
        assert [r["content"] for r in found.structured_content["results"]] == ["Alice rides a red bike"]


# -- the query-embedding cache forgets an erased user in every process ----------------------

class CountingEmbedder:
    model = "test/counting"
    dimensions = 384

    def __init__(self):
        self.calls = []

    def embed(self, texts):
        self.calls.extend(texts)
        return np.stack([unit_vector(len(t)) for t in texts])


QUESTION = "what does bob eat when nobody watches?"


def test_an_in_process_clients_cache_forgets_a_user_erased_elsewhere(db, client, acme):
    embedder = CountingEmbedder()
    db.declare_embedding_model(embedder.model)
    with pymem.connect(db.service_dsn, embedder=embedder) as near:
        mine = near.tenant("acme")
        mine.retrieve("bob", QUESTION)
        mine.retrieve("bob", QUESTION)
        assert embedder.calls == [QUESTION] and len(near.query_cache) == 1  # the second was a hit
        acme.erase_user("bob")  # through another client: another process, as far as caches go
        assert wait_until(lambda: len(near.query_cache) == 0), "bob's question outlived his erasure"
        mine.retrieve("alice", QUESTION)
        assert embedder.calls == [QUESTION, QUESTION]


def test_the_cache_is_unused_while_notifications_may_be_skipped(db, client, acme):
    """The SQL skips the NOTIFY while the notification queue is over half full; the listener
    then keeps the cache empty and unused. Here the watermark is lowered to any usage at all."""
    embedder = CountingEmbedder()
    db.declare_embedding_model(embedder.model)
    with pymem.connect(db.service_dsn, embedder=embedder) as near:
        mine = near.tenant("acme")
        mine.retrieve("bob", QUESTION)
        assert len(near.query_cache) == 1
        near.cache_forgetter.QUEUE_WATERMARK = 0.0
        assert wait_until(lambda: not near.cache_forgetter.listening.is_set() and len(near.query_cache) == 0)
        mine.retrieve("bob", QUESTION)
        mine.retrieve("bob", QUESTION)
        assert embedder.calls == [QUESTION] * 3 and len(near.query_cache) == 0


def test_a_vector_embedded_across_an_erasure_is_not_kept():
    """Bob's question is being embedded when his erasure lands (here, or by notification):
    what the model returns afterwards is his question still, and is not cached."""
    cache = QueryEmbeddingCache()
    generation = cache.generation  # read before embedding
    cache.forget("acme", "bob")
    cache.put("acme", "bob", QUESTION, unit_vector(1), generation=generation)
    assert len(cache) == 0
    cache.put("acme", "alice", QUESTION, unit_vector(1), generation=cache.generation)
    assert len(cache) == 1


def test_the_mcp_servers_cache_forgets_a_user_erased_elsewhere(db, client, acme):
    key = client.create_api_key("acme")["api_key"]
    db.declare_embedding_model("text-embedding-3-small")  # PYMEM_EMBED_URL's default model

    with EmbeddingEndpoint() as endpoint:
        def embedded():
            return sum(t == QUESTION for body in endpoint.bodies for t in body["input"])

        async def session():
            server = stdio(db, key, "--embedder", "auto", env={"PYMEM_EMBED_URL": endpoint.url})
            async with Client(server, read_timeout_seconds=60) as mcp:
                for _ in range(2):
                    assert not (await mcp.call_tool("retrieve", {"query": QUESTION, "user_id": "bob"})).is_error
                assert embedded() == 1  # the second was a hit
                await asyncio.to_thread(acme.erase_user, "bob")
                deadline = time.monotonic() + 10
                while embedded() == 1 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    assert not (await mcp.call_tool("retrieve", {"query": QUESTION, "user_id": "alice"})).is_error
                assert embedded() == 2, "the MCP server served bob's question after his erasure"

        asyncio.run(session())


# -- LangGraph: namespaces are one-to-one, and a stray memory is no item -----------------------

def test_langgraph_namespaces_do_not_collide(acme):
    store = PymemStore(acme, user_from=0)
    long = "x" * 300
    namespaces = [("u", "a/b"), ("u", "a", "b"), ("u", "a%2Fb"), ("u", long + "1"), ("u", long + "2")]
    for index, namespace in enumerate(namespaces):
        store.put(namespace, "k", {"content": f"item {index}"})
    for index, namespace in enumerate(namespaces):
        item = store.get(namespace, "k")
        assert item is not None and item.value == {"content": f"item {index}"}, namespace
        assert item.namespace == namespace
    assert sorted(store.list_namespaces(prefix=("u",))) == sorted(namespaces)
    assert [i.value["content"] for i in store.search(("u", "a"))] == ["item 1"]


def test_langgraph_search_skips_a_memory_that_is_not_a_whole_item(acme):
    store = PymemStore(acme, user_from=0)
    store.put(("u", "notes"), "real", {"content": "a real note about tea"})
    # any writer of the tenant may set metadata.langgraph; this one has no value
    acme.remember("u", "a stray note about tea", metadata={"langgraph": {
        "path": "notes", "prefixes": ["notes"], "namespace": ["notes"], "key": "stray",
        "created_at": "2026-01-01T00:00:00+00:00"}})
    assert [i.key for i in store.search(("u", "notes"))] == ["real"]
    assert [i.key for i in store.search(("u", "notes"), query="tea")] == ["real"]
    assert store.get(("u", "notes"), "stray") is None
    assert store.list_namespaces(prefix=("u",)) == [("u", "notes")]
