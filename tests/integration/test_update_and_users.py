"""update(memory_id, text) and listing a tenant's users, through every surface: the Python
client (sync and async), HTTP, the CLI (MCP: tests/integration/test_mcp.py)."""

import json
import uuid

import pytest
from click.testing import CliRunner

from pymem import InvalidInput, NotFound
from pymem.cli import main


def test_update_supersedes_and_keeps_history(any_client):
    any_client.create_tenant("acme")
    any_client.create_tenant("globex")
    acme, globex = any_client.tenant("acme"), any_client.tenant("globex")
    old = acme.remember("alice", "Alice lives in Berlin", importance=0.8)
    new = acme.update(old, "Alice lives in Lisbon")
    assert new != old
    before, after = acme.get(old), acme.get(new)
    assert (before.status, before.superseded_by, before.content) == ("superseded", new, "Alice lives in Berlin")
    assert (after.status, after.user_id, after.kind, after.importance, after.content) == \
        ("active", "alice", "fact", pytest.approx(0.8), "Alice lives in Lisbon")
    assert [v["operation"] for v in acme.history(old)] == ["create", "supersede"]
    assert [m.content for m in acme.retrieve("alice", "where does Alice live")] == ["Alice lives in Lisbon"]
    # only the current version can be corrected, and the refusal names it
    with pytest.raises(InvalidInput, match=f"update {new}"):
        acme.update(old, "Alice lives in Porto")
    with pytest.raises(NotFound):
        acme.update(str(uuid.uuid4()), "Alice lives in Porto")
    with pytest.raises(InvalidInput):
        acme.update(new, "   ")
    # a raw conversation turn stays as it was said
    acme.ingest("alice", "I adopted a cat called Miso")
    turn = acme.list("alice", kinds=["episode"])[0]
    with pytest.raises(InvalidInput, match="conversation turn"):
        acme.update(turn.id, "I adopted a dog")
    # another tenant's memory is no memory
    with pytest.raises(NotFound):
        globex.update(new, "Alice lives in Rome")
    assert acme.get(new).content == "Alice lives in Lisbon" and acme.get(new).status == "active"


def test_list_users_pages_within_the_tenant(any_client):
    any_client.create_tenant("acme")
    any_client.create_tenant("globex")
    acme, globex = any_client.tenant("acme"), any_client.tenant("globex")
    for user, texts in (("carol", ["Carol sings"]), ("alice", ["Alice rows", "Alice paints"]), ("bob", ["Bob runs"])):
        for text in texts:
            acme.remember(user, text)
    acme.ingest("bob", "I also swim")  # a raw turn: not counted as a memory
    globex.remember("mallory", "Mallory is Globex's")
    users = acme.list_users()
    assert [(u["user_id"], u["memories"]) for u in users] == [("alice", 2), ("bob", 1), ("carol", 1)]
    assert {"created_at", "last_seen_at"} <= set(users[0])
    assert [u["user_id"] for u in acme.list_users(limit=2)] == ["alice", "bob"]
    assert [u["user_id"] for u in acme.list_users(limit=2, after="bob")] == ["carol"]
    assert [u["user_id"] for u in globex.list_users()] == ["mallory"]
    for limit in (0, 1001):
        with pytest.raises(InvalidInput):
            acme.list_users(limit=limit)
    acme.erase_user("bob")
    assert [u["user_id"] for u in acme.list_users()] == ["alice", "carol"]


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def test_http_update_and_users(make_api, keys, client):
    api = make_api()[0]
    old = client.tenant("acme").remember("alice", "Alice lives in Berlin")
    r = api.put(f"/api/memory/{old}", headers=bearer(keys["acme"]), json={"content": "Alice lives in Lisbon"})
    assert r.status_code == 200, r.text
    new = r.json()["id"]
    assert r.json() == {"id": new, "supersedes": old, "tenant_id": "acme"}
    assert client.tenant("acme").get(old).superseded_by == new
    again = api.put(f"/api/memory/{old}", headers=bearer(keys["acme"]), json={"content": "Alice lives in Porto"})
    assert again.status_code == 422 and new in again.json()["error"]["message"]
    theirs = api.put(f"/api/memory/{new}", headers=bearer(keys["globex"]), json={"content": "Alice lives in Rome"})
    assert theirs.status_code == 404
    assert api.put(f"/api/memory/{new}", headers=bearer(keys["acme"]), json={"content": ""}).status_code == 422
    history = api.get(f"/api/memory/{old}/history", headers=bearer(keys["acme"])).json()
    assert [v["operation"] for v in history["versions"]] == ["create", "supersede"]

    client.tenant("acme").remember("bob", "Bob runs")
    r = api.get("/api/users", headers=bearer(keys["acme"]))
    assert r.status_code == 200, r.text
    assert [(u["user_id"], u["memories"]) for u in r.json()["users"]] == [("alice", 1), ("bob", 1)]
    assert r.json()["next_after"] is None
    page = api.get("/api/users", headers=bearer(keys["acme"]), params={"limit": 1}).json()
    assert [u["user_id"] for u in page["users"]] == ["alice"] and page["next_after"] == "alice"
    rest = api.get("/api/users", headers=bearer(keys["acme"]), params={"after": "alice"}).json()
    assert [u["user_id"] for u in rest["users"]] == ["bob"]
    assert api.get("/api/users", headers=bearer(keys["globex"])).json()["users"] == []
    assert api.get("/api/users", headers=bearer(keys["acme"]), params={"limit": 0}).status_code == 422
    assert api.get("/api/users").status_code == 401


def test_cli_update_and_users(db, client):
    client.create_tenant("acme")
    old = client.tenant("acme").remember("alice", "Alice lives in Berlin")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--dsn", db.service_dsn, *args])

    done = run("update", "--tenant", "acme", "--no-embed", "--json", old, "Alice lives in Lisbon")
    assert done.exit_code == 0, done.output
    new = json.loads(done.output)["id"]
    assert json.loads(done.output) == {"id": new, "supersedes": old, "tenant_id": "acme"}
    assert client.tenant("acme").get(new).content == "Alice lives in Lisbon"
    refused = run("update", "--tenant", "acme", "--no-embed", old, "Alice lives in Porto")
    assert refused.exit_code == 1 and "replaced it" in refused.output and "Traceback" not in refused.output
    listed = run("users", "--tenant", "acme", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(u["user_id"], u["memories"]) for u in json.loads(listed.output)["users"]] == [("alice", 1)]
    human = run("users", "--tenant", "acme")
    assert human.output.startswith("alice  1 memories")
