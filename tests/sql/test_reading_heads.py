"""The learned change head (sql/idempotent/018_heads.sql): a logistic scorer over a memory's
embedding, kept in _pymem.reading_heads and applied in SQL with pgvector. Real database; the
head is the one the repository ships, so its own weight vector is what it reads most surely."""

import datetime as dt
import json

import numpy as np
import pytest

from ..conftest import unit_vector
from ..helpers import as_role, sqlstate_of

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


def _head(db, name):
    """A shipped head's weights (unit length), bias and threshold."""
    with db.connect() as conn:
        weights, bias, threshold = conn.execute(
            "select weights::text, bias, threshold from _pymem.reading_heads where name = %s", (name,)).fetchone()
    w = np.array([float(x) for x in weights.strip("[]").split(",")], dtype=np.float32)
    return w / np.linalg.norm(w), bias, threshold


@pytest.fixture
def holds(db):
    return _head(db, "holds")


@pytest.fixture
def head(db):
    """The shipped change head's weights (unit length), bias and threshold."""
    with db.connect() as conn:
        weights, bias, threshold = conn.execute(
            "select weights::text, bias, threshold from _pymem.reading_heads where name = 'change'").fetchone()
    w = np.array([float(x) for x in weights.strip("[]").split(",")], dtype=np.float32)
    return w / np.linalg.norm(w), bias, threshold


def _announces(db, text, embedding):
    with db.connect() as conn:
        return conn.execute("select _pymem.announces_change(%s, %s::vector)",
                            (text, "[" + ",".join(map(str, embedding)) + "]")).fetchone()[0]


def test_the_shipped_head_is_for_the_local_model_and_has_its_size(db):
    with db.connect() as conn:
        rows = conn.execute("select name, model, dimensions, vector_dims(weights) from _pymem.reading_heads").fetchall()
    assert sorted(rows) == [("change", "sentence-transformers/all-MiniLM-L6-v2", 384, 384),
                            ("holds", "sentence-transformers/all-MiniLM-L6-v2", 384, 384)]


def test_the_head_reads_a_change_without_a_cue_and_never_vetoes_one(db, head):
    direction, _, _ = head
    assert _announces(db, "Let's proceed with GlobalTech for the contract.", direction) is True
    assert _announces(db, "Let's proceed with GlobalTech for the contract.", -direction) is False
    assert _announces(db, "Update: the launch moved to Friday.", -direction) is True  # the cue alone


def test_a_head_for_another_model_reads_nothing(db, head):
    direction, _, _ = head
    with db.connect() as conn:
        conn.execute("update _pymem.reading_heads set model = 'another/model'")
        try:
            assert conn.execute("select _pymem.announces_change(%s, %s::vector)",
                                ("Let's proceed with GlobalTech.", "[" + ",".join(map(str, direction)) + "]")
                                ).fetchone()[0] is False
            assert conn.execute("select _pymem.announces_change('Update: moved to Friday.', %s::vector)",
                                ("[" + ",".join(map(str, direction)) + "]",)).fetchone()[0] is True
            assert conn.execute("select _pymem.holds_now(%s::vector)",  # no head: the rules alone decide
                                ("[" + ",".join(map(str, -direction)) + "]",)).fetchone()[0] is True
        finally:
            conn.rollback()


def test_a_newer_statement_the_head_reads_as_a_change_ranks_first(client, head):
    direction, _, _ = head
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    # the older statement is closer to the query; the newer one holds no cue phrase but lies
    # along the head (mixed with the query so the two are about the same thing)
    old = acme.remember("u", "We're going with TechStart for the contract.",
                        embedding=0.8 * query + 0.6 * unit_vector(2), observed_at=NOW - 2 * DAY)
    newer = 0.45 * query + 0.89 * direction
    new = acme.remember("u", "Let's proceed with GlobalTech for the contract.",
                        embedding=newer / np.linalg.norm(newer), observed_at=NOW - DAY)
    plain = acme.retrieve("u", "Which vendor are we using?", query_embedding=query, options={"currentness_window": 0})
    assert [m.id for m in plain][:2] == [old, new]
    results = acme.retrieve("u", "Which vendor are we using?", query_embedding=query)
    assert [m.id for m in results][:2] == [new, old]
    assert results[1].earlier_than == new


def test_a_tenant_reads_the_heads_but_cannot_change_them(client, db):
    client.create_tenant("acme")
    with as_role(db, client.tenant_role("acme")) as conn:
        assert conn.execute("select count(*) from _pymem.reading_heads").fetchone()[0] == 2
        assert sqlstate_of(conn, "update _pymem.reading_heads set threshold = -100") == "42501"
        assert sqlstate_of(conn, "delete from _pymem.reading_heads") == "42501"
        assert sqlstate_of(conn, "insert into _pymem.reading_heads select * from _pymem.reading_heads") == "42501"


