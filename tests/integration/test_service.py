"""The HTTP service in process (Starlette's TestClient) against the real test database:
auth by API key, tenant isolation through the API, limits, the stable error shape."""

import json

import pytest
from click.testing import CliRunner

from pymem.cli import main
from tests.integration.conftest import METRICS_TOKEN


def metrics_text(api) -> str:
    response = api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text


@pytest.fixture
def api(make_api):
    return make_api()[0]


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def assert_error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    if code:
        assert body["error"]["code"] == code, body


def test_ingest_then_retrieve_round_trip(api, keys):
    h = bearer(keys["acme"])
    r = api.post("/api/memory/ingest", headers=h,
                 json={"tenant_id": "acme", "user_id": "alice", "content": "I am allergic to peanuts"})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "episode" and len(r.json()["ids"]) == 1
    r = api.post("/api/memory/ingest", headers=h,
                 json={"user_id": "alice", "content": "Alice prefers dark mode", "type": "preference",
                       "metadata": {"via": "api"}})
    assert r.status_code == 201, r.text
    memory_id = r.json()["ids"][0]
    r = api.post("/api/memory/ingest", headers=h, json={
        "user_id": "alice", "session_id": "s1",
        "messages": [{"role": "user", "content": "my editor is Vim"}, {"role": "assistant", "content": "noted"}]})
    assert r.status_code == 201, r.text

    r = api.post("/api/memory/retrieve", headers=h, json={"tenant_id": "acme", "user_id": "alice",
                                                          "query": "dark mode", "top_k": 5})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results and results[0]["id"] == memory_id
    assert {m["tenant_id"] for m in results} == {"acme"}
    assert {"score", "vector_score", "lexical_score", "recency_score", "graph_score", "context_score",
            "created_at", "kind"} <= set(results[0])
    # The raw turn from ingest is searchable at once (lexically).
    r = api.post("/api/memory/retrieve", headers=h, json={"user_id": "alice", "query": "peanuts",
                                                          "kinds": ["episode"]})
    assert [m["content"] for m in r.json()["results"]] == ["I am allergic to peanuts"]


def test_the_key_decides_the_tenant(api, keys, client):
    acme_id = client.tenant("acme").remember("alice", "Acme secret: the launch is in May")
    # A disagreeing body tenant_id is refused, whichever way round.
    r = api.post("/api/memory/retrieve", headers=bearer(keys["globex"]),
                 json={"tenant_id": "acme", "user_id": "alice", "query": "launch"})
    assert_error(r, 403, "tenant_mismatch")
    r = api.post("/api/memory/ingest", headers=bearer(keys["globex"]),
                 json={"tenant_id": "acme", "user_id": "alice", "content": "x"})
    assert_error(r, 403, "tenant_mismatch")
    # Globex's key sees nothing of Acme's and cannot delete it.
    r = api.post("/api/memory/retrieve", headers=bearer(keys["globex"]), json={"user_id": "alice", "query": "launch"})
    assert r.status_code == 200 and r.json() == {"results": []}
    assert_error(api.delete(f"/api/memory/{acme_id}", headers=bearer(keys["globex"])), 404, "memory_not_found")
    # Acme's own key deletes it; then it is gone for Acme too.
    r = api.delete(f"/api/memory/{acme_id}", headers=bearer(keys["acme"]))
    assert r.status_code == 200 and r.json() == {"id": acme_id, "forgotten": True}
    r = api.post("/api/memory/retrieve", headers=bearer(keys["acme"]), json={"user_id": "alice", "query": "launch"})
    assert r.json() == {"results": []}


