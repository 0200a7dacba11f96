"""A login fills the cluster's NOTIFY queue (issue 31, item 2).

PostgreSQL lets every session LISTEN and NOTIFY. One login LISTENs and never reads, another
NOTIFYs 7.9 kB payloads in a loop: once the queue is full, every transaction that sends a
notification fails at commit. pymem's ingest (the queue trigger) and erasure (the cache
hint) sent one each, so another tenant's ingest and erasure failed (HTTP 503). Now the hint
is skipped while the queue is half full (_pymem.hint) and idle logins are ended
(pymem.enforce_login_limits).

The queue is 8 GB by default; this runs its own server with the smallest queue PostgreSQL
allows, so the flood takes a second.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import pymem
from pymem import migrate
from pymem.server import EmbeddedServer

from ..conftest import _tmpfs_root, unit_vector


@pytest.fixture(scope="module")
def small_queue_server():
    home = Path(tempfile.mkdtemp(prefix="pymem-notify-", dir=_tmpfs_root()))
    server = EmbeddedServer(home, fast=True, peer_for_all_roles=True)  # as tests/conftest.py
    server.start()
    with psycopg.connect(server.uri(), autocommit=True) as conn:
        conn.execute("alter system set max_notify_queue_pages = 64")  # 512 kB, the minimum
        conn.execute("create database pymem_notify")
    server.restart()
    migrate.migrate(server.uri("pymem_notify"))
    yield server
    server.destroy()
    shutil.rmtree(home, ignore_errors=True)


def _flood(dsn: str, channel: str) -> float:
    """NOTIFY until PostgreSQL refuses (the queue is full) or 2,000 notifications went in."""
    payload = "x" * 7900
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(2000):
            try:
                conn.execute("select pg_notify(%s, %s)", (channel, payload))
            except psycopg.Error:
                break
        return conn.execute("select pg_notification_queue_usage()").fetchone()[0]


def test_a_full_notify_queue_fails_no_other_tenants_ingest_or_erasure(small_queue_server):
    server = small_queue_server
    dsn = server.uri("pymem_notify")
    with psycopg.connect(dsn, autocommit=True) as conn:
        service = conn.execute("select _pymem.service_role()").fetchone()[0]
    client = pymem.connect(server.uri("pymem_notify", user=service), embedder=None)
    try:
        client.create_tenant("victim")
        client.create_tenant("mallory")
        login = client.create_login("mallory")["login"]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("alter role {} password 'pw'").format(sql.Identifier(login)))
        victim = client.tenant("victim")
        victim.remember("vera", "Vera keeps a diary", embedding=unit_vector(1))

        listener = psycopg.connect(server.uri("pymem_notify", user=login), autocommit=True)
        listener.execute("listen flood")  # and never reads
        usage = _flood(server.uri("pymem_notify", user=login), "flood")
        assert usage > 0.9, usage

        # The other tenant's writes that send hints all commit.
        episode = victim.ingest("vera", "I started learning the cello")
        assert episode
        assert victim.remember("vera", "Vera plays the cello", embedding=unit_vector(2))
        report = victim.erase_user("vera")
        assert report["residual"] == 0
        with psycopg.connect(dsn) as conn:
            assert conn.execute("select count(*) from _pymem.memories where tenant_id = 'victim'").fetchone()[0] == 0

        # The idle listener is ended by the login limits, which frees the queue.
        client.update_tenant_settings("mallory", {"login_idle_session_timeout_ms": 1000})
        time.sleep(1.5)
        with psycopg.connect(dsn, autocommit=True) as conn:
            ended = conn.execute("select pymem.enforce_login_limits()").fetchone()[0]
        assert ended["terminated"] >= 1, ended
        with pytest.raises(psycopg.OperationalError):
            listener.execute("select 1")
        listener.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            for _ in range(50):  # the queue's tail moves past the ended listener
                if conn.execute("select pg_notification_queue_usage()").fetchone()[0] < 0.5:
                    break
                time.sleep(0.1)
            assert conn.execute("select pg_notification_queue_usage()").fetchone()[0] < 0.5
        client.drop_login(login)
    finally:
        client.close()
