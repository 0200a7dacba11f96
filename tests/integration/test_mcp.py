"""`pymem mcp` as a real process, driven by the mcp package's own client: over stdio (the
client launches the server) and over streamable HTTP, against the test database."""

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

pytestmark = pytest.mark.slow


@pytest.fixture
def tenants(client):
    keys = {}
    for tenant in ("acme", "globex"):
        client.create_tenant(tenant)
        keys[tenant] = client.create_api_key(tenant)["api_key"]
    globex_memory = client.tenant("globex").remember("alice", "Globex's Alice keeps the vault code 7731")
    return keys, globex_memory


def stdio(db, key, *args):
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "pymem.cli", "--dsn", db.service_dsn, "mcp", "--embedder", "none", *args],
                                 env={"PYMEM_API_KEY": key, "PATH": os.environ["PATH"]})


def text(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


def test_the_tools_act_for_the_keys_tenant_only(db, tenants):
    keys, globex_memory = tenants

    async def session():
        async with Client(stdio(db, keys["acme"]), read_timeout_seconds=60) as mcp:
            tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
            assert set(tools) == {"remember", "ingest", "retrieve", "update", "forget", "history", "list_users",
                                  "export_user"}
            stored = await mcp.call_tool("remember", {"content": "Alice prefers green tea", "kind": "preference",
                                                      "user_id": "alice"})
            assert not stored.is_error, text(stored)
            memory_id = stored.structured_content["id"]
            found = await mcp.call_tool("retrieve", {"query": "tea", "user_id": "alice"})
            assert [r["content"] for r in found.structured_content["results"]] == ["Alice prefers green tea"]
            assert text(found).count("Alice prefers green tea") == 1  # each memory sent once
            weak = await mcp.call_tool("retrieve", {"query": "tea", "user_id": "alice", "min_score": 999})
            assert weak.structured_content["results"] == []
            # the two times: said before 2000 (nothing was), stored before 2000 (nothing was)
            for when in ("as_of", "recorded_before"):
                early = await mcp.call_tool("retrieve", {"query": "tea", "user_id": "alice", when: "2000-01-01T00:00:00Z"})
                assert not early.is_error and early.structured_content["results"] == [], when
            queued = await mcp.call_tool("ingest", {"content": "I moved to Oslo", "user_id": "alice"})
            assert not queued.is_error and queued.structured_content["episode_id"]
            versions = await mcp.call_tool("history", {"memory_id": memory_id})
            assert [v["operation"] for v in versions.structured_content["versions"]] == ["create"]
            assert "pm_" not in text(versions)  # no internal role names
            users = await mcp.call_tool("list_users", {})
            assert [u["user_id"] for u in users.structured_content["users"]] == ["alice"]
            exported = await mcp.call_tool("export_user", {"user_id": "alice"})
            assert "Alice prefers green tea" in str(exported.structured_content)
            # Another tenant's data is out of reach: same user id, its memory id, a tenant argument.
            theirs = await mcp.call_tool("retrieve", {"query": "vault code", "user_id": "alice"})
            assert "7731" not in str(theirs.structured_content)
            refused = await mcp.call_tool("forget", {"memory_id": globex_memory})
            assert refused.is_error and "no memory" in text(refused)
            assert (await mcp.call_tool("history", {"memory_id": globex_memory})).is_error
            # an argument no tool defines is dropped by the SDK: the key's tenant still answers
            smuggled = await mcp.call_tool("retrieve", {"query": "vault", "user_id": "alice", "tenant_id": "globex"})
            assert not smuggled.is_error and "7731" not in str(smuggled.structured_content)
            forgotten = await mcp.call_tool("forget", {"memory_id": memory_id})
            assert forgotten.structured_content == {"id": memory_id, "forgotten": True}

    asyncio.run(session())
    # what the tools wrote is the tenant's, seen through the Python client too
    with db.connect() as conn:
        rows = conn.execute("select tenant_id, status from _pymem.memories where content = 'Alice prefers green tea'"
                            ).fetchall()
    assert rows == [("acme", "forgotten")]


def test_a_server_fixed_to_one_user_refuses_others(db, client, tenants):
    keys, _ = tenants

    bobs = client.tenant("acme").remember("bob", "Bob keeps wasps")

    async def session():
        async with Client(stdio(db, keys["acme"], "--user", "alice"), read_timeout_seconds=60) as mcp:
            tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
            # the user is the server's: no tool offers a user_id, and no tool lists the tenant's users
            assert "list_users" not in tools
            assert all("user_id" not in tool.input_schema["properties"] for tool in tools.values()), tools
            assert not (await mcp.call_tool("remember", {"content": "Alice keeps bees"})).is_error
            # a user_id sent anyway is dropped (as any argument no tool defines): still alice's memories
            other = await mcp.call_tool("retrieve", {"query": "wasps bees", "user_id": "bob"})
            assert [r["content"] for r in other.structured_content["results"]] == ["Alice keeps bees"]
            mine = await mcp.call_tool("retrieve", {"query": "bees"})
            assert [r["content"] for r in mine.structured_content["results"]] == ["Alice keeps bees"]
            for tool, arguments in (("update", {"memory_id": bobs, "content": "Bob keeps bees"}),
                                    ("forget", {"memory_id": bobs}), ("history", {"memory_id": bobs})):
                refused = await mcp.call_tool(tool, arguments)
                assert refused.is_error and f"no memory {bobs}" in text(refused), tool

    asyncio.run(session())
    assert client.tenant("acme").get(bobs).status == "active"


def test_tools_describe_themselves_and_update_keeps_history(db, tenants):
    keys, _ = tenants

    async def session():
        async with Client(stdio(db, keys["acme"]), read_timeout_seconds=60) as mcp:
            tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
            for tool in tools.values():
                assert tool.description and tool.output_schema, tool.name
                assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
                for name, schema in tool.input_schema["properties"].items():
                    assert schema.get("description"), (tool.name, name)
                assert ("user_id" in tool.input_schema.get("required", [])) == ("user_id" in tool.input_schema["properties"])
            read_only = {name for name, tool in tools.items() if tool.annotations.read_only_hint}
            assert read_only == {"retrieve", "history", "list_users", "export_user"}
            assert {name for name, tool in tools.items() if tool.annotations.destructive_hint} == {"update", "forget"}
            retrieve = tools["retrieve"].input_schema["properties"]
            assert (retrieve["top_k"]["minimum"], retrieve["top_k"]["maximum"]) == (1, 100)
            assert set(retrieve["kinds"]["anyOf"][0]["items"]["enum"]) == {"fact", "preference", "event", "procedural",
                                                                          "episode"}
            assert set(tools["remember"].input_schema["properties"]["kind"]["enum"]) == {
                "fact", "preference", "event", "procedural"}
            too_many = await mcp.call_tool("retrieve", {"query": "x", "user_id": "alice", "top_k": 101})
            assert too_many.is_error
            stored = await mcp.call_tool("remember", {"content": "Alice lives in Berlin", "user_id": "alice"})
            old = stored.structured_content["id"]
            updated = await mcp.call_tool("update", {"memory_id": old, "content": "Alice lives in Lisbon"})
            assert not updated.is_error, text(updated)
            new = updated.structured_content["id"]
            assert updated.structured_content == {"id": new, "supersedes": old}
            found = await mcp.call_tool("retrieve", {"query": "where does Alice live", "user_id": "alice"})
            assert [r["content"] for r in found.structured_content["results"]] == ["Alice lives in Lisbon"]
            versions = (await mcp.call_tool("history", {"memory_id": old})).structured_content["versions"]
            assert [(v["operation"], v["content"], v["superseded_by"]) for v in versions] == [
                ("create", "Alice lives in Berlin", None), ("supersede", "Alice lives in Berlin", new)]
            again = await mcp.call_tool("update", {"memory_id": old, "content": "Alice lives in Porto"})
            assert again.is_error and new in text(again)

    asyncio.run(session())


def test_the_kind_enums_are_the_databases(client):
    from typing import get_args

    from pymem.integrations.mcp import AnyKind, Kind

    assert set(get_args(AnyKind)) == set(client.memory_kinds())
    assert set(get_args(Kind)) == set(client.memory_kinds(extracted=True))


def test_an_unknown_key_does_not_start(db):
    result = subprocess.run([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "mcp", "--embedder", "none"],
                            env={**os.environ, "PYMEM_API_KEY": "pm_not_a_key"}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and "unknown or revoked API key" in result.stderr


def test_streamable_http_needs_the_key(db, tenants, tmp_path):
    keys, _ = tenants
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "mcp.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "mcp", "--embedder", "none",
                             "--transport", "http", "--port", str(port)],
                            env={**os.environ, "PYMEM_API_KEY": keys["acme"]}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.25)
        assert httpx2.post(url, json={}).status_code == 401
        assert httpx2.post(url, json={}, headers={"Authorization": "Bearer pm_not_a_key"}).status_code == 401
        # an active key of another tenant does not reach this server's tenant
        assert httpx2.post(url, json={}, headers={"Authorization": f"Bearer {keys['globex']}"}).status_code == 403

        async def session():
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {keys['acme']}"}, timeout=30)
            async with Client(streamable_http_client(url, http_client=http)) as mcp:
                stored = await mcp.call_tool("remember", {"content": "Alice rides a red bike", "user_id": "alice"})
                assert not stored.is_error, text(stored)
                found = await mcp.call_tool("retrieve", {"query": "bike", "user_id": "alice"})
                assert [r["content"] for r in found.structured_content["results"]] == ["Alice rides a red bike"]

        asyncio.run(session())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
