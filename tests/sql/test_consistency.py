"""The consistency engine through the public API: dedup, supersession with history,
contradictions, decay, consolidation, limits."""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymem.client import InvalidInput

from ..conftest import unit_vector

NOW = dt.datetime.now(dt.timezone.utc)


def current(tenant, user, query="", **kw):
    return [(r.content, r.kind) for r in tenant.retrieve(user, query or "mode theme developer", top_k=50, **kw)]


@pytest.fixture
def acme(client):
    client.create_tenant("acme")
    return client.tenant("acme")


def test_dark_to_light_mode_supersedes_and_keeps_history(acme, db):
    t0 = NOW - dt.timedelta(days=3)
    t1 = NOW - dt.timedelta(days=1)
    old = acme.remember("alice", "I prefer dark mode", kind="preference", subject="user",
                        attribute="display_theme", value="dark mode", observed_at=t0)
    new = acme.remember("alice", "Actually, light mode is better", kind="preference", subject="user",
                        attribute="display_theme", value="light mode", observed_at=t1)
    assert old != new
    # Retrieval: only the correction, immediately (same transaction boundary as the write).
    assert [c for c, _ in current(acme, "alice", "which mode does alice prefer")] == ["Actually, light mode is better"]
    # The old one is closed, not deleted.
    chain = acme.history(old)
    assert [v["operation"] for v in chain] == ["create", "supersede"]
    assert chain[-1]["snapshot"]["superseded_by"] == new
    # What did the agent know, and when?
    before = acme.history(user_id="alice", as_of=t0 + dt.timedelta(hours=1))
    after = acme.history(user_id="alice", as_of=t1 + dt.timedelta(hours=1))
    assert [m["value"] for m in before] == ["dark mode"]
    assert [m["value"] for m in after] == ["light mode"]
    assert acme.history(user_id="alice", as_of=t0 - dt.timedelta(hours=1)) == []
    # The conflict was recorded and resolved by the default policy.
    [record] = acme.contradictions(status=None)
    assert (record["policy"], record["status"]) == ("newest_wins", "accepted_new")


def test_ingested_correction_wins_through_the_worker(acme, client, db):
    """The extraction path: "I prefer dark mode" then "I switched to light mode"."""
    from pymem.embed import HTTPEmbedder
    from pymem.worker.extract import RuleExtractor
    from pymem.worker.worker import Worker, WorkerConfig

    from ..embedding_server import EmbeddingEndpoint

    db.declare_embedding_model("m")
    with EmbeddingEndpoint() as endpoint:
        worker = Worker(db.service_dsn, embedder=HTTPEmbedder(endpoint.url, "m"),
                        extractor=RuleExtractor(), config=WorkerConfig())
        acme.ingest("bob", "I prefer dark mode", session_id="s")
        worker.run(once=True)
        acme.ingest("bob", "I switched to light mode", session_id="s")
        worker.run(once=True)
    facts = [r for r in acme.retrieve("bob", "display mode preference", top_k=20) if r.kind != "episode"]
    assert [r.content for r in facts] == ["User's display theme is Light mode"]


def test_three_restatements_make_one_memory_with_three_mentions(acme, db):
    ids = {acme.remember("carol", text, kind="fact", subject="user", attribute="occupation", value="developer")
           for text in ["I'm a developer", "As a developer, I think...", "I am a developer"]}
    assert len(ids) == 1
    with db.connect() as conn:
        rows = conn.execute("select mention_count, status from _pymem.memories where user_id = 'carol'").fetchall()
    assert rows == [(3, "active")]
    assert [v["operation"] for v in acme.history(ids.pop())] == ["create", "update", "update"]


def test_near_identical_embeddings_deduplicate_without_slots(acme, db):
    v = unit_vector(7)
    first = acme.remember("dan", "Dan enjoys sailing", embedding=v)
    second = acme.remember("dan", "Dan really enjoys sailing", embedding=v * 0.999 + unit_vector(8) * 0.001)
    assert first == second
    different = acme.remember("dan", "Dan owns a cat", embedding=unit_vector(9))
    assert different != first


def test_manual_policy_queues_the_conflict_until_a_person_decides(client):
    client.create_tenant("careful", settings={"supersession_policy": "manual"})
    t = client.tenant("careful")
    old = t.remember("erin", "Erin lives in Lisbon", subject="user", attribute="lives_in", value="Lisbon")
    new = t.remember("erin", "Erin lives in Porto", subject="user", attribute="lives_in", value="Porto")
    assert [c for c, _ in current(t, "erin", "where does erin live")] == ["Erin lives in Lisbon"]
    [open_item] = t.contradictions()
    assert (str(open_item["existing_memory_id"]), str(open_item["candidate_memory_id"])) == (old, new)
    assert open_item["candidate_content"] == "Erin lives in Porto"
    decision = t.resolve_contradiction(open_item["id"], "accept_new")
    assert str(decision["current"]) == new
    assert [c for c, _ in current(t, "erin", "where does erin live")] == ["Erin lives in Porto"]
    assert t.contradictions() == []
    with pytest.raises(InvalidInput, match="already resolved"):
        t.resolve_contradiction(open_item["id"], "keep_existing")


