"""Every attack runs twice: against an install owned by the superuser (embedded, docker) and
against one owned by a role that is not a superuser (a managed server), set up the way
docs/operations.md tells a DBA to: `pymem admin prepare-owner`, `pymem migrate` as that
role, `pymem admin lockdown`."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql

from pymem import admin, migrate

from ..conftest import TEMPLATE, _janitor, cloned_database

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
