"""Real `pymem worker` processes against the real database: LISTEN/NOTIFY wake-ups, two
workers at once, kill -9 in the middle of a batch, graceful SIGTERM, metrics."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from ..embedding_server import EmbeddingEndpoint

pytestmark = pytest.mark.slow


@pytest.fixture
def endpoint():
    with EmbeddingEndpoint() as ep:
        yield ep


@pytest.fixture
def spawn(db, endpoint):
    procs = []

    def start(*args, embed_url=True):
        env = dict(os.environ)
        if embed_url:
            env["PYMEM_EMBED_URL"] = endpoint.url
            db.declare_embedding_model("text-embedding-3-small")  # PYMEM_EMBED_URL's default model
        proc = subprocess.Popen([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "worker",
                                 "--poll-interval", "0.2", *args],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def statuses(db):
    with db.connect() as conn:
        return dict(conn.execute("select status, count(*) from _pymem.episodes group by status").fetchall())


def assert_each_episode_applied_once(db):
    from pymem.sql import query

    with db.connect() as conn:
        ids = [r[0] for r in conn.execute("select id from _pymem.episodes")]
        rows = conn.execute(query("episode_audit"), {"episode_ids": ids}).fetchall()
        unembedded = conn.execute("select count(*) from _pymem.memories where embedding is null").fetchone()[0]
    assert rows and unembedded == 0
    for episode_id, status, extracted, _lag, traces in rows:
        assert status == "done", episode_id
        assert traces == extracted, f"episode {episode_id}: {traces} traces for {extracted} extracted memories"


def ingest_many(client, n, tenant="acme"):
    client.create_tenant(tenant, exist_ok=True)
    t = client.tenant(tenant)
    sentences = ["I'm allergic to dogs", "I prefer dark mode", "I live in Lisbon", "I use Vim and Rust",
                 "My time zone is Europe/Berlin"]
    return [t.ingest(f"user{i % 7}", [{"role": "user", "content": sentences[i % len(sentences)]}]) for i in range(n)]


def test_a_worker_wakes_on_notify_and_stops_gracefully_on_sigterm(client, db, spawn):
    worker = spawn()
    time.sleep(3)  # the worker is idle, listening
    ingest_many(client, 10)
    wait_until(lambda: statuses(db) == {"done": 10}, timeout=60)
    assert_each_episode_applied_once(db)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["applied"] == 10


def test_turns_arriving_together_are_claimed_and_embedded_as_one_batch(client, db, endpoint, spawn):
    spawn("--batch-window", "1.0")
    wait_until(lambda: listeners(db) == 1, timeout=60)
    requests_before = endpoint.requests
    ingest_many(client, 6)  # well within the window
    wait_until(lambda: statuses(db) == {"done": 6}, timeout=60)
    assert_each_episode_applied_once(db)
    with db.connect() as conn:
        claims = conn.execute("select count(distinct claimed_at) from _pymem.episodes").fetchone()[0]
    assert claims == 1
    assert endpoint.requests - requests_before == 1  # the six turns and their memories in one request


def listeners(db) -> int:
    with db.connect() as conn:
        return conn.execute("select count(*) from pg_stat_activity where datname = current_database() "
                            "and query ilike 'listen %'").fetchone()[0]


def test_two_workers_never_process_an_episode_twice(client, db, endpoint, spawn):
    workers = [spawn("--batch-size", "4", "--concurrency", "2") for _ in range(2)]
    # Both must be up before the work arrives (on a loaded machine one process may start
    # seconds before the other and take everything), and each batch takes a moment.
    wait_until(lambda: listeners(db) == 2, timeout=120)
    endpoint.delay = 0.05
    ingest_many(client, 60)
    wait_until(lambda: statuses(db) == {"done": 60}, timeout=120)
    totals = []
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        totals.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(t["applied"] for t in totals) == 60
    assert all(t["applied"] > 0 for t in totals), totals  # both took part
    assert_each_episode_applied_once(db)


def test_kill_9_mid_batch_loses_nothing_and_duplicates_nothing(client, db, endpoint, spawn):
    endpoint.delay = 1.0  # every embedding request takes a second: the batch is in flight
    ingest_many(client, 12)
    victim = spawn("--batch-size", "6", "--lease-seconds", "3")
    wait_until(lambda: statuses(db).get("processing", 0) > 0, timeout=60)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert statuses(db).get("processing", 0) > 0  # its claims are still leased
    endpoint.delay = 0.0
    survivor = spawn("--batch-size", "6")
    wait_until(lambda: statuses(db) == {"done": 12}, timeout=120)
    survivor.send_signal(signal.SIGTERM)
    survivor.communicate(timeout=30)
    assert_each_episode_applied_once(db)
    with db.connect() as conn:
        retried = conn.execute("select count(*) from _pymem.episodes where attempts >= 2").fetchone()[0]
    assert retried > 0  # the killed worker's batch was re-claimed after its lease expired


def test_worker_metrics_are_served(client, db, spawn):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ingest_many(client, 5)
    worker = spawn("--metrics-port", str(port))
    wait_until(lambda: statuses(db) == {"done": 5}, timeout=60)

    def scrape():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return response.read().decode()

    # Queue gauges refresh every 5 s from pymem.queue_stats().
    wait_until(lambda: 'memory_queue_depth{state="pending"} 0.0' in scrape(), timeout=20)
    text = scrape()
    assert "memory_ingestion_lag_seconds_count 5.0" in text
    assert "memory_extraction_coverage_ratio 1.0" in text
    assert "memory_embedding_batch_errors_total 0.0" in text
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=30)


def test_local_model_end_to_end(client, db, spawn):
    """The default embedder (all-MiniLM-L6-v2 from its wheel), no HTTP endpoint."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    acme.ingest("alice", "I'm allergic to dogs. I commute by train every morning.")
    worker = spawn("--once", embed_url=False)
    out, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["applied"] == 1
    from pymem.embed import default_embedder

    query = "which pets make her sneeze?"
    top = acme.retrieve("alice", query, query_embedding=default_embedder().embed([query])[0], top_k=3)
    assert "allergic to dogs" in top[0].content
    assert top[0].vector_score > 0.3