@pytest.mark.parametrize("text", ["Update: Globex demo moved to 11:30 AM", "The budget updates are weekly",
                                  "I’m no longer at Acme", "Nobody knows", "We've finalized the pricing.",
                                  "I just love painting!", "MAKE THAT $150,000", ""])
def test_the_trainer_reads_the_cue_phrases_as_sql_does(db, text):
    from pymem.bench import heads

    with db.connect() as conn:
        assert heads.says(text, heads.change_cues()) is conn.execute("select _pymem.says(%s, 'change')",
                                                                       (text,)).fetchone()[0]


def test_a_reading_the_holds_head_doubts_replaces_nothing(client, holds):
    """"An aisle seat is what my colleague always books" must not close the user's own seat
    preference. Where the holds head reads a statement below its threshold, the product's
    reading of it replaces nothing: the memory is written without its slot. Along the head,
    the same kind of statement replaces the slot's memory as before."""
    direction, _, _ = holds
    client.create_tenant("acme")
    acme = client.tenant("acme")
    first = acme.remember("u", "I prefer a window seat.", embedding=direction, observed_at=NOW - 3 * DAY)
    doubted = acme.remember("u", "I prefer an aisle seat.", embedding=-direction, observed_at=NOW - 2 * DAY)
    status = {m["id"]: (m["status"], m["attribute"]) for m in acme.export_user("u")["memories"]}
    assert status[str(first)] == ("active", "seat")
    assert status[str(doubted)] == ("active", None)
    held = acme.remember("u", "I prefer a middle seat.", embedding=direction, observed_at=NOW - DAY)
    status = {m["id"]: (m["status"], m["attribute"]) for m in acme.export_user("u")["memories"]}
    assert status[str(first)] == ("superseded", "seat") and status[str(held)] == ("active", "seat")


def test_the_holds_head_reads_the_turn_a_memory_was_read_from(client, db, holds):
    """The worker's memory "User prefers upper-deck seat" reads as the user's own; the turn it
    was read from ("... is what my colleague always books") is what the head must read. A
    caller's source that names no turn of the tenant's own falls back to the memory itself."""
    direction, _, _ = holds
    client.create_tenant("acme")
    acme = client.tenant("acme")
    first = acme.remember("u", "I prefer a window seat.", embedding=direction, observed_at=NOW - 3 * DAY)
    episode = acme.ingest("u", "An aisle seat is what my colleague always books.", observed_at=NOW - 2 * DAY)
    with db.connect() as conn:  # the worker's embedding of the turn, without a model
        conn.execute("update _pymem.memories set embedding = %s::vector where tenant_id = 'acme' and kind = 'episode'",
                     ("[" + ",".join(map(str, -direction)) + "]",))
    read = acme.remember("u", "I prefer an aisle seat.", kind="preference", embedding=direction,
                         observed_at=NOW - 2 * DAY, source={"episode_id": episode, "turns": [0]})
    status = {m["id"]: (m["status"], m["attribute"]) for m in acme.export_user("u")["memories"]}
    assert status[str(first)] == ("active", "seat") and status[str(read)] == ("active", None)
    # a caller's source that names nothing of the tenant's own, or holds anything at all, reads
    # the memory itself: here, along the head, so it replaces as before
    for n, source in enumerate(({"episode_id": "nope", "turns": ["x'); drop table y; --"]},
                                {"episode_id": episode, "turns": [7]},
                                {"episode_id": "01a25300-0000-7000-8000-000000000001", "turns": [0]})):
        user = f"v{n}"
        acme.remember(user, "I prefer a window seat.", embedding=direction, observed_at=NOW - 3 * DAY)
        aisle = acme.remember(user, "I prefer an aisle seat.", embedding=direction, observed_at=NOW - 2 * DAY,
                              source=source)
        assert {m["id"]: m["attribute"] for m in acme.export_user(user)["memories"]}[str(aisle)] == "seat"


@pytest.mark.parametrize("source, episode", [
    ({"episode_id": "01a25300-0000-7000-8000-000000000001", "turns": [0]}, "01a25300-0000-7000-8000-000000000001"),
    ({"episode_id": "01A25300-0000-7000-8000-000000000001"}, "01a25300-0000-7000-8000-000000000001"),
    ({"episode_id": "e1", "turns": [0]}, None),
    ({"episode_id": "01a25300-0000-7000-8000-000000000001'); drop table x; --"}, None),
    ({"episode_id": 7}, None), ({"dia_id": "D1:3"}, None), ({}, None), (None, None),
])
def test_a_source_names_an_episode_only_as_a_uuid(db, source, episode):
    """What a caller puts in a memory's source is never cast unless it is a uuid (retrieve and
    the write path look the turn up through _pymem.source_episode)."""
    with db.connect() as conn:
        found = conn.execute("select _pymem.source_episode(%s::jsonb)::text",
                             (None if source is None else json.dumps(source),)).fetchone()[0]
    assert found == episode
