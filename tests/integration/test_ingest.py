"""ingest -> queue -> apply_extraction, on the real database, with an in-process Worker
(the real HTTP embedder client against a local endpoint)."""

import time

import psycopg
import pytest
from psycopg.types.json import Jsonb

from pymem.client import InvalidInput, NotFound
from pymem.embed import HTTPEmbedder
from pymem.worker.extract import RuleExtractor
from pymem.worker.worker import Worker, WorkerConfig

from ..embedding_server import EmbeddingEndpoint
from ..helpers import as_role


@pytest.fixture
def acme(client):
    client.create_tenant("acme")
    return client.tenant("acme")


@pytest.fixture
def endpoint():
    with EmbeddingEndpoint() as ep:
        yield ep


def make_worker(db, client, endpoint, **config):
    embedder = HTTPEmbedder(endpoint.url, "test-model", backoff_base=0.01)
    db.declare_embedding_model("test-model")
    return Worker(db.service_dsn, embedder=embedder, extractor=RuleExtractor(),
                  config=WorkerConfig(poll_interval=0.1, **config), name="test")


def episodes(db):
    with db.connect() as conn:
        return conn.execute("select status, attempts, last_error, memories_extracted from _pymem.episodes "
                            "order by enqueued_at").fetchall()


def test_ingest_returns_at_once_and_user_turns_are_searchable_before_any_worker(acme, db):
    episode_id = acme.ingest("alice", [{"role": "user", "content": "I'm allergic to dogs"},
                                       {"role": "assistant", "content": "I'll remember that dogs are a no."}],
                             session_id="s1")
    assert episodes(db) == [("pending", 0, None, None)]
    results = acme.retrieve("alice", "allergic dogs")
    assert [(r.kind, r.content) for r in results] == [("episode", "I'm allergic to dogs")]
    assert results[0].source["episode_id"] == episode_id and results[0].session_id == "s1"
    with db.connect() as conn:
        # The NOTIFY trigger fired for the insert; a registered user exists now.
        assert conn.execute("select count(*) from _pymem.users where user_id = 'alice'").fetchone()[0] == 1



def test_a_turn_said_again_is_found_by_its_hash_under_row_security(acme, client, db):
    """A turn repeated in its session (up to case and spacing) is stored once with a mention;
    the lookup is an index search as the tenant role, not a pass over the user's every turn
    (an index on an expression of non-leakproof functions cannot be searched under row
    security: 0012_turn_hash.sql)."""
    acme.ingest("ann", [{"role": "user", "content": "I live in  Lisbon"}], session_id="s1")
    acme.ingest("ann", [{"role": "user", "content": " i live in lisbon"}], session_id="s1")
    acme.ingest("ann", [{"role": "user", "content": "I live in Lisbon"}], session_id="s2")
    with db.connect() as conn:
        rows = conn.execute("select session_id, mention_count, turn_hash = md5('i live in lisbon') "
                            "from _pymem.memories where user_id = 'ann' order by session_id").fetchall()
    assert rows == [("s1", 2, True), ("s2", 1, True)]
    with as_role(db, client.tenant_role("acme")) as conn:
        conn.execute("set enable_seqscan = off")
        conn.execute("set enable_bitmapscan = off")
        plan = conn.execute(
            "explain (format json) select 1 from _pymem.memories m where m.tenant_id = 'acme' and m.user_id = 'ann' "
            "and m.kind = 'episode' and m.turn_hash = _pymem.turn_hash('I live in Lisbon')").fetchone()[0]

    def index_conditions(node):
        yield node.get("Index Cond", "")
        for child in node.get("Plans", []):
            yield from index_conditions(child)

    assert any("turn_hash" in cond for cond in index_conditions(plan[0]["Plan"])), plan

