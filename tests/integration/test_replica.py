"""A streaming read replica serves `retrieve`: the scale-out path for reads in
docs/scaling.md, shown with the binaries the embedded build ships (pg_basebackup, a hot
standby). Writes on the primary reach the replica; the test records the lag it saw."""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

import pymem
from pymem import migrate as migrations
from pymem.server import OS_USER, EmbeddedServer, bin_dir
from tests.conftest import unit_vector

pytestmark = pytest.mark.slow


class VectorOf:
    """A deterministic embedder: the same text always gives the same unit vector."""

    model = "test/sum-of-ords"
    dimensions = 384

    def embed(self, texts):
        import numpy as np

        return np.stack([unit_vector(sum(map(ord, t))) for t in texts])


@pytest.fixture
def primary_and_replica():
    root = Path(tempfile.mkdtemp(prefix="pymem-replica-", dir="/dev/shm"))
    # Durable settings on the primary: with synchronous_commit off (fast=True) WAL reaches the
    # standby only when the WAL writer flushes it (up to ~0.6 s), which is not what a deployment sees.
    primary = EmbeddedServer(root / "primary")
    replica = EmbeddedServer(root / "replica", fast=True)
    try:
        primary.start()
        migrations.migrate(primary.uri(), embedding=(VectorOf.model, VectorOf.dimensions))
        (root / "replica").mkdir()
        os.chmod(root / "replica", 0o755)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(root / "replica", entry.pw_uid, entry.pw_gid)
        # A base backup that configures itself as a standby (-R: standby.signal + primary_conninfo).
        subprocess.run([str(bin_dir() / "pg_basebackup"), "-h", str(primary.socket_dir), "-U", "postgres",
                        "-D", str(replica.data_dir), "-R", "-X", "stream", "-c", "fast"],
                       check=True, capture_output=True, env={**os.environ, "PGPASSWORD": primary.password()},
                       **replica.as_server_user())
        shutil.copy(primary.passfile, replica.passfile)  # a copy of the primary: the same superuser password
        with open(replica.data_dir / "postgresql.auto.conf", "a") as conf:
            conf.write(f"unix_socket_directories = '{replica.socket_dir}'\nhot_standby = on\n")
        replica.start()
        yield primary, replica
    finally:
        replica.destroy()
        primary.destroy()
        shutil.rmtree(root, ignore_errors=True)


def test_a_streaming_replica_serves_retrieve(primary_and_replica, record_property):
    primary, replica = primary_and_replica
    writer = pymem.connect(migrations.service_dsn(primary.uri()), embedder=VectorOf())
    reader = pymem.connect(migrations.service_dsn(replica.uri()), embedder=VectorOf())
    try:
        writer.create_tenant("acme")
        writer.create_tenant("globex")
        acme = writer.tenant("acme")
        acme.remember("alice", "Alice prefers dark mode in every editor", kind="preference")
        writer.tenant("globex").remember("alice", "Globex's alice prefers light mode", kind="preference")
        with psycopg.connect(replica.uri()) as conn:
            assert conn.execute("select pg_is_in_recovery()").fetchone()[0] is True

        # A write on the primary, then the time until the replica answers with it (the
        # reader's session is warm, so this is replication plus one retrieve).
        reader.tenant("acme").retrieve("alice", "where does Alice live? Lisbon", top_k=5)
        written = time.perf_counter()
        acme.remember("alice", "Alice moved to Lisbon in March", kind="fact")
        deadline = written + 30
        while True:
            found = reader.tenant("acme").retrieve("alice", "where does Alice live? Lisbon", top_k=5)
            if any("Lisbon" in m.content for m in found):
                break
            assert time.perf_counter() < deadline, "the replica never caught up"
            time.sleep(0.01)
        lag_ms = (time.perf_counter() - written) * 1000
        record_property("replica_visible_after_ms", round(lag_ms, 1))
        with psycopg.connect(primary.uri()) as conn:
            state = conn.execute("select state, replay_lag from pg_stat_replication").fetchone()
        assert state[0] == "streaming"

        # Retrieval on the replica finds the same memories and isolates tenants: lexical search
        # (a tsvector column, a GIN index, BM25 statistics in a table) is WAL-logged like the rest.
        on_replica = reader.tenant("acme").retrieve("alice", "editor colour theme dark mode", top_k=5)
        on_primary = acme.retrieve("alice", "editor colour theme dark mode", top_k=5)
        assert on_replica[0].id == on_primary[0].id and "dark mode" in on_replica[0].content
        assert {m.id for m in on_replica} == {m.id for m in on_primary}
        assert [(m.id, m.lexical_score) for m in on_replica] == [(m.id, m.lexical_score) for m in on_primary]
        assert all(m.tenant_id == "acme" for m in on_replica)
        assert reader.tenant("globex").retrieve("alice", "editor colour theme dark mode")[0].content.startswith("Globex")
        # Writes are the primary's: the replica refuses them with a clear database error.
        with pytest.raises(pymem.PymemError):
            reader.tenant("acme").remember("alice", "this cannot be stored on a standby")
        print(f"replica: visible after {lag_ms:.1f} ms; replay_lag {state[1]}")
    finally:
        writer.close()
        reader.close()


def test_a_service_on_a_replica_forgets_with_the_primary_or_caches_nothing(primary_and_replica):
    """A standby cannot LISTEN: a service reading from one listens on its primary, or runs
    without a query cache (an erasure elsewhere could not clear it)."""
    from pymem.service import Service, ServiceConfig

    primary, replica = primary_and_replica
    primary_dsn = migrations.service_dsn(primary.uri())
    writer = pymem.connect(primary_dsn, embedder=VectorOf())
    writer.create_tenant("acme")
    blind = pymem.connect(migrations.service_dsn(replica.uri()), embedder=VectorOf())
    told = pymem.connect(migrations.service_dsn(replica.uri()), embedder=VectorOf())
    services = [Service(blind, ServiceConfig(), collect_database=False),
                Service(told, ServiceConfig(primary_dsn=primary_dsn), collect_database=False)]
    try:
        for service in services:
            service.forgetter.start()
        assert services[1].forgetter.listening.wait(10)
        services[0].forgetter._thread.join(10)
        assert blind.query_cache.max_size == 0 and not services[0].forgetter.listening.is_set()
        told.query_cache.put("acme", "alice", "what does alice like?", VectorOf().embed(["x"])[0])
        cleared = services[1].forgetter.cleared
        writer.tenant("acme").erase_user("alice")
        deadline = time.monotonic() + 10
        while services[1].forgetter.cleared == cleared and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(told.query_cache) == 0
    finally:
        for service in services:
            service.forgetter.stop()
        for c in (writer, blind, told):
            c.close()