def test_most_frequent_policy_keeps_the_value_said_most(client):
    client.create_tenant("votes", settings={"supersession_policy": "most_frequent"})
    t = client.tenant("votes")
    for _ in range(2):
        t.remember("fay", "Fay drinks tea", subject="user", attribute="drink", value="tea")
    t.remember("fay", "Fay drinks coffee", subject="user", attribute="drink", value="coffee")
    assert [c for c, _ in current(t, "fay", "what does fay drink")] == ["Fay drinks tea"]
    for _ in range(2):
        t.remember("fay", "Fay drinks coffee", subject="user", attribute="drink", value="coffee")
    assert [c for c, _ in current(t, "fay", "what does fay drink")] == ["Fay drinks coffee"]


def test_late_arriving_older_statement_does_not_win(acme):
    acme.remember("gus", "Gus lives in Berlin", subject="user", attribute="lives_in", value="Berlin",
                  observed_at=NOW - dt.timedelta(days=1))
    acme.remember("gus", "Gus lives in Munich", subject="user", attribute="lives_in", value="Munich",
                  observed_at=NOW - dt.timedelta(days=30))
    assert [c for c, _ in current(acme, "gus", "where does gus live")] == ["Gus lives in Berlin"]
    assert [m["value"] for m in acme.history(user_id="gus", as_of=NOW - dt.timedelta(days=10))] == ["Munich"]


def test_decay_sweep_archives_the_old_and_keeps_the_recent_and_the_important(acme, client, db):
    recent = acme.remember("hal", "Hal is reading Dune", importance=0.5, observed_at=NOW - dt.timedelta(days=1))
    old = acme.remember("hal", "Hal was reading Emma", importance=0.5, observed_at=NOW - dt.timedelta(days=400))
    vital = acme.remember("hal", "Hal is allergic to penicillin", importance=0.95,
                          observed_at=NOW - dt.timedelta(days=400))
    report = client.decay_sweep(batch=1000)
    assert report["scanned"] == 3 and report["archived"] == 1
    with db.connect() as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "select id::text, status, decay_weight, stale from _pymem.memories where user_id = 'hal'")}
    assert rows[recent][0] == "active" and not rows[recent][2]
    assert float(rows[recent][1]) == pytest.approx(0.5 ** (1 / 90), abs=0.05)  # stored to within 0.05
    assert rows[old][0] == "archived"
    assert rows[vital][0] == "active" and rows[vital][2] is True and float(rows[vital][1]) == pytest.approx(0.1)
    assert [v["operation"] for v in acme.history(old)] == ["create", "archive"]
    assert "Hal was reading Emma" not in [c for c, _ in current(acme, "hal", "reading")]
    with db.connect() as conn:
        ratio = conn.execute("select ratio from pymem.metrics_stale_fact_ratio where tenant_id = 'acme'").fetchone()[0]
    assert ratio == pytest.approx(0.5)  # of the two active facts, one (the vital one) is stale


def test_decay_sweep_writes_only_what_changed_and_in_place(acme, client, db):
    for days in (10, 40, 120, 200):
        acme.remember("kim", f"Kim said something {days} days ago", observed_at=NOW - dt.timedelta(days=days))
    with db.connect() as conn:
        first = conn.execute("select pymem.decay_sweep(1000)").fetchone()[0]
        # No column the sweep writes is in an index: every rewrite stayed in its page (HOT),
        # adding nothing to the HNSW and BM25 indexes.
        updates, hot = conn.execute(
            """select sum(n_tup_upd)::int, sum(n_tup_hot_upd)::int from pg_stat_xact_user_tables
               where relname like 'memories%'""").fetchone()
        conn.commit()
    assert first == {"scanned": 4, "updated": 4, "stale": 1, "archived": 0, "pass_done": True}
    assert updates == hot == 4
    again = client.decay_sweep(batch=1000)  # no weight moved by 0.05 since: nothing written
    assert again == {"scanned": 4, "updated": 0, "stale": 1, "archived": 0, "pass_done": True}