def test_worker_applies_extraction_and_the_memories_become_retrievable(acme, client, db, endpoint):
    acme.ingest("alice", [{"role": "user", "content": "I'm allergic to dogs. But I love hot dogs!"}])
    acme.ingest("alice", "The weather is nice today")  # nothing to extract
    totals = make_worker(db, client, endpoint).run(once=True)
    assert totals == {"applied": 2, "failed": 0, "dead": 0, "skipped": 0, "reembedded": 0}
    assert [row[0] for row in episodes(db)] == ["done", "done"]
    assert [row[3] for row in episodes(db)] == [2, 0]
    kinds = {(r.kind, r.content) for r in acme.retrieve("alice", "allergic to dogs", top_k=10)}
    assert ("fact", "User is allergic to dogs") in kinds
    with db.connect() as conn:
        # Every episode turn and memory has a vector now; provenance points at the episode.
        assert conn.execute("select count(*) from _pymem.memories where embedding is null").fetchone()[0] == 0
        row = conn.execute("select source, metadata from _pymem.memories where content = 'User likes hot dogs'").fetchone()
        assert row[0]["turns"] == [0] and row[1]["entities"] == [{"name": "Hot dog", "type": "Food"}]
        assert row[1]["extractor"] == "rules"


def test_only_the_claim_holder_can_complete_an_episode(acme, client, db):
    acme.ingest("bob", "I live in Lisbon")
    role = client.tenant_role("acme")
    with psycopg.connect(db.service_dsn, autocommit=True) as conn:
        [claimed] = conn.execute("select id, attempts from _pymem.claim_episodes('w1', 10, 60, 5)").fetchall()
        assert conn.execute("select count(*) from _pymem.claim_episodes('w2', 10, 60, 5)").fetchone()[0] == 0
    extraction = Jsonb({"memories": [{"kind": "fact", "content": "User lives in Lisbon"}]})
    with as_role(db, role) as conn:
        stale = conn.execute("select pymem.apply_extraction(%s, 'w2', %s)", (claimed[0], extraction)).fetchone()[0]
        assert stale["applied"] is False
        done = conn.execute("select pymem.apply_extraction(%s, 'w1', %s)", (claimed[0], extraction)).fetchone()[0]
        assert done["applied"] is True and done["memories"] == 1
        again = conn.execute("select pymem.apply_extraction(%s, 'w1', %s)", (claimed[0], extraction)).fetchone()[0]
        assert again["applied"] is False
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.memories where kind = 'fact'").fetchone()[0] == 1


def test_expired_leases_come_back_and_poison_jobs_end_dead(acme, db):
    acme.ingest("bob", "I live in Lisbon")
    with psycopg.connect(db.service_dsn, autocommit=True) as conn:
        for attempt in range(1, 4):
            [row] = conn.execute("select attempts from _pymem.claim_episodes('w', 10, 0, 3)").fetchall()
            assert row[0] == attempt
        # Lease 0 s: expired at once. The third expiry reaches max_attempts: dead letter.
        assert conn.execute("select count(*) from _pymem.claim_episodes('w', 10, 0, 3)").fetchone()[0] == 0
    [(status, attempts, error, _)] = episodes(db)
    assert (status, attempts) == ("dead", 3) and "lease expired" in error


def test_rate_limits_back_off_then_succeed(acme, client, db, endpoint):
    endpoint.rate_limit_next = 3
    acme.ingest("carol", "I prefer dark mode")
    worker = make_worker(db, client, endpoint)
    assert worker.run(once=True)["applied"] == 1
    assert endpoint.statuses[:4] == [429, 429, 429, 200]
    assert worker.metrics.embedding_batch_errors._value.get() == 3
    assert episodes(db)[0][0] == "done"


def test_permanent_embedding_failure_dead_letters_with_the_error_and_retry_dead_requeues(acme, client, db, endpoint):
    endpoint.permanent_failure = True
    acme.ingest("dave", "I use Vim")
    assert make_worker(db, client, endpoint).run(once=True)["dead"] == 1
    [(status, attempts, error, _)] = episodes(db)
    assert status == "dead" and "400" in error and "model not found" in error
    # Nothing lost: the raw turn is still searchable, and the episode can be re-queued.
    assert acme.retrieve("dave", "vim")[0].kind == "episode"
    endpoint.permanent_failure = False
    assert client.retry_dead("acme") == 1
    assert make_worker(db, client, endpoint).run(once=True)["applied"] == 1
    assert episodes(db)[0][0] == "done"


