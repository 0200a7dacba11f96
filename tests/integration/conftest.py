"""Fixtures of the HTTP service tests: an in-process app per configuration, and two tenants
with an API key each."""

import pytest
from fastapi.testclient import TestClient

from pymem.service import Service, ServiceConfig

METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture
def make_api(client):
    opened = []

    def make(**config):
        service = Service(client, ServiceConfig(**{"key_cache_seconds": 0, "metrics_token": METRICS_TOKEN, **config}))
        http = TestClient(service.app(), raise_server_exceptions=False)
        http.__enter__()
        opened.append(http)
        return http, service

    yield make
    for http in opened:
        http.__exit__(None, None, None)


@pytest.fixture
def keys(client):
    out = {}
    for tenant in ("acme", "globex"):
        client.create_tenant(tenant)
        out[tenant] = client.create_api_key(tenant, name="test")["api_key"]
    return out