def test_decay_sweep_continues_where_it_stopped_and_starts_over_after_a_pass(client, db):
    old = NOW - dt.timedelta(days=100)
    for n in range(34):  # more tenants than one batch takes
        client.create_tenant(f"d{n:02}")
        client.tenant(f"d{n:02}").remember("u", "an old fact", observed_at=old)
    client.tenant("d00").remember("u", "another old fact", observed_at=old)
    client.tenant("d00").remember("u", "a third old fact", observed_at=old)
    # two at a time: d00's three memories, then d01 .. d05's
    assert [client.decay_sweep(batch=2)["scanned"] for _ in range(4)] == [2, 2, 2, 2]
    end = client.decay_sweep(batch=1000)  # the rest of the pass: d06 .. d33
    assert (end["scanned"], end["pass_done"]) == (28, True)
    with db.connect() as conn:
        weights = {r[0] for r in conn.execute(
            "select round(decay_weight::numeric, 3)::float8 from _pymem.memories where tenant_id like 'd%'")}
    assert weights == {round(0.5 ** (100 / 90), 3)}  # every memory of every tenant was reached
    # The next pass starts over, 32 tenants a call (d00 .. d31, then d32 and d33).
    again = [client.decay_sweep(batch=1000) for _ in range(2)]
    assert [(r["scanned"], r["updated"], r["pass_done"]) for r in again] == [(34, 0, False), (2, 0, True)]


def test_consolidation_merges_and_summarises_but_keeps_provenance(acme, db):
    v = unit_vector(11)
    keep = acme.remember("ivy", "Ivy plays chess", embedding=v, kind="fact")
    with db.connect() as conn:
        # A near-duplicate that slipped in without going through write-time dedup.
        conn.execute("""insert into _pymem.memories (tenant_id, user_id, kind, content, embedding)
                        select tenant_id, user_id, kind, 'Ivy plays chess a lot', embedding
                        from _pymem.memories where id = %s""", (keep,))
        conn.commit()
    old = NOW - dt.timedelta(days=60)
    for text in ["we talked about chess openings", "Ivy asked about the Sicilian", "then about endgames"]:
        acme.remember("ivy", text, kind="episode", session_id="s9", observed_at=old)
    report = acme.compact("ivy")
    assert report == {"users": 1, "merged": 1, "summaries": 1, "episodes_archived": 3}
    with db.connect() as conn:
        summary = conn.execute("select content, source from _pymem.memories where metadata->>'summary' = 'true'").fetchone()
        archived = conn.execute("select count(*) from _pymem.memories where status = 'archived' "
                                "and superseded_by is not null").fetchone()[0]
        keeper = conn.execute("select mention_count, source from _pymem.memories where id = %s", (keep,)).fetchone()
    assert "Sicilian" in summary[0] and len(summary[1]["summarized"]) == 3
    assert archived == 4
    assert keeper[0] == 2 and len(keeper[1]["merged"]) == 1


def test_tenant_memory_limit_gives_a_clear_error(client, db):
    """max_memories counts every memory, raw turns included; over it the call is refused
    with SQLSTATE PM429 (pymem.LimitExceeded) and nothing is written."""
    from pymem import LimitExceeded

    client.create_tenant("small", settings={"max_memories": 3})
    t = client.tenant("small")
    for i in range(2):
        t.remember("u", f"fact number {i}")
    with pytest.raises(LimitExceeded, match="limit is 3") as err:
        t.ingest("u", [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}])
    assert err.value.sqlstate == "PM429" and "Nothing was written" in str(err.value)
    t.ingest("u", "the third")
    with pytest.raises(LimitExceeded):
        t.remember("u", "one too many")
    with pytest.raises(LimitExceeded):  # an import counts too
        t.import_user(t.export_user("u"), user_id="copy")
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.memories where tenant_id = 'small'").fetchone()[0] == 3
        assert conn.execute("select count(*) from _pymem.episodes where tenant_id = 'small'").fetchone()[0] == 1


SLOTS = ["display_theme", "time_zone", "lives_in"]
VALUES = ["a", "b", "c"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(statements=st.lists(st.tuples(st.sampled_from(SLOTS), st.sampled_from(VALUES)), min_size=1, max_size=12))
def test_property_one_current_memory_per_slot_and_history_replays(client, db, statements):
    tenant_id = f"prop-{abs(hash(tuple(statements))) % 10**9}"
    client.create_tenant(tenant_id, exist_ok=True)
    t = client.tenant(tenant_id)
    user = "p"
    try:
        expected = {}
        for i, (slot, value) in enumerate(statements):
            t.remember(user, f"{slot} is {value}", subject="user", attribute=slot, value=value,
                       observed_at=NOW - dt.timedelta(minutes=len(statements) - i))
            expected[slot] = value
        with db.connect() as conn:
            rows = conn.execute("select attribute, value, status, id::text from _pymem.memories "
                                "where tenant_id = %s", (tenant_id,)).fetchall()
            active = [(a, v) for a, v, s, _ in rows if s == "active"]
            assert sorted(active) == sorted(expected.items())  # exactly one current memory per slot
            # Replaying each memory's versions gives its current state.
            for _a, _v, status, memory_id in rows:
                chain = t.history(memory_id)
                assert [v["version"] for v in chain] == list(range(1, len(chain) + 1))
                assert chain[-1]["snapshot"]["status"] == status
        assert {m["attribute"]: m["value"] for m in t.history(user_id=user, as_of=NOW)} == expected
    finally:
        client.drop_tenant(tenant_id)
