"""Faults: a PostgreSQL restart under load, statement timeouts, and a fuzzed SQL API."""

import os
import signal
import subprocess
import sys

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pymem
from pymem.client import Unavailable

from ..conftest import unit_vector
from ..embedding_server import EmbeddingEndpoint
from ..helpers import as_role
from .test_worker_processes import assert_each_episode_applied_once, statuses, wait_until


@pytest.mark.slow
def test_restart_while_a_worker_processes_a_stream(client, db, pg_server):
    client.create_tenant("acme")
    acme = client.tenant("acme")
    with EmbeddingEndpoint() as endpoint:
        endpoint.delay = 0.1
        env = dict(os.environ, PYMEM_EMBED_URL=endpoint.url)
        db.declare_embedding_model("text-embedding-3-small")
        worker = subprocess.Popen([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "worker",
                                   "--poll-interval", "0.2", "--batch-size", "3", "--lease-seconds", "5"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for i in range(20):
                acme.ingest(f"u{i % 3}", f"I live in Lisbon, note {i}")
            wait_until(lambda: statuses(db).get("done", 0) >= 3, timeout=60)
            pg_server.restart()
            # The client's pool reconnects: calls after the restart just work.
            for i in range(20, 30):
                acme.ingest(f"u{i % 3}", f"I live in Porto, note {i}")
            wait_until(lambda: statuses(db) == {"done": 30}, timeout=120)
        finally:
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "database unavailable" in err  # it noticed, backed off and came back
    assert_each_episode_applied_once(db)


def test_statement_timeout_is_a_clear_error_and_commits_nothing(client, db):
    client.create_tenant("acme")
    acme = client.tenant("acme")
    acme.remember("u", "lives in Lisbon", subject="user", attribute="lives_in", value="Lisbon")
    impatient = pymem.connect(db.service_dsn, embedder=None, statement_timeout_ms=300)
    try:
        with db.connect() as blocker:
            blocker.execute("select * from _pymem.memories where user_id = 'u' for update")
            with pytest.raises(Unavailable, match="timed out") as err:
                impatient.tenant("acme").remember("u", "lives in Porto", subject="user", attribute="lives_in",
                                                  value="Porto")
            assert err.value.sqlstate == "57014"
            blocker.rollback()
    finally:
        impatient.close()
    assert [r.content for r in acme.retrieve("u", "lives")] == ["lives in Lisbon"]


texts = st.one_of(st.text(max_size=300), st.just(""), st.just("x" * 20000), st.just("'; drop table x; --"),
                  st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=50))
jsons = st.one_of(st.none(), st.just("{"), st.just("[]"), st.just("{}"), st.just('{"a": 1}'), st.just("null"),
                  st.just('[{"role": "user", "content": "hi"}]'), st.just('"string"'), st.just("1e999"))
vectors = st.one_of(st.none(), st.just("[1,2,3]"), st.just("[]"), st.just("not a vector"),
                    st.just("[" + ",".join(["0.1"] * 384) + "]"), st.just("[" + ",".join(["NaN"] * 384) + "]"))

CALLS = [
    ("select pymem.remember(%s, %s, %s::vector)", (texts, texts, vectors)),
    ("select * from pymem.retrieve(%s, %s, %s::vector, 5)", (texts, texts, vectors)),
    ("select pymem.ingest(%s, %s::jsonb)", (texts, jsons)),
    ("select pymem.forget(%s::uuid)", (texts,)),
    ("select * from pymem.history(%s, now())", (texts,)),
    ("select * from pymem.graph_facts(%s)", (texts,)),
    ("select * from pymem.graph_neighbors(%s, %s, 2)", (texts, texts)),
    ("select * from pymem.graph_paths(%s, %s, %s)", (texts, texts, texts)),
    ("select * from pymem.graph_entities(%s)", (texts,)),
    ("select pymem.export_user(%s)", (texts,)),
    ("select pymem.import_user(%s::jsonb)", (jsons,)),
    ("select pymem.erase_user(%s)", (texts,)),
    ("select * from pymem.retrieve('u', 'q', null, 5, null, %s::text[], %s::jsonb)", (st.just("{fact,rumour}"), jsons)),
]
ALLOWED_CLASSES = {"22", "23", "42", "54", "25", "P0", "2F"}


@pytest.fixture
def fuzz_target(client, db):
    client.create_tenant("victim")
    client.create_tenant("fuzzer")
    client.tenant("victim").remember("u", "victim's secret", embedding=unit_vector(1))
    return client.tenant_role("fuzzer")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_sql_api_fails_cleanly_and_isolation_holds(db, fuzz_target, data):
    statement, strategies = data.draw(st.sampled_from(CALLS))
    args = tuple(data.draw(s) for s in strategies)
    with as_role(db, fuzz_target) as conn:
        try:
            conn.execute(statement, args)
        except psycopg.DataError as exc:
            if exc.sqlstate is None:  # refused client-side (e.g. NUL byte): never reached the server
                return
            assert exc.sqlstate[:2] in ALLOWED_CLASSES, (statement, args, exc.sqlstate, str(exc))
        except psycopg.Error as exc:
            assert exc.sqlstate and exc.sqlstate[:2] in ALLOWED_CLASSES, (statement, args, exc.sqlstate, str(exc))
        # Whatever happened, the fuzzer still sees nothing of the victim.
        assert conn.execute("select count(*) from _pymem.memories where tenant_id = 'victim'").fetchone()[0] == 0
        assert conn.execute("select count(*) from pymem.retrieve('u', 'secret')").fetchone()[0] <= 1
        assert all(r[0] == "fuzzer" for r in conn.execute("select tenant_id from pymem.retrieve('u', 'secret')"))
    with db.connect() as conn:
        assert conn.execute("select content from _pymem.memories where tenant_id = 'victim'").fetchall() == [
            ("victim's secret",)]
