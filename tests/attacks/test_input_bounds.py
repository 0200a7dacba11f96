"""Inputs with sane bounds everywhere (issue 31, item 5), against both owner kinds.

A 900-deep metadata object was accepted (201) and then every retrieve and list of that user
answered 500; deep filters answered 500; observed_at '-infinity' was stored and broke the
user's list (422 forever); a tenant role's own UPDATE stored a zero vector (score null); a
tenant role wrote 'forget' events into its audit log for memories it never forgot.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from starlette.testclient import TestClient

from pymem.client import InvalidInput
from pymem.service.app import Service, ServiceConfig

from ..conftest import unit_vector
from ..helpers import as_role, sqlstate_of


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


@pytest.fixture
def acme(client):
    client.create_tenant("acme")
    tenant = client.tenant("acme")
    tenant.remember("alice", "Alice keeps bees", embedding=unit_vector(1))
    return tenant


@pytest.fixture
def api(client, acme):
    key = client.create_api_key("acme", name="bounds")["api_key"]
    with TestClient(Service(client, ServiceConfig(key_cache_seconds=0)).app(), raise_server_exceptions=False) as http:
        yield http, {"Authorization": f"Bearer {key}"}


def test_deep_json_is_refused_and_the_user_stays_readable(acme):
    for depth in (33, 900):
        with pytest.raises(InvalidInput, match="nested more than"):
            acme.remember("alice", "deep", embedding=unit_vector(2), metadata=nested(depth))
        with pytest.raises(InvalidInput, match="nested more than"):
            acme.ingest("alice", "deep turn", metadata=nested(depth))
        with pytest.raises(InvalidInput, match="nested more than"):
            acme.retrieve("alice", "bees", filters={"metadata": nested(depth)})
        with pytest.raises(InvalidInput, match="nested more than"):
            acme.list("alice", filters={"metadata": nested(depth)})
    acme.remember("alice", "shallow enough", embedding=unit_vector(3), metadata=nested(32))
    assert any(m.content == "Alice keeps bees" for m in acme.retrieve("alice", "bees"))
    assert len(acme.list("alice")) == 2
    with pytest.raises(InvalidInput, match="bytes of JSON"):
        acme.remember("alice", "big", embedding=unit_vector(4), metadata={"blob": "x" * 70000})


def test_deep_json_over_http_is_a_clear_422(api):
    http, headers = api
    body = {"user_id": "alice", "content": "deep", "metadata": nested(900)}
    r = http.post("/api/memory/ingest", headers={**headers, "content-type": "application/json"}, content=json.dumps(body))
    assert r.status_code == 422, r.text
    r = http.post("/api/memory/retrieve", headers={**headers, "content-type": "application/json"},
                  content=json.dumps({"user_id": "alice", "query": "bees", "filters": {"metadata": nested(900)}}))
    assert r.status_code == 422, r.text
    r = http.post("/api/memory/retrieve", headers=headers, json={"user_id": "alice", "query": "bees"})
    assert r.status_code == 200 and r.json()["results"], r.text


@pytest.mark.parametrize("when", ["-infinity", "infinity", "0001-01-01T00:00:00Z", "3026-01-01T00:00:00Z"])
def test_times_must_be_finite_and_plausible(db, client, acme, when):
    with as_role(db, client.tenant_role("acme")) as conn:
        assert sqlstate_of(conn, "select pymem.remember('alice', 'odd time', null, 'fact', 0.5, '{}', null, null, "
                                 "%s::timestamptz)", (when,)) == "22023"
        assert sqlstate_of(conn, "select pymem.ingest('alice', '[{\"role\": \"user\", \"content\": \"hi\"}]', null, "
                                 "null, null, %s::timestamptz)", (when,)) == "22023"
        assert sqlstate_of(conn, "select * from pymem.retrieve('alice', 'bees', null, 10, null, null, null, "
                                 "%s::timestamptz)", (when,)) == "22023"
        assert sqlstate_of(conn, "select * from pymem.list_memories('alice', null, null, %s::timestamptz)",
                           (when,)) == "22023"
    assert len(acme.list("alice")) == 1


def test_a_tenant_roles_own_update_cannot_store_a_degenerate_vector(db, client, acme):
    with as_role(db, client.tenant_role("acme")) as conn:
        for vector in (np.zeros(384, dtype=np.float32), np.full(384, 1e30, dtype=np.float32)):
            assert sqlstate_of(conn, "update _pymem.memories set embedding = %s where user_id = 'alice'",
                               (vector,)) == "22023"
    results = acme.retrieve("alice", "bees", query_embedding=unit_vector(1))
    assert results and all(m.score is not None for m in results)


def test_a_tenant_role_cannot_forge_forget_events(db, client, acme):
    memory = acme.list("alice")[0]
    with as_role(db, client.tenant_role("acme")) as conn:
        forged = json.dumps({"memory_id": str(memory.id)})
        assert sqlstate_of(conn, "select _pymem.audit_event('forget', 'alice', %s::jsonb)", (forged,)) == "42501"
        assert sqlstate_of(conn, "select _pymem.audit_event('forget', 'alice', '{}')") == "42501"
    assert acme.forget(memory.id)  # the real one is recorded
    events = [e["action"] for e in client.audit_log("acme")]
    assert events.count("forget") == 1
