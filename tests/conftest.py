"""Test fixtures: one real PostgreSQL (the embedded build, with pgvector, AGE and
pg_textsearch preloaded) on tmpfs with fsync off, a migrated template database, and a
fresh clone of it per test (pytest-postgresql's DatabaseJanitor). Fixtures are lazy: the
unit tier (tests/unit) asks for none of them and never starts the server.

Tiers: unit (no database), sql (SQL functions, as the roles that call them), integration
(client, worker, service, CLI, benchmarks as processes), isolation (tenant against tenant),
firstrun (a newcomer's path: the built wheel in a clean venv with an empty home).

Roles are cluster-wide: the clones share the template's install id, so they share its
service and group roles; tenant roles get random suffixes and are dropped after each test.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
import threading
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor

import pymem
from pymem import admin, migrate
from pymem.server import EmbeddedServer

TEMPLATE = "pymem_template"
_counter = itertools.count()


def _tmpfs_root() -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


@pytest.fixture(scope="session")
def pg_server():
    home = Path(tempfile.mkdtemp(prefix="pymem-test-", dir=_tmpfs_root()))
    # Fixtures connect as roles they never gave a password (service, owner, logins): peer for
    # the OS user running the tests; the superuser still signs in with its password (pgpass).
    server = EmbeddedServer(home, fast=True, peer_for_all_roles=True)
    server.start()
    yield server
    server.destroy()
    shutil.rmtree(home, ignore_errors=True)


def _janitor(server: EmbeddedServer, dbname: str, **kwargs) -> DatabaseJanitor:
    return DatabaseJanitor(user="postgres", password=server.password(), host=str(server.socket_dir), port=5432,
                           dbname=dbname, **kwargs)


@pytest.fixture(scope="session")
def template_db(pg_server):
    janitor = _janitor(pg_server, TEMPLATE, as_template=True)
    janitor.init()
    migrate.migrate(pg_server.uri(TEMPLATE))
    admin.restrict_connect(pg_server.uri(TEMPLATE))  # as the embedded server does at start
    with psycopg.connect(pg_server.uri(TEMPLATE)) as conn:
        install = conn.execute("select _pymem.install_id(), _pymem.service_role(), _pymem.tenant_group()").fetchone()
    yield install
    janitor.drop()
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        for role in install[1:]:
            conn.execute(psycopg.sql.SQL("drop role if exists {}").format(psycopg.sql.Identifier(role)))


class Database:
    """One test's database: superuser, owner and service-role DSNs, and helpers."""

    def __init__(self, server: EmbeddedServer, name: str, install: tuple[str, str, str], owner: str | None = None):
        self.server = server
        self.name = name
        self.install_id, self.service_role, self.tenant_group = install
        self.admin_dsn = server.uri(name)
        # The role that owns the install: the superuser, or a role that is not one.
        self.owner_dsn = server.uri(name, user=owner) if owner else self.admin_dsn
        self.service_dsn = server.uri(name, user=self.service_role)

    def connect(self, **kwargs) -> psycopg.Connection:
        """A superuser connection (for setting up and for looking everywhere)."""
        return psycopg.connect(self.admin_dsn, **kwargs)

    def declare_embedding_model(self, model: str, dimensions: int = 384) -> None:
        """Record the model this (still vector-free) database is for, as `pymem up --embed-model`
        does: test embedders are stand-ins with names of their own."""
        with psycopg.connect(self.owner_dsn, autocommit=True) as conn:
            conn.execute("select _pymem.set_embedding_model(%s, %s)", (model, dimensions))

    def tenant_roles(self) -> list[str]:
        with self.connect() as conn:
            return [r[0] for r in conn.execute("select role_name from _pymem.tenants")]


@contextmanager
def cloned_database(server: EmbeddedServer, template: str, install: tuple[str, str, str], owner: str | None = None):
    """A fresh clone of a migrated template, dropped afterwards with the tenant roles made in it."""
    name = f"pymem_test_{os.getpid()}_{next(_counter)}"
    janitor = _janitor(server, name, template_dbname=template)
    janitor.init()
    with psycopg.connect(server.uri(), autocommit=True) as conn:
        # What pymem migrate sets on the database (090_grants.sql): a clone gets the
        # template's catalogs but not its database-level grants.
        conn.execute(psycopg.sql.SQL("revoke temporary on database {} from public").format(psycopg.sql.Identifier(name)))
    if owner:
        admin.prepare_owner(server.uri(name), owner)  # the database-level grants again
    admin.restrict_connect(server.uri(name))  # CONNECT for the install's roles only (issue 31)
    database = Database(server, name, install, owner)
    try:
        yield database
    finally:
        roles = database.tenant_roles()
        janitor.drop()
        with psycopg.connect(server.uri(), autocommit=True) as conn:
            for role in roles:
                conn.execute(psycopg.sql.SQL("drop role if exists {}").format(psycopg.sql.Identifier(role)))


@pytest.fixture
def db(pg_server, template_db):
    with cloned_database(pg_server, TEMPLATE, template_db) as database:
        yield database


@pytest.fixture
def client(db):
    c = pymem.connect(db.service_dsn, embedder=None)
    yield c
    c.close()


class BlockingAsync:
    """The async client behind the sync client's interface: its coroutines run on an event
    loop in another thread, so one set of tests exercises both clients."""

    def __init__(self, target, loop: asyncio.AbstractEventLoop):
        self._target = target
        self._loop = loop

    def __getattr__(self, name):
        attribute = getattr(self._target, name)
        if name == "tenant":
            return lambda tenant_id: BlockingAsync(attribute(tenant_id), self._loop)
        if inspect.iscoroutinefunction(attribute):
            return lambda *args, **kwargs: asyncio.run_coroutine_threadsafe(
                attribute(*args, **kwargs), self._loop).result()
        return attribute


@pytest.fixture(params=["sync", "async"])
def any_client(request, db):
    """pymem.connect() and pymem.connect_async() in turn, with the same interface."""
    if request.param == "sync":
        with pymem.connect(db.service_dsn, embedder=None) as c:
            yield c
        return
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    c = asyncio.run_coroutine_threadsafe(pymem.connect_async(db.service_dsn, embedder=None), loop).result()
    try:
        yield BlockingAsync(c, loop)
    finally:
        asyncio.run_coroutine_threadsafe(c.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="session")
def embedder():
    """The real local model (loaded once per session, ~10 s)."""
    from pymem.embed import default_embedder

    model = default_embedder()
    model.embed(["warm up"])
    return model


@pytest.fixture
def semantic_client(db, embedder):
    c = pymem.connect(db.service_dsn, embedder=embedder)
    yield c
    c.close()


def unit_vector(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)