def test_authentication_failures(api, keys, client):
    body = {"user_id": "alice", "query": "x"}
    assert_error(api.post("/api/memory/retrieve", json=body), 401, "unauthorized")
    assert_error(api.post("/api/memory/retrieve", json=body, headers=bearer("pmk_" + "0" * 64)), 401)
    assert_error(api.post("/api/memory/retrieve", json=body, headers={"Authorization": "Basic abc"}), 401)
    # X-API-Key works as well as Bearer.
    assert api.post("/api/memory/retrieve", json=body, headers={"X-API-Key": keys["acme"]}).status_code == 200
    key = client.create_api_key("acme")
    assert api.post("/api/memory/retrieve", json=body, headers=bearer(key["api_key"])).status_code == 200
    assert client.revoke_api_key(str(key["key_id"])) is True
    assert_error(api.post("/api/memory/retrieve", json=body, headers=bearer(key["api_key"])), 401)
    # Only a digest is stored: the key itself appears nowhere in the table.
    with client._pools.connection() as conn:
        stored = conn.execute("select pymem.list_api_keys('acme')::text").fetchall()
    assert key["api_key"] not in json.dumps([r[0] for r in stored])


def test_keys_are_stored_hashed(db, client):
    client.create_tenant("acme")
    key = client.create_api_key("acme")["api_key"]
    with db.connect() as conn:
        row = conn.execute("select key_hash, key_prefix from _pymem.api_keys").fetchone()
        assert bytes(row[0]) == __import__("hashlib").sha256(key.encode()).digest()
        assert key.startswith(row[1]) and len(row[1]) == 12
        dump = conn.execute("select to_jsonb(k)::text from _pymem.api_keys k").fetchone()[0]
    assert key not in dump
    # Dropping the tenant drops its keys.
    client.drop_tenant("acme")
    assert client.authenticate_key(key) is None


def test_error_shape_for_framework_errors(api, keys):
    h = bearer(keys["acme"])
    assert_error(api.get("/nope"), 404, "not_found")
    assert_error(api.patch("/api/memory/retrieve"), 405, "method_not_allowed")  # PUT is update_memory
    r = api.post("/api/memory/retrieve", headers=h, json={"user_id": "alice"})
    assert_error(r, 422, "invalid_request")
    assert r.json()["error"]["details"][0]["loc"][-1] == "query"
    assert_error(api.post("/api/memory/ingest", headers=h, json={"user_id": "a", "content": "x", "messages": []}),
                 422, "invalid_request")
    assert_error(api.post("/api/memory/retrieve", headers=h, content=b"{not json",
                          ), 422, "invalid_request")
    assert_error(api.delete("/api/memory/not-a-uuid", headers=h), 422, "invalid_request")
    # The database's own validation comes back as 422 too (NUL bytes cannot be stored).
    assert_error(api.post("/api/memory/ingest", headers=h, json={"user_id": "a\u0000b", "content": "x"}),
                 422, "invalid_input")


def test_request_size_limit(make_api, keys):
    api, _ = make_api(max_body_bytes=4096)
    big = {"user_id": "alice", "content": "x" * 5000}
    assert_error(api.post("/api/memory/ingest", headers=bearer(keys["acme"]), json=big), 413, "payload_too_large")

    def chunks():  # no Content-Length: the limit applies while the body streams in
        yield b'{"user_id": "alice", "content": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    r = api.post("/api/memory/ingest", headers={**bearer(keys["acme"]), "Content-Type": "application/json"},
                 content=chunks())
    assert_error(r, 413, "payload_too_large")


