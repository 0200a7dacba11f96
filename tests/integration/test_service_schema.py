"""Schemathesis against the service's own OpenAPI spec, in process: generated requests for
every operation (valid and invalid bodies, odd strings), authenticated as a real tenant.
No answer may be a 5xx; every answer must match the spec (status, content type, body)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance)

from pymem.service import Service, ServiceConfig

pytestmark = pytest.mark.slow

@pytest.fixture
def service_and_key(client, db):
    client.create_tenant("acme")
    key = client.create_api_key("acme")["api_key"]
    client.tenant("acme").remember("alice", "Alice prefers dark mode", kind="preference")
    return Service(client, ServiceConfig(admin_token="admin-token", owner_dsn=db.admin_dsn,
                                         metrics_token=key)), key  # one bearer for every route


OPERATIONS = [("POST", "/api/memory/ingest"), ("POST", "/api/memory/retrieve"), ("DELETE", "/api/memory/{memory_id}"),
              ("PUT", "/api/memory/{memory_id}"), ("GET", "/api/users"),
              ("GET", "/api/memory"), ("GET", "/api/memory/{memory_id}"), ("GET", "/api/memory/{memory_id}/history"),
              ("POST", "/api/users/erase"), ("POST", "/api/users/export"), ("POST", "/api/admin/index/rebuild"),
              ("GET", "/healthz"), ("GET", "/metrics")]


def test_the_spec_lists_every_operation(service_and_key):
    service, _ = service_and_key
    api = schemathesis.openapi.from_asgi("/openapi.json", service.app())
    listed = {(r.ok().method.upper(), r.ok().path) for r in api.get_all_operations()}
    assert listed == set(OPERATIONS)


# Driven through hypothesis directly: schemathesis' pytest plugin does not work with this
# pytest (it reads a private attribute pytest 9 no longer has).
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors(method, path, service_and_key):
    service, key = service_and_key
    api = schemathesis.openapi.from_asgi("/openapi.json", service.app())
    operation = api[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call(headers={"Authorization": f"Bearer {key}"})
        case.validate_response(response, checks=[not_a_server_error])
        case.validate_response(response, checks=[status_code_conformance, content_type_conformance,
                                                 response_schema_conformance])

    check()
