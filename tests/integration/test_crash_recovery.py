"""A crash of the embedded server loses no search: the lexical index (a tsvector column, a
GIN index, BM25 statistics in a table) is WAL-logged, so recovery replays it like any row;
nothing is rebuilt at start (tests/integration/test_lexical_durability.py has every fault)."""

import shutil
import tempfile
from pathlib import Path

import pytest

import pymem
from pymem import migrate as migrations
from pymem.server import EmbeddedServer

pytestmark = pytest.mark.slow


def test_lexical_search_survives_a_crash():
    root = Path(tempfile.mkdtemp(prefix="pymem-crash-", dir="/dev/shm"))
    server = EmbeddedServer(root / "home")
    try:
        server.start()
        migrations.migrate(server.uri())
        dsn = migrations.service_dsn(server.uri())
        with pymem.connect(dsn, embedder=None) as client:
            client.create_tenant("acme")
            tenant = client.tenant("acme")
            for i in range(200):  # written after the last checkpoint
                tenant.remember("alice", f"Alice visited lighthouse number {i} near the harbour")
            assert "lighthouse number 150 " in tenant.retrieve("alice", "lighthouse 150", top_k=1)[0].content
        server.stop(mode="immediate")  # no shutdown checkpoint: PostgreSQL recovers from WAL
        assert server._cluster_state() == "in production"
        server.start()
        assert server._cluster_state() == "in production"
        with pymem.connect(dsn, embedder=None) as client:
            found = client.tenant("acme").retrieve("alice", "lighthouse 150", top_k=1)
            assert found and "lighthouse number 150 " in found[0].content
        server.stop()
        assert server._cluster_state() == "shut down"
    finally:
        server.destroy()
        shutil.rmtree(root, ignore_errors=True)
