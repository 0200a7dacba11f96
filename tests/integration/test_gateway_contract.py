"""The gateway request contract (the bodies of the reference load test, k6/seed-load-test.js in
the benchmark data folder: the tenant in the body, no API key): its bodies, sent as its clients
send them, work in gateway mode and name nothing outside it; the CLI refuses gateway mode on an
address others can reach; erasures clear every service's query cache."""

import time

import numpy as np
from click.testing import CliRunner

from pymem.cli import main
from pymem.service import Service, ServiceConfig
from tests.integration.test_service import assert_error

JSON = {"Content-Type": "application/json"}


def contract_bodies(tenant, user):
    """The reference load test's three request bodies, field for field."""
    setup = {"tenant_id": tenant, "user_id": user, "content": "I prefer dark mode in all applications",
             "type": "preference"}
    ingest = {"tenant_id": tenant, "user_id": user, "content": f"Memory entry at {int(time.time() * 1000)} from {user}",
              "type": "observation"}
    retrieve = {"tenant_id": tenant, "user_id": user, "query": "What are the user's display preferences?",
                "top_k": 10}
    return setup, ingest, retrieve


def test_the_contract_bodies_work_in_gateway_mode_with_the_tenant_in_the_body(make_api, client):
    api, _ = make_api(gateway_tenant_header="X-Pymem-Tenant", auto_provision=True)
    setup, ingest, retrieve = contract_bodies("tenant-0", "tenant-0-user-0")
    stored = api.post("/api/memory/ingest", json=setup, headers=JSON)
    assert stored.status_code == 201, stored.text
    assert stored.json()["kind"] == "preference" and stored.json()["tenant_id"] == "tenant-0"
    queued = api.post("/api/memory/ingest", json=ingest, headers=JSON)
    assert queued.status_code == 201 and queued.json()["kind"] == "episode", queued.text  # observation: extracted later
    found = api.post("/api/memory/retrieve", json=retrieve, headers=JSON)
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    assert results[0]["content"] == "I prefer dark mode in all applications"  # the episode, not yet read, may follow
    assert all(r["tenant_id"] == "tenant-0" for r in results)
    # Another tenant named in the body sees none of it.
    _, _, other = contract_bodies("tenant-1", "tenant-0-user-0")
    assert api.post("/api/memory/retrieve", json=other, headers=JSON).json()["results"] == []
    # The header, when a gateway sends it, wins over nothing but must agree with the body.
    r = api.post("/api/memory/retrieve", json=retrieve, headers={"X-Pymem-Tenant": "tenant-1"})
    assert_error(r, 403, "tenant_mismatch")


def test_outside_gateway_mode_a_body_tenant_id_chooses_nothing(make_api, keys):
    api, _ = make_api()
    setup, _, retrieve = contract_bodies("acme", "alice")
    assert_error(api.post("/api/memory/ingest", json=setup, headers=JSON), 401, "unauthorized")
    assert_error(api.post("/api/memory/retrieve", json=retrieve, headers=JSON), 401, "unauthorized")
    # Gateway mode without auto-provisioning: an unknown tenant in the body is a 404, not a new tenant.
    gateway, _ = make_api(gateway_tenant_header="X-Pymem-Tenant")
    assert_error(gateway.post("/api/memory/retrieve", json=contract_bodies("nobody", "u")[2], headers=JSON),
                 404, "unknown_tenant")


def test_gateway_mode_forgets_a_dropped_tenant_at_once(make_api, client):
    # The gateway path skips the database for tenants the client has looked up before; a
    # tenant dropped through the client is looked up again (and is then unknown).
    api, _ = make_api(gateway_tenant_header="X-Pymem-Tenant")
    client.create_tenant("brief")
    retrieve = contract_bodies("brief", "u")[2]
    assert client.known_role("brief") is None
    assert api.post("/api/memory/retrieve", json=retrieve, headers=JSON).status_code == 200
    assert client.known_role("brief") == client.tenant_role("brief")
    client.drop_tenant("brief")
    assert client.known_role("brief") is None
    assert_error(api.post("/api/memory/retrieve", json=retrieve, headers=JSON), 404, "unknown_tenant")


def test_an_unknown_type_is_refused_naming_the_accepted_ones(make_api):
    api, _ = make_api(gateway_tenant_header="X-Pymem-Tenant", auto_provision=True)
    body = {**contract_bodies("tenant-0", "u")[0], "type": "semantic"}
    response = api.post("/api/memory/ingest", json=body, headers=JSON)
    assert_error(response, 422, "invalid_request")
    message = response.json()["error"]["details"][0]["msg"]
    for accepted in ("fact", "preference", "event", "procedural", "episode", "observation"):
        assert f"'{accepted}'" in message, message


def test_gateway_mode_on_a_reachable_address_needs_the_trusted_network_flag(db):
    result = CliRunner().invoke(main, ["--dsn", db.service_dsn, "serve", "--host", "0.0.0.0",
                                       "--gateway-tenant-header", "X-Pymem-Tenant"])
    assert result.exit_code == 2
    assert "--gateway-trusted-network" in result.output and "any tenant" in result.output


def test_an_erasure_anywhere_clears_every_services_query_cache(client, db):
    import pymem

    service = Service(client, ServiceConfig(), collect_database=False)
    service.forgetter.start()
    try:
        assert service.forgetter.listening.wait(10)
        client.create_tenant("cachy")
        client.query_cache.put("cachy", "u", "what do I like?", np.ones(384, dtype=np.float32))
        before = service.forgetter.cleared
        with pymem.connect(db.service_dsn, embedder=None) as elsewhere:  # another process, as far as caches go
            elsewhere.tenant("cachy").erase_user("u")
        deadline = time.monotonic() + 10
        while service.forgetter.cleared == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.forgetter.cleared > before and len(client.query_cache) == 0
    finally:
        service.forgetter.stop()
