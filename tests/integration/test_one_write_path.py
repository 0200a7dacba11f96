"""One SQL path for every writer: the same statement written through SQL remember, the
Python client, the HTTP API (as a memory and as a conversation turn) and the worker's
extraction lands in the same slot; repeated turns collapse; the cap is a clear 409."""

import psycopg
import pytest
from fastapi.testclient import TestClient

from pymem.embed import HTTPEmbedder
from pymem.service import Service, ServiceConfig
from pymem.worker.extract import RuleExtractor
from pymem.worker.worker import Worker, WorkerConfig

from ..embedding_server import EmbeddingEndpoint
from ..helpers import as_role


@pytest.fixture
def http(client):
    client.create_tenant("acme")
    key = client.create_api_key("acme")["api_key"]
    with TestClient(Service(client, ServiceConfig(key_cache_seconds=0)).app()) as api:
        api.headers["Authorization"] = f"Bearer {key}"
        yield api


def _slots(db, user):
    with db.connect() as conn:
        return conn.execute("select subject, attribute, value from _pymem.memories where user_id = %s "
                            "and kind <> 'episode' and status = 'active'", (user,)).fetchall()


def test_every_writer_gives_the_same_statement_the_same_slot(client, db, http):
    sentence = "I moved to Porto last month"
    acme = client.tenant("acme")
    acme.remember("python", sentence)
    with as_role(db, client.tenant_role("acme")) as conn:
        conn.execute("select pymem.remember('sql', %s)", (sentence,))
    assert http.post("/api/memory/ingest", json={"user_id": "http", "content": sentence, "type": "fact"}).status_code == 201
    assert http.post("/api/memory/ingest", json={"user_id": "turn", "content": sentence}).status_code == 201
    acme.ingest("worker", sentence)
    db.declare_embedding_model("m")
    with EmbeddingEndpoint() as endpoint:
        Worker(db.service_dsn, embedder=HTTPEmbedder(endpoint.url, "m"), extractor=RuleExtractor(),
               config=WorkerConfig()).run(once=True)
    slots = {user: _slots(db, user) for user in ("python", "sql", "http", "turn", "worker")}
    assert set(map(tuple, slots.values())) == {(("user", "home_city", "Porto"),)}, slots


def test_identical_turns_collapse_into_one_row_with_a_mention_count(client, db):
    client.create_tenant("acme")
    acme = client.tenant("acme")
    episodes = {acme.ingest("u", "Remind me to water the plants", session_id="s") for _ in range(5)}
    acme.ingest("u", "remind me to   water the plants", session_id="other")  # another session: its own turn
    assert len(episodes) == 5
    with db.connect() as conn:
        rows = conn.execute("select session_id, mention_count from _pymem.memories where user_id = 'u' "
                            "and kind = 'episode' order by session_id").fetchall()
        queued = conn.execute("select count(*) from _pymem.episodes where user_id = 'u'").fetchone()[0]
    assert rows == [("other", 1), ("s", 5)] and queued == 6
    results = acme.retrieve("u", "water the plants", kinds=["episode"], filters={"session_id": "s"})
    assert [m.content for m in results] == ["Remind me to water the plants"]


def test_over_the_cap_ingest_is_a_409_and_writes_nothing(client, db, http):
    client.update_tenant_settings("acme", {"max_memories": 1})
    assert http.post("/api/memory/ingest", json={"user_id": "u", "content": "first"}).status_code == 201
    response = http.post("/api/memory/ingest", json={"user_id": "u", "content": "second"})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "memory_limit_reached"
    assert "limit is 1" in response.json()["error"]["message"]
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.episodes where tenant_id = 'acme'").fetchone()[0] == 1


def test_the_reading_of_a_statement_is_kept_with_the_memory(client, db):
    client.create_tenant("acme")
    memory = client.tenant("acme").remember("u", "Actually, light mode is better for me now")
    with db.connect() as conn:
        statement = conn.execute("select statement from _pymem.memories where id = %s", (memory,)).fetchone()[0]
    assert statement["attribute"] == "display_theme" and statement["update_cue"] is True
    with pytest.raises(psycopg.errors.CheckViolation):
        with db.connect() as conn:
            conn.execute("update _pymem.memories set statement = '[1]' where id = %s", (memory,))
