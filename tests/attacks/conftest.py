"""Every attack runs twice: against an install owned by the superuser (embedded, docker) and
against one owned by a role that is not a superuser (a managed server), set up the way
docs/operations.md tells a DBA to: `pymem admin prepare-owner`, `pymem migrate` as that
role, `pymem admin lockdown`. ``world`` is the two tenants most attacks act in (a file with
a world of its own defines it itself)."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql

from pymem import admin, migrate

from ..conftest import TEMPLATE, _janitor, cloned_database, unit_vector

NONSUPER_TEMPLATE = "pymem_template_nonsuper"


@pytest.fixture(scope="session")
def nonsuper_template(pg_server):
    owner = f"pm_owner_{os.getpid()}"
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login createrole").format(sql.Identifier(owner)))
    janitor = _janitor(pg_server, NONSUPER_TEMPLATE, as_template=True)
    janitor.init()
    admin.prepare_owner(pg_server.uri(NONSUPER_TEMPLATE), owner)
    migrate.migrate(pg_server.uri(NONSUPER_TEMPLATE, user=owner))
    admin.lockdown(pg_server.uri(NONSUPER_TEMPLATE))
    admin.restrict_connect(pg_server.uri(NONSUPER_TEMPLATE))
    with psycopg.connect(pg_server.uri(NONSUPER_TEMPLATE)) as conn:
        install = conn.execute("select _pymem.install_id(), _pymem.service_role(), _pymem.tenant_group()").fetchone()
        assert conn.execute("select owner_role from _pymem.install").fetchone()[0] == owner
    yield install, owner
    janitor.drop()
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        for role in (*install[1:], owner):  # the roles the owner created, then the owner
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


@pytest.fixture(params=["superuser owner", "non-superuser owner"])
def db(request, pg_server, template_db):
    if request.param == "superuser owner":
        with cloned_database(pg_server, TEMPLATE, template_db) as database:
            yield database
    else:
        install, owner = request.getfixturevalue("nonsuper_template")
        with cloned_database(pg_server, NONSUPER_TEMPLATE, install, owner) as database:
            yield database


@pytest.fixture
def world(client, db):
    """Tenants A and B, one memory each, and a login of B's: what an attack acts as (B's role or
    login) and against (A's role and partition)."""
    client.create_tenant("tenant-a")
    client.create_tenant("tenant-b")
    client.tenant("tenant-a").remember("alice", "Alice keeps bees", embedding=unit_vector(1))
    client.tenant("tenant-b").remember("bob", "Bob likes tea", embedding=unit_vector(2))
    login = client.create_login("tenant-b")["login"]
    with db.connect() as conn:
        suffix_a = conn.execute("select storage_suffix from _pymem.tenants where tenant_id = 'tenant-a'").fetchone()[0]
        suffix_b = conn.execute("select storage_suffix from _pymem.tenants where tenant_id = 'tenant-b'").fetchone()[0]
    yield {"role_a": client.tenant_role("tenant-a"), "role_b": client.tenant_role("tenant-b"), "login_b": login,
           "partition_a": f"_pymem.memories_{suffix_a}", "partition_b": f"_pymem.memories_{suffix_b}"}
    client.drop_login(login)