def test_exhausted_retries_go_to_dead_letter(acme, client, db, endpoint):
    endpoint.rate_limit_next = 10_000
    acme.ingest("erin", "I use Emacs")
    worker = make_worker(db, client, endpoint, max_attempts=2, retry_base=0.01, retry_cap=0.02)
    worker.embedder.attempts = 2
    outcome = worker.run(once=True)
    time.sleep(0.05)
    outcome2 = worker.run(once=True)
    # one failed attempt, then the dead letter; under load the first pass may already reach
    # the second attempt (the retry is due after 0.02 s), so count over both passes
    assert outcome["failed"] + outcome2["failed"] == 1 and outcome["dead"] + outcome2["dead"] == 1
    [(status, attempts, error, _)] = episodes(db)
    assert (status, attempts) == ("dead", 2) and "429" in error


@pytest.mark.parametrize("messages, message", [
    ([], "messages is empty"),
    ({"role": "user", "content": "a dict, not a list"}, "messages must be a list"),
    ([{"role": "robot", "content": "hi"}], "roles are user, assistant"),
    ([{"role": "user", "content": ""}], "has no text content"),
    ([{"role": "user", "content": "   "}], "has no text content"),
    ([{"role": "user"}], "has no text content"),
    ([{"role": "user", "content": 42}], "has no text content"),
    ([{"role": "user", "content": "x" * 32001}], "limit is 32000"),
    ([{"role": "user", "content": "hi"}] * 201, "limit is 200"),
    ([{"role": "user", "content": "nul \x00 byte"}], "NUL byte"),
    ([{"role": "user", "content": "bad \udcff utf-8"}], "not valid UTF-8"),
    (["just a string in a list"], "not an object"),
])
def test_bad_ingest_input_is_refused_and_writes_nothing(acme, db, messages, message):
    with pytest.raises(InvalidInput, match=message):
        acme.ingest("frank", messages)
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.episodes").fetchone()[0] == 0
        assert conn.execute("select count(*) from _pymem.memories").fetchone()[0] == 0


def test_unknown_tenant_and_unregistered_users(client):
    with pytest.raises(NotFound, match="unknown tenant"):
        client.tenant("nobody").ingest("u", "hello")
    client.create_tenant("strict", settings={"auto_register_users": False})
    strict = client.tenant("strict")
    with pytest.raises(NotFound, match="unknown user"):
        strict.ingest("ghost", "hello")
    with pytest.raises(NotFound, match="unknown user"):
        strict.remember("ghost", "hello")


def test_a_conflict_in_apply_extraction_is_retried_not_dead_lettered(acme, client, db, endpoint):
    """A lock the worker cannot get in time (55P03, pymem.errors: Conflict) says nothing about
    the episode: it goes back to the queue with backoff, and the next try applies it."""
    acme.ingest("fred", "I live in Lisbon")
    worker = make_worker(db, client, endpoint, retry_base=0.01, retry_cap=0.02)
    worker.dsn = psycopg.conninfo.make_conninfo(db.service_dsn, options="-c lock_timeout=200")
    with db.connect() as blocker:
        suffix = blocker.execute("select storage_suffix from _pymem.tenants where tenant_id = 'acme'").fetchone()[0]
        blocker.execute(psycopg.sql.SQL("lock table {} in share mode").format(
            psycopg.sql.Identifier("_pymem", f"memories_{suffix}")))
        outcome = worker.run(once=True)
        blocker.rollback()
    assert outcome["failed"] == 1 and outcome["dead"] == 0, outcome
    [(status, attempts, error, _)] = episodes(db)
    assert status != "dead" and attempts == 1 and "lock" in error, (status, error)
    time.sleep(0.05)
    assert worker.run(once=True)["applied"] == 1
    assert episodes(db)[0][0] == "done"
