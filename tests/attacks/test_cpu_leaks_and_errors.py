"""Attacks through CPU, leaks, integrity and unclear errors (issue 15, items 7, 10, 11),
acting as tenant B (its role, its login, its API key) against tenant A and the install.
"""

import hashlib
import hmac
import json
import time

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from pymem.client import InvalidInput
from pymem.service import Service, ServiceConfig

from ..conftest import unit_vector
from ..helpers import as_role, sqlstate_of

DENIED = "42501"


# -- item 7: CPU ----------------------------------------------------------------------------

def test_reading_a_megabyte_is_bounded_and_cancellable(db, world):
    """A 1 MiB ingest ran ~90 s of quadratic entity recognition and could not be cancelled.
    Recognition is linear now, extraction reads a bounded prefix of each turn and episode,
    and a statement timeout stops it."""
    turn = ("I moved to Berlin last year and my sister likes sushi in Paris while I work at Google. " * 400)[:32000]
    messages = json.dumps([{"role": "user", "content": turn}] * 32)
    with psycopg.connect(db.service_dsn, autocommit=True) as conn:
        conn.execute("set statement_timeout = 100")  # reading all of it takes ~0.6 s
        assert sqlstate_of(conn, "select _pymem.extract(%s, 'bob')", (messages,)) == "57014"
        conn.execute("set statement_timeout = 0")
        # What a turn says after its first 8,000 characters is not read for memories ...
        filler = "We talked about the weather for a while. " * 200
        late = conn.execute("select _pymem.extract(%s, 'bob')",
                            (json.dumps([{"role": "user", "content": filler + "I live in Lisbon."}]),)).fetchone()[0]
        early = conn.execute("select _pymem.extract(%s, 'bob')",
                             (json.dumps([{"role": "user", "content": "I live in Lisbon. " + filler}]),)).fetchone()[0]
        assert not any("Lisbon" in m["content"] for m in late)
        assert any("Lisbon" in m["content"] for m in early)
        # ... and recognition still finds entities at the end of a long text (it is not cut there).
        spans = conn.execute("select entity_name, word_index from _pymem.recognize_spans(%s)",
                             (filler + " sushi",)).fetchall()
    assert spans == [("Sushi", 1601)]


# -- item 10: leaks and integrity -----------------------------------------------------------

def test_tombstones_are_keyed_with_a_secret_nobody_else_reads(db, world, client):
    """The subject hash was sha256(install_id:tenant:user), and the install id is in every role
    name: anyone could confirm a guessed user id against an erasure tombstone."""
    report = client.tenant("tenant-b").erase_user("bob")
    with db.connect() as conn:
        key = conn.execute("select value from _pymem.secrets where name = 'subject_hash_key'").fetchone()[0]
        install = conn.execute("select _pymem.install_id()").fetchone()[0]
    assert report["subject_hash"] == hmac.new(key, b"tenant-b:bob", hashlib.sha256).hexdigest()
    assert report["subject_hash"] != hashlib.sha256(f"{install}:tenant-b:bob".encode()).hexdigest()
    with as_role(db, world["role_b"]) as conn:
        assert sqlstate_of(conn, "select * from _pymem.secrets") == DENIED
    with psycopg.connect(db.server.uri(db.name, user=world["login_b"]), autocommit=True) as conn:
        assert sqlstate_of(conn, "select * from _pymem.secrets") == DENIED
    with psycopg.connect(db.service_dsn, autocommit=True) as conn:
        assert sqlstate_of(conn, "select * from _pymem.secrets") == DENIED


def test_tenants_cannot_forge_audit_entries(db, world):
    """Tenants could write any audit row through _pymem.audit_event (an erasure, an admin act)."""
    with as_role(db, world["role_b"]) as conn:
        for action in ("erase_user", "drop_tenant", "create_login", "end_login_session"):
            assert sqlstate_of(conn, "select _pymem.audit_event(%s, 'bob', '{}')", (action,)) == DENIED
        assert sqlstate_of(conn, "select _pymem.audit_event('forget', 'bob', %s)",
                           (json.dumps({"pad": "x" * 5000}),)) == "22023"
    with db.connect() as conn:
        forged = conn.execute("select count(*) from _pymem.audit_log where actor like %s and action <> 'forget'",
                              (world["role_b"] + "%",)).fetchone()[0]
    assert forged == 0


@pytest.mark.parametrize("vector", [np.zeros(384), np.full(384, 1e30), np.full(384, 1e-9)])
def test_degenerate_embeddings_are_refused(world, client, vector):
    """A zero or huge vector compared equal to everything: every later write of the user merged
    into it and scores were null. Writes, imports and queries refuse it."""
    tenant = client.tenant("tenant-b")
    with pytest.raises(InvalidInput, match="norm"):
        tenant.remember("bob", "Bob likes oolong", embedding=vector.astype(np.float32))
    with pytest.raises(InvalidInput, match="norm"):
        tenant.retrieve("bob", "tea", query_embedding=vector.astype(np.float32))
    export = tenant.export_user("bob")
    export["memories"][0]["embedding"] = "[" + ",".join(["0"] * 384) + "]"
    with pytest.raises(InvalidInput, match="norm"):
        tenant.import_user(export, user_id="bob-copy")
    assert [m.content for m in tenant.retrieve("bob", "tea", query_embedding=unit_vector(2))] == ["Bob likes tea"]