def test_per_tenant_share_of_the_pool(make_api, keys, client):
    api, service = make_api()
    assert service.limiter.limit == max(1, client.pool_size // 4)  # the default share
    api, service = make_api(max_concurrent_per_tenant=2)
    service.limiter.active["acme"] = 2  # two calls of acme in flight
    r = api.post("/api/memory/retrieve", headers=bearer(keys["acme"]), json={"user_id": "a", "query": "x"})
    assert_error(r, 429, "too_many_requests")
    assert r.headers["Retry-After"] == "1"
    # Every data call counts, not only retrievals.
    r = api.post("/api/memory/ingest", headers=bearer(keys["acme"]), json={"user_id": "a", "content": "hi"})
    assert_error(r, 429, "too_many_requests")
    # Other tenants are not affected.
    r = api.post("/api/memory/retrieve", headers=bearer(keys["globex"]), json={"user_id": "a", "query": "x"})
    assert r.status_code == 200
    service.limiter.active["acme"] = 1
    assert api.post("/api/memory/retrieve", headers=bearer(keys["acme"]),
                    json={"user_id": "a", "query": "x"}).status_code == 200
    assert service.limiter.active == {"acme": 1}  # the slot was given back
    text = metrics_text(api)
    assert 'memory_retrieval_rejected_total{reason="tenant_concurrency"} 1.0' in text
    assert 'memory_tenant_calls_rejected_total{operation="ingest"} 1.0' in text


def test_admin_rebuild_checks_credentials_and_rebuilds_concurrently(make_api, keys, db, client):
    api, _ = make_api(admin_token="s3cret-admin", owner_dsn=db.admin_dsn)
    h = bearer(keys["acme"])
    # A tenant key may not rebuild all tenants or another tenant.
    assert_error(api.post("/api/admin/index/rebuild", headers=h, json={"tenant": "all"}), 403, "forbidden")
    assert_error(api.post("/api/admin/index/rebuild", headers=h, json={"tenant": "globex"}), 403, "forbidden")
    assert_error(api.post("/api/admin/index/rebuild", headers=bearer("s3cret-admin"), json={"tenant": "nope"}),
                 404, "not_found")
    client.tenant("acme").remember("alice", "Alice prefers green tea")
    response = api.post("/api/admin/index/rebuild", headers=h, json={"tenant": "acme"})
    assert response.status_code == 200, response.text
    (report,) = response.json()["report"]
    assert report["tenant_id"] == "acme" and report["steps"], report
    # The rebuilt indexes serve the tenant as before.
    found = api.post("/api/memory/retrieve", headers=h, json={"user_id": "alice", "query": "green tea"})
    assert [m["content"] for m in found.json()["results"]] == ["Alice prefers green tea"]
    everyone = api.post("/api/admin/index/rebuild", headers=bearer("s3cret-admin"), json={"tenant": "all"})
    assert sorted(r["tenant_id"] for r in everyone.json()["report"]) == ["acme", "globex"]
    # Without the owner's DSN the service cannot build indexes, and says so.
    plain, _ = make_api(admin_token="s3cret-admin")
    assert_error(plain.post("/api/admin/index/rebuild", headers=bearer("s3cret-admin"), json={"tenant": "all"}),
                 501, "not_implemented")


def test_erase_and_export_routes(make_api, keys, db, client):
    """They call pymem.erase_user / pymem.export_user as the key's tenant: the user's data
    goes, for that tenant only."""
    api, _ = make_api()
    h = bearer(keys["acme"])
    assert_error(api.post("/api/users/erase", headers=h, json={"tenant_id": "globex", "user_id": "a"}),
                 403, "tenant_mismatch")
    client.tenant("acme").remember("alice", "Alice's secret")
    client.tenant("globex").remember("alice", "Globex's Alice")
    r = api.post("/api/users/export", headers=h, json={"user_id": "alice"})
    assert r.status_code == 200, r.text
    assert "Alice's secret" in json.dumps(r.json()["export"]) and "Globex" not in json.dumps(r.json())
    r = api.post("/api/users/erase", headers=h, json={"user_id": "alice"})
    assert r.status_code == 200, r.text
    assert r.json()["report"]["residual"] == 0
    assert client.tenant("acme").retrieve("alice", "secret") == []
    assert [m.content for m in client.tenant("globex").retrieve("alice", "Alice")] == ["Globex's Alice"]


def test_gateway_mode(make_api, keys, client):
    api, _ = make_api(gateway_tenant_header="X-Pymem-Tenant")
    body = {"user_id": "alice", "query": "x"}
    assert api.post("/api/memory/retrieve", json=body, headers={"X-Pymem-Tenant": "acme"}).status_code == 200
    assert_error(api.post("/api/memory/retrieve", json=body, headers={"X-Pymem-Tenant": "initech"}),
                 404, "unknown_tenant")
    # A key still decides when sent; a disagreeing header is refused.
    r = api.post("/api/memory/retrieve", json=body, headers={"X-Pymem-Tenant": "acme", **bearer(keys["globex"])})
    assert_error(r, 403, "tenant_mismatch")
    # Without gateway mode the header is ignored: no key, no entry.
    plain, _ = make_api()
    assert_error(plain.post("/api/memory/retrieve", json=body, headers={"X-Pymem-Tenant": "acme"}), 401)

    auto, _ = make_api(gateway_tenant_header="X-Pymem-Tenant", auto_provision=True)
    r = auto.post("/api/memory/ingest", json={"user_id": "u", "content": "hello there"},
                  headers={"X-Pymem-Tenant": "initech"})
    assert r.status_code == 201, r.text
    assert "initech" in {t["tenant_id"] for t in client.list_tenants()}


def test_list_get_history_and_retrieve_narrowing(api, keys, client):
    tenant = client.tenant("acme")
    old = tenant.remember("alice", "Alice prefers dark mode", kind="preference", subject="user",
                          attribute="display_theme", value="dark mode", session_id="s1")
    new = tenant.remember("alice", "Alice prefers light mode", kind="preference", subject="user",
                          attribute="display_theme", value="light mode")
    tenant.remember("alice", "Alice has two cats", session_id="s1", metadata={"source": "chat"})
    h = bearer(keys["acme"])
    listed = api.get("/api/memory", headers=h, params={"user_id": "alice"})
    assert listed.status_code == 200, listed.text
    assert [m["content"] for m in listed.json()["results"]] == ["Alice has two cats", "Alice prefers light mode"]
    assert listed.json()["next_before"] is None
    page = api.get("/api/memory", headers=h, params={"user_id": "alice", "limit": 1}).json()
    assert [m["content"] for m in page["results"]] == ["Alice has two cats"]
    rest = api.get("/api/memory", headers=h, params={"user_id": "alice", "before": page["next_before"]}).json()
    assert [m["content"] for m in rest["results"]] == ["Alice prefers light mode"]
    narrowed = api.get("/api/memory", headers=h, params={"user_id": "alice", "kinds": "preference", "session_id": "s1"})
    assert narrowed.json()["results"] == []  # the preference of session s1 was superseded
    got = api.get(f"/api/memory/{old}", headers=h).json()
    assert (got["status"], got["superseded_by"]) == ("superseded", new)
    versions = api.get(f"/api/memory/{old}/history", headers=h).json()["versions"]
    assert [v["operation"] for v in versions] == ["create", "supersede"]
    # another tenant's key sees none of it
    other = bearer(keys["globex"])
    assert_error(api.get(f"/api/memory/{old}", headers=other), 404, "memory_not_found")
    assert_error(api.get(f"/api/memory/{old}/history", headers=other), 404, "memory_not_found")
    assert api.get("/api/memory", headers=other, params={"user_id": "alice"}).json()["results"] == []
    # retrieve: filters, as_of, min_score
    body = {"user_id": "alice", "query": "cats"}
    scoped = api.post("/api/memory/retrieve", headers=h, json={**body, "filters": {"metadata": {"source": "chat"}}})
    assert [m["content"] for m in scoped.json()["results"]] == ["Alice has two cats"]
    then = api.post("/api/memory/retrieve", headers=h, json={"user_id": "alice", "query": "mode", "kinds": ["preference"],
                                                             "as_of": got["created_at"]})
    assert [m["content"] for m in then.json()["results"]] == ["Alice prefers dark mode"]
    assert api.post("/api/memory/retrieve", headers=h, json={**body, "min_score": 999}).json()["results"] == []
    assert_error(api.post("/api/memory/retrieve", headers=h, json={**body, "filters": {"colour": "red"}}), 422)


def test_interactive_docs_are_served(api):
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_health_openapi_and_metrics(make_api, keys):
    api, _ = make_api(metrics_cache_seconds=0)
    r = api.get("/healthz")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    spec = api.get("/openapi.json").json()
    assert {"/api/memory/ingest", "/api/memory/retrieve", "/api/memory/{memory_id}", "/api/users/erase",
            "/api/users/export", "/api/admin/index/rebuild", "/metrics", "/healthz"} <= set(spec["paths"])

    h = bearer(keys["acme"])
    api.post("/api/memory/ingest", headers=h, json={"user_id": "alice", "content": "likes tea", "type": "fact"})
    api.post("/api/memory/retrieve", headers=h, json={"user_id": "alice", "query": "tea"})
    text = metrics_text(api)
    assert "memory_retrieval_latency_seconds_count 1.0" in text
    assert "memory_retrieval_result_count_count 1.0" in text
    assert "memory_retrieval_relevance_score_count 1.0" in text
    assert 'memory_index_size_bytes{index="hnsw",tenant="acme"}' in text
    assert 'memory_index_size_bytes{index="fts",tenant="globex"}' in text
    assert 'memory_user_memory_count_bucket{le="1.0"} 1.0' in text
    assert "memory_metrics_database_up 1.0" in text
    assert 'memory_http_requests_total{method="POST",route="/api/memory/retrieve",status="200"} 1.0' in text
    # The consistency engine's views, per tenant.
    assert 'memory_stale_fact_ratio{tenant="acme"} 0.0' in text
    assert 'memory_supersession_events_total{tenant="globex"} 0.0' in text
    assert 'memory_contradiction_detected_total{tenant="acme"} 0.0' in text


def test_cli_tenant_keys(db, client):
    client.create_tenant("acme")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--dsn", db.service_dsn, *args], catch_exceptions=False)

    created = run("tenant", "key", "create", "acme", "--name", "ci", "--json")
    assert created.exit_code == 0, created.output
    row = json.loads(created.output)
    assert row["api_key"].startswith("pmk_") and len(row["api_key"]) == 68
    assert client.authenticate_key(row["api_key"])["tenant_id"] == "acme"
    listed = json.loads(run("tenant", "key", "list", "acme", "--json").output)
    assert [k["key_prefix"] for k in listed] == [row["key_prefix"]] and "api_key" not in listed[0]
    assert run("tenant", "key", "revoke", row["key_id"]).exit_code == 0
    assert run("tenant", "key", "revoke", row["key_id"]).exit_code == 1
    assert client.authenticate_key(row["api_key"]) is None
    missing = run("tenant", "key", "create", "nobody")
    assert missing.exit_code == 1 and "unknown tenant" in missing.output


def test_nul_bytes_are_invalid_input_on_every_route(api, keys):
    h = bearer(keys["acme"])
    for path in ("/api/users/erase", "/api/users/export"):
        assert_error(api.post(path, headers=h, json={"user_id": "a\u0000"}), 422, "invalid_input")
    assert_error(api.post("/api/memory/retrieve", headers=h, json={"user_id": "a", "query": "\u0000"}),
                 422, "invalid_input")


def test_timeouts_and_unexpected_errors_keep_the_error_shape(make_api, keys, monkeypatch):
    import time

    from pymem.client import TenantClient

    api, _ = make_api(request_timeout=0.2)
    h = bearer(keys["acme"])
    monkeypatch.setattr(TenantClient, "retrieve", lambda self, *a, **k: time.sleep(1.0))
    r = api.post("/api/memory/retrieve", headers=h, json={"user_id": "a", "query": "x"})
    assert_error(r, 504, "timeout")

    def broken(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(TenantClient, "retrieve", broken)
    r = api.post("/api/memory/retrieve", headers=h, json={"user_id": "a", "query": "x"})
    assert_error(r, 500, "internal_error")
    assert "boom" not in r.text  # internals stay in the log
