"""The embedding model is a property of the database.

Protocol test: a database created for text-embedding-3-small at 1536 dimensions, and an
OpenAI-compatible embedding server in a process of its own (tests/embedding_server.py: its
vectors are hashed bags of words, deterministic, not a real model). Ingest -> a real
`pymem worker` process -> retrieve runs through it; embedders of any other model are refused
by the client, the worker and the database, each naming both models.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

import pymem
from pymem import migrate
from pymem.embed import LOCAL_MODEL, HTTPEmbedder, LocalEmbedder
from pymem.worker.extract import RuleExtractor
from pymem.worker.worker import Worker

from ..conftest import Database

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MODEL, DIMENSIONS = "text-embedding-3-small", 1536


@pytest.fixture(scope="module")
def endpoint_url():
    proc = subprocess.Popen([sys.executable, "-m", "tests.embedding_server"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _fresh_database(pg_server, name: str, embedding) -> Database:
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("drop database if exists {}").format(psycopg.sql.Identifier(name)))
        conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(name)))
    result = migrate.migrate(pg_server.uri(name), embedding=embedding)
    with psycopg.connect(pg_server.uri(name)) as conn:
        install = conn.execute("select _pymem.install_id(), _pymem.service_role(), _pymem.tenant_group()").fetchone()
    database = Database(pg_server, name, install)
    database.migration = result
    return database


def _drop(pg_server, database: Database) -> None:
    roles = database.tenant_roles() + [database.service_role, database.tenant_group]
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("drop database {} with (force)").format(psycopg.sql.Identifier(database.name)))
        for role in roles:
            conn.execute(psycopg.sql.SQL("drop role if exists {}").format(psycopg.sql.Identifier(role)))


@pytest.fixture
def db_1536(pg_server):
    database = _fresh_database(pg_server, f"pymem_1536_{os.getpid()}", (MODEL, DIMENSIONS))
    yield database
    _drop(pg_server, database)


def _worker(db, url, **env_overrides):
    env = {**os.environ, "PYMEM_EMBED_URL": url, "PYMEM_EMBED_MODEL": MODEL,
           "PYMEM_EMBED_DIMENSIONS": str(DIMENSIONS), **env_overrides}
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "worker", "--once"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_ingest_worker_retrieve_at_1536_dimensions(db_1536, endpoint_url):
    db = db_1536
    assert db.migration["embedding_model"] == {"model": MODEL, "dimensions": DIMENSIONS}
    with db.connect() as conn:
        column = conn.execute("select format_type(atttypid, atttypmod) from pg_attribute"
                              " where attrelid = '_pymem.memories'::regclass and attname = 'embedding'").fetchone()[0]
    assert column == "vector(1536)"

    embedder = HTTPEmbedder(endpoint_url, MODEL, dimensions=DIMENSIONS)
    with pymem.connect(db.service_dsn, embedder=embedder) as client:
        client.create_tenant("acme")
        acme = client.tenant("acme")
        acme.ingest("alice", [{"role": "user", "content": "I live in Lisbon and I prefer dark mode"}])
        acme.ingest("alice", [{"role": "user", "content": "I'm allergic to peanuts"}])

        done = _worker(db, endpoint_url)
        assert done.returncode == 0, done.stderr

        hits = acme.retrieve("alice", "which city does alice live in", top_k=3)
        assert hits and "Lisbon" in hits[0].content
        hits = acme.retrieve("alice", "peanuts allergy", top_k=1)
        assert hits and "peanuts" in hits[0].content
    with db.connect() as conn:
        dims = conn.execute("select array_agg(distinct vector_dims(embedding)), count(*) filter (where embedding is null)"
                            " from _pymem.memories").fetchone()
    assert dims == ([DIMENSIONS], 0)


def test_other_models_are_refused_naming_both(db_1536, endpoint_url):
    db = db_1536
    # The right model at the wrong size, the local model, a model of the right size but another name.
    for wrong in (HTTPEmbedder(endpoint_url, MODEL), LocalEmbedder(),
                  HTTPEmbedder(endpoint_url, "text-embedding-3-large", dimensions=DIMENSIONS)):
        with pytest.raises(pymem.EmbedderMismatch) as refused:
            pymem.connect(db.service_dsn, embedder=wrong)
        message = str(refused.value)
        assert f"{MODEL} (1536 dimensions)" in message and f"{wrong.model} ({wrong.dimensions} dimensions)" in message
    with pytest.raises(pymem.EmbedderMismatch, match=r"text-embedding-3-small \(384 dimensions\)"):
        asyncio.run(pymem.connect_async(db.service_dsn, embedder=HTTPEmbedder(endpoint_url, MODEL)))

    # A worker whose environment gives another size exits 1 before touching the queue.
    refused = _worker(db, endpoint_url, PYMEM_EMBED_DIMENSIONS=None)
    assert refused.returncode == 1
    assert f"{MODEL} (1536 dimensions)" in refused.stderr and f"{MODEL} (384 dimensions)" in refused.stderr

    # The database itself refuses a vector of another size, whoever sends it.
    with pymem.connect(db.service_dsn, embedder=None) as client:
        client.create_tenant("acme")
        with pytest.raises(pymem.InvalidInput, match="384 dimensions; this database stores 1536 dimensions"):
            client.tenant("acme").remember("alice", "x", embedding=[1.0] + [0.0] * 383)


def test_a_database_holding_vectors_cannot_be_redeclared(db_1536, endpoint_url):
    db = db_1536
    # Declaring the model it already holds is a no-op.
    assert migrate.migrate(db.admin_dsn, embedding=(MODEL, DIMENSIONS))["embedding_model"]["model"] == MODEL
    with pymem.connect(db.service_dsn, embedder=HTTPEmbedder(endpoint_url, MODEL, dimensions=DIMENSIONS)) as client:
        client.create_tenant("acme")
        client.tenant("acme").remember("alice", "I live in Lisbon")
    with pytest.raises(migrate.MigrationError, match="holds embeddings from text-embedding-3-small"):
        migrate.migrate(db.admin_dsn, embedding=(LOCAL_MODEL, 384))
    with pytest.raises(migrate.MigrationError, match="1-2000"):
        migrate.migrate(db.admin_dsn, embedding=(MODEL, 3072))


def test_pymem_up_creates_the_embedded_database_for_the_model(tmp_path, endpoint_url):
    env = {**os.environ, "PYMEM_HOME": str(tmp_path / "home")}
    env.pop("PYMEM_DSN", None)
    try:
        up = subprocess.run([sys.executable, "-m", "pymem.cli", "up", "--json", "--embed-model", MODEL,
                             "--embed-dim", str(DIMENSIONS)], env=env, capture_output=True, text=True, timeout=180)
        assert up.returncode == 0, up.stderr
        doctor = subprocess.run([sys.executable, "-m", "pymem.cli", "doctor", "--json"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert '"embedding_model": {"dimensions": 1536, "model": "text-embedding-3-small"}' in doctor.stdout
        # Without an endpoint for that model the CLI's searches are refused, not answered wrongly.
        search = subprocess.run([sys.executable, "-m", "pymem.cli", "search", "--tenant", "t", "--user", "u", "x"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert search.returncode == 1 and "text-embedding-3-small (1536 dimensions)" in search.stderr
    finally:
        subprocess.run([sys.executable, "-m", "pymem.cli", "down", "--purge"], env=env, capture_output=True,
                       timeout=60)


def test_reembed_switches_models_while_reads_go_on(db_1536, endpoint_url, pg_server):
    db = db_1536
    from pymem.admin import reembed

    old = HTTPEmbedder(endpoint_url, MODEL, dimensions=DIMENSIONS)
    new = HTTPEmbedder(endpoint_url, "text-embedding-3-large", dimensions=256)
    facts = [f"fact number {i} about topic{i}" for i in range(40)] + ["I live in Lisbon"]
    with pymem.connect(db.service_dsn, embedder=old) as reader:
        reader.create_tenant("acme")
        reader.create_tenant("beta")
        for fact in facts:
            reader.tenant("acme").remember("alice", fact)
        reader.tenant("beta").remember("bob", "I live in Porto")
        seen_midway = []

        def progress(phase, done, total):
            if phase == "embed" and not seen_midway:
                # Mid-way: the old model still answers, and a write with it still lands.
                seen_midway.append(reader.tenant("acme").retrieve("alice", "where does alice live", top_k=1)[0].content)
                reader.tenant("acme").remember("alice", "I work at Acme")

        report = reembed(db.admin_dsn, new, batch_size=8, progress=progress)
        assert seen_midway == ["I live in Lisbon"]
        assert report["model"] == "text-embedding-3-large" and report["dimensions"] == 256
        assert report["previous_model"] == MODEL and report["memories"] == len(facts) + 2

        # After the switch the old model's client is refused by the database's size check.
        with pytest.raises(pymem.InvalidInput, match="1536 dimensions; this database stores 256"):
            reader.tenant("acme").retrieve("alice", "where does alice live")

    with pytest.raises(pymem.EmbedderMismatch):
        pymem.connect(db.service_dsn, embedder=old)
    with pymem.connect(db.service_dsn, embedder=new) as client:
        assert client.tenant("acme").retrieve("alice", "where does alice live", top_k=1)[0].content == "I live in Lisbon"
        assert client.tenant("acme").retrieve("alice", "work at Acme", top_k=1)[0].content == "I work at Acme"
        assert client.tenant("beta").retrieve("bob", "where does bob live", top_k=1)[0].content == "I live in Porto"
        # The swapped-in column takes the tenants' writes as the old one did (its column grants).
        client.tenant("acme").ingest("alice", "I'm allergic to peanuts")
        totals = Worker(db.service_dsn, embedder=new, extractor=RuleExtractor()).run(once=True)
        assert totals["applied"] == 1 and totals["failed"] == 0
        assert "peanuts" in client.tenant("acme").retrieve("alice", "peanut allergy", top_k=1)[0].content
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.memories where vector_dims(embedding) <> 256"
                            " or embedding is null").fetchone()[0] == 0
        indexes = conn.execute("select indexname, indexdef from pg_indexes where schemaname = '_pymem'"
                               " and indexdef like '%hnsw%' order by 1").fetchall()
        assert len(indexes) == 2 and all(name.endswith("_hnsw") and "(embedding vector_cosine_ops)" in ddl
                                         for name, ddl in indexes)
        assert conn.execute("select next_model from _pymem.embedding_model").fetchone()[0] is None


def test_reembed_cli_resumes_and_abort_forgets(db_1536, endpoint_url):
    db = db_1536
    from pymem.admin import abort_reembed, reembed_state

    with pymem.connect(db.service_dsn, embedder=HTTPEmbedder(endpoint_url, MODEL, dimensions=DIMENSIONS)) as client:
        client.create_tenant("acme")
        for i in range(5):
            client.tenant("acme").remember("alice", f"fact {i}")
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        conn.execute("select _pymem.begin_reembed('text-embedding-3-large', 256)")
    state = reembed_state(db.admin_dsn)
    assert (state["next_model"], state["done"], state["total"]) == ("text-embedding-3-large", 0, 5)
    # Another target while one is in progress is refused; the same one resumes.
    with psycopg.connect(db.admin_dsn) as conn, pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        conn.execute("select _pymem.begin_reembed('other-model', 64)")
    assert abort_reembed(db.admin_dsn) == {"aborted": "text-embedding-3-large"}
    with db.connect() as conn:
        assert conn.execute("select count(*) from pg_attribute where attrelid = '_pymem.memories'::regclass"
                            " and attname = 'embedding_next' and not attisdropped").fetchone()[0] == 0

    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pymem.cli", "--dsn", db.admin_dsn, "embeddings", "reembed", "--json",
                          "--model", "text-embedding-3-large", "--dimensions", "256", "--url", endpoint_url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert '"model": "text-embedding-3-large"' in run.stdout and time.monotonic() - started < 120
    show = subprocess.run([sys.executable, "-m", "pymem.cli", "--dsn", db.admin_dsn, "embeddings", "show"],
                          capture_output=True, text=True, timeout=60)
    assert show.stdout.strip() == "text-embedding-3-large (256 dimensions)"


def test_workers_share_the_reembedding(db_1536, endpoint_url, monkeypatch):
    """Running workers that can reach the new model claim batches too; the command then only
    builds the indexes and switches."""
    db = db_1536
    from pymem.admin import reembed

    old = HTTPEmbedder(endpoint_url, MODEL, dimensions=DIMENSIONS)
    with pymem.connect(db.service_dsn, embedder=old) as client:
        client.create_tenant("acme")
        for i in range(30):
            client.tenant("acme").remember("alice", f"note {i} about topic{i}")
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        conn.execute("select _pymem.begin_reembed('text-embedding-3-large', 256)")

    monkeypatch.setenv("PYMEM_REEMBED_URL", endpoint_url)
    totals = Worker(db.service_dsn, embedder=old, extractor=RuleExtractor()).run(once=True)
    assert totals["reembedded"] == 30
    # A worker that cannot reach the new model leaves it to others.
    monkeypatch.delenv("PYMEM_REEMBED_URL")
    monkeypatch.delenv("PYMEM_EMBED_URL", raising=False)
    assert Worker(db.service_dsn, embedder=old, extractor=RuleExtractor()).run(once=True)["reembedded"] == 0

    report = reembed(db.admin_dsn, HTTPEmbedder(endpoint_url, "text-embedding-3-large", dimensions=256))
    assert (report["memories"], report["embedded_here"]) == (30, 0)
    with pymem.connect(db.service_dsn, embedder=HTTPEmbedder(endpoint_url, "text-embedding-3-large",
                                                             dimensions=256)) as client:
        assert client.tenant("acme").retrieve("alice", "topic7", top_k=1)[0].content == "note 7 about topic7"