def test_nan_embeddings_are_refused(world, client):
    vector = unit_vector(3).copy()
    vector[5] = np.nan
    with pytest.raises(InvalidInput):
        client.tenant("tenant-b").remember("bob", "Bob likes oolong", embedding=vector)


def test_the_ingest_notification_carries_nothing(db, world, client):
    """LISTEN needs no privilege: any login hears the channel. It says only that work exists."""
    with psycopg.connect(db.server.uri(db.name, user=world["login_b"]), autocommit=True) as listener:
        listener.execute("listen pymem_episodes")
        client.tenant("tenant-a").ingest("alice", [{"role": "user", "content": "I keep bees"}])
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.payload for n in heard] == [""]


def test_the_forget_notification_names_nobody_and_a_forged_one_only_empties_caches(db, world, client):
    """erase_user NOTIFYs pymem_forget so services drop cached query texts. Another tenant's
    login hears that some erasure happened, not whose; a NOTIFY it sends itself makes a
    service clear its cache (more embedding), never serve or keep anything of another tenant."""
    with psycopg.connect(db.server.uri(db.name, user=world["login_b"]), autocommit=True) as listener:
        listener.execute("listen pymem_forget")
        client.tenant("tenant-a").erase_user("alice")
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.payload for n in heard] == [""]

    service = Service(client, ServiceConfig(), collect_database=False)
    service.forgetter.start()
    try:
        assert service.forgetter.listening.wait(10)
        client.query_cache.put("tenant-a", "carol", "what does carol like?", unit_vector(4))
        before = service.forgetter.cleared
        with psycopg.connect(db.server.uri(db.name, user=world["login_b"]), autocommit=True) as forger:
            forger.execute("notify pymem_forget, 'tenant-a'")
        for _ in range(200):
            if service.forgetter.cleared > before:
                break
            time.sleep(0.05)
        assert service.forgetter.cleared > before and len(client.query_cache) == 0
        # Still answers correctly afterwards: the cache refills from the model.
        assert [m.content for m in client.tenant("tenant-b").retrieve(
            "bob", "tea", query_embedding=unit_vector(2))] == ["Bob likes tea"]
    finally:
        service.forgetter.stop()


# -- the service: /metrics, headers, conflicts ---------------------------------------------

@pytest.fixture
def http(world, client):
    keys = {t: client.create_api_key(t)["api_key"] for t in ("tenant-a", "tenant-b")}
    service = Service(client, ServiceConfig(key_cache_seconds=0, gateway_tenant_header="X-Pymem-Tenant",
                                            metrics_token="scrape-me"))
    with TestClient(service.app(), raise_server_exceptions=False) as api:
        yield api, keys


def test_metrics_need_the_token(http):
    """/metrics was open and listed every tenant."""
    api, keys = http
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers={"Authorization": f"Bearer {keys['tenant-b']}"}).status_code == 401
    scraped = api.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert scraped.status_code == 200 and 'tenant="tenant-a"' in scraped.text


def test_metrics_without_a_token_answer_loopback_only(client, world):
    service = Service(client, ServiceConfig(), collect_database=False)
    with TestClient(service.app(), raise_server_exceptions=False) as remote:  # client host "testclient"
        assert remote.get("/metrics").status_code == 403
    with TestClient(service.app(), raise_server_exceptions=False, client=("127.0.0.1", 5000)) as local:
        assert local.get("/metrics").status_code == 200


def test_a_repeated_identity_header_is_refused(http):
    """Two X-Pymem-Tenant headers: the first won. Any header that names the caller is now
    refused when repeated (a proxy may have read the other one)."""
    api, keys = http
    body = {"user_id": "bob", "query": "tea"}
    twice = api.post("/api/memory/retrieve", json=body,
                     headers=[("X-Pymem-Tenant", "tenant-b"), ("X-Pymem-Tenant", "tenant-a")])
    assert twice.status_code == 400 and "X-Pymem-Tenant" in twice.json()["error"]["message"].title()
    keys_twice = api.post("/api/memory/retrieve", json=body,
                          headers=[("Authorization", f"Bearer {keys['tenant-b']}"),
                                   ("Authorization", f"Bearer {keys['tenant-a']}")])
    assert keys_twice.status_code == 400
    once = api.post("/api/memory/retrieve", json=body, headers={"X-Pymem-Tenant": "tenant-b"})
    assert once.status_code == 200 and [r["content"] for r in once.json()["results"]] == ["Bob likes tea"]
