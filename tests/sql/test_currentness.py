"""The current value first (issue 33): for a query about now, among the currentness_window
best results a newer statement that announces a change ranks above the older ones, which
stay in the answer with earlier_than naming it. Real database, as the tenant role."""

import datetime as dt
import json

import numpy as np
import psycopg
import pytest

from pymem.client import Memory, format_context

from ..conftest import unit_vector

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


def _towards(v: np.ndarray, w: np.ndarray, share: float) -> np.ndarray:
    """A unit vector ``share`` of the way from v to w: how close a statement is to the query."""
    mix = (1 - share) * v + share * w
    return mix / np.linalg.norm(mix)


@pytest.fixture
def budget(client):
    """An older statement closer to the query, a newer correction further from it."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    old = acme.remember("u", "The project budget is $50,000.", kind="fact",
                        embedding=_towards(query, unit_vector(2), 0.2), observed_at=NOW - 2 * DAY)
    new = acme.remember("u", "Make that $150,000.", kind="fact",
                        embedding=_towards(query, unit_vector(3), 0.6), observed_at=NOW - DAY)
    acme.remember("u", "The office is in Lisbon.", kind="fact", embedding=unit_vector(4), observed_at=NOW - 3 * DAY)
    return acme, query, old, new


def _ids(results):
    return [m.id for m in results]


def test_a_newer_change_ranks_first_for_a_question_about_now_and_the_older_one_stays_marked(budget):
    acme, query, old, new = budget
    plain = acme.retrieve("u", "What's the project budget?", query_embedding=query, options={"currentness_window": 0})
    assert _ids(plain)[:2] == [old, new]  # the older statement matches better
    results = acme.retrieve("u", "What's the project budget?", query_embedding=query)
    assert _ids(results)[:2] == [new, old]
    assert set(_ids(results)) == set(_ids(plain))  # reordered, nothing left out
    by_id = {m.id: m for m in results}
    assert by_id[old].earlier_than == new and by_id[new].earlier_than is None
    assert by_id[new].score > by_id[old].score
    assert all(m.earlier_than is None for m in plain)
    # an integer option given as a whole float (JSON 0.0, a CLI's float parse) is that integer
    assert _ids(acme.retrieve("u", "What's the project budget?", query_embedding=query,
                              options={"currentness_window": 0.0, "candidate_pool": 40.0})) == _ids(plain)
    again = acme.retrieve("u", "What's the project budget?", query_embedding=query)
    assert [(m.id, m.earlier_than) for m in again] == [(m.id, m.earlier_than) for m in results]  # deterministic


@pytest.mark.parametrize("question", ["What was the project budget originally?", "Did the budget change?",
                                      "budget before the review"])
def test_a_question_about_the_past_keeps_the_plain_order(budget, question):
    acme, query, old, new = budget
    results = acme.retrieve("u", question, query_embedding=query)
    assert _ids(results)[:2] == [old, new]
    assert all(m.earlier_than is None for m in results)


def test_a_newer_statement_that_announces_no_change_and_says_something_else_does_not_move(client):
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    old = acme.remember("u", "The project budget is $50,000.", embedding=_towards(query, unit_vector(2), 0.2),
                        observed_at=NOW - 2 * DAY)
    newer_vec = _towards(query, unit_vector(3), 0.8)
    assert float(_towards(query, unit_vector(2), 0.2) @ newer_vec) < 0.45  # not a restatement either
    acme.remember("u", "The budget review went well.", embedding=newer_vec, observed_at=NOW - DAY)
    results = acme.retrieve("u", "What is the project budget?", query_embedding=query)
    assert results[0].id == old and results[0].earlier_than is None


def test_only_the_window_is_reordered(budget):
    acme, query, old, new = budget
    results = acme.retrieve("u", "What's the project budget?", query_embedding=query,
                            options={"currentness_window": 1})
    assert _ids(results)[:2] == [old, new]  # the correction is not among the one best


def test_the_context_block_says_which_results_are_earlier(budget):
    acme, query, old, new = budget
    block = format_context(acme.retrieve("u", "What's the project budget?", query_embedding=query, top_k=2))
    lines = block.splitlines()[1:]
    assert lines[0].startswith("- Make that $150,000. (fact, ") and not lines[0].endswith(", earlier)")
    assert lines[1].startswith("- The project budget is $50,000. (fact, ") and lines[1].endswith(", earlier)")


@pytest.mark.parametrize("text, cue, says", [
    ("What did Caroline research?", "past", True),
    ("Update: Globex demo moved to 11:30 AM", "change", True),
    ("UPDATE—moved", "change", True),
    ("The budget updates are weekly", "change", False),  # word for word: "updates" is not "update"
    ("I’m no longer at Acme", "change", True),  # a phrase, curly apostrophe
    ("Nobody knows", "change", False),  # "now" inside a word
    (None, "change", False),
])
def test_cue_phrases_match_whole_words(db, text, cue, says):
    with db.connect() as conn:
        assert conn.execute("select _pymem.says(%s, %s)", (text, cue)).fetchone()[0] is says


@pytest.mark.parametrize("query, about_now", [
    ("Which vendor are we using for the contract?", True),
    ("When is the launch?", True),
    ("How many units in the order?", True),
    ("When did the launch happen?", False),
    ("What was my highest score?", False),
    ("What did we originally plan?", False),
    ("", False),  # no words (a vector-only call)
])
def test_a_query_asks_about_now_unless_it_holds_a_past_cue(db, query, about_now):
    with db.connect() as conn:
        assert conn.execute("select _pymem.asks_about_now(%s)", (query,)).fetchone()[0] is about_now


def test_memory_rows_without_the_column_still_load():
    when = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    memory = Memory(id="1", tenant_id="t", user_id="u", kind="fact", content="x", score=1, vector_score=1,
                    lexical_score=0, recency_score=0, graph_score=0, importance=0.5, created_at=when, observed_at=when)
    assert memory.earlier_than is None and "earlier_than" in memory.as_dict()


def test_a_memory_read_from_a_turn_ranks_above_that_turn_when_it_states_the_change(client):
    """The turn names the old value beside the new; the memory read from it states the new
    one alone. They were said at the same moment, so only their link can order them."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    said = NOW - DAY
    turn = acme.remember("u", "Correction. The value was: 8 engineers. The ACTUAL value is: 5 engineers",
                         kind="episode", embedding=_towards(query, unit_vector(2), 0.2), observed_at=said,
                         source={"episode_id": "e1", "turn_index": 0})
    fact = acme.remember("u", "The ACTUAL value is: 5 engineers", kind="fact",
                         embedding=_towards(query, unit_vector(3), 0.5), observed_at=said,
                         source={"episode_id": "e1", "turns": [0]})
    other = acme.remember("u", "The ACTUAL value is: 3 designers", kind="fact",
                          embedding=_towards(query, unit_vector(4), 0.5), observed_at=said,
                          source={"episode_id": "e2", "turns": [0]})
    results = acme.retrieve("u", "What is our actual capacity?", query_embedding=query)
    order = _ids(results)
    assert order.index(fact) < order.index(turn) < order.index(other)  # a memory of another turn stays put
    assert all(m.earlier_than is None for m in results)  # said at the same moment: none is earlier


def test_the_offline_extractor_keeps_a_clause_that_announces_a_change(db):
    messages = '[{"role": "user", "content": "Update: Globex demo rescheduled to 11:30 AM. Is the review moved too? If the launch moved, tell me."}]'
    with db.connect() as conn:
        found = conn.execute("select _pymem.extract(%s::jsonb, 'u')", (messages,)).fetchone()[0]
    assert [(c["kind"], c["content"]) for c in found] == [("fact", "Globex demo rescheduled to 11:30 AM")]


@pytest.mark.parametrize("kept_for, action", [(None, "superseded"), ("correction", "created")])
def test_a_clause_kept_for_its_correction_cue_closes_nothing(client, db, kept_for, action):
    """The write path's update-cue rule may close the nearest memory of a statement with an
    update cue; a clause the extractor kept only because it corrects something may not: the
    read-time rule orders it, and a wrong guess would lose a true memory."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    near = unit_vector(1)
    acme.remember("u", "User has been reading a thriller", kind="fact", embedding=near, observed_at=NOW - DAY)
    statement = {"subject": "user", "modality": "assertion", "polarity": "positive", "cardinality": "own",
                 "update_cue": True, **({"kept_for": kept_for} if kept_for else {})}
    with db.connect() as conn:
        tenant = conn.execute("select to_jsonb(t) from _pymem.tenants t where tenant_id = 'acme'").fetchone()[0]
        conn.execute(psycopg.sql.SQL("set role {}").format(psycopg.sql.Identifier(client.tenant_role("acme"))))
        memory = {"tenant_id": "acme", "id": "01a25300-0000-7000-8000-000000000001", "user_id": "u", "kind": "fact",
                  "content": "Now I am reading a cookbook", "status": "active", "importance": 0.5, "confidence": 0.9,
                  "mention_count": 1, "source": {}, "metadata": {}, "statement": statement}
        result = conn.execute(
            "select _pymem.write_memory(jsonb_populate_record(null::_pymem.tenants, %s), "
            "jsonb_populate_record(null::_pymem.memories, %s || jsonb_build_object('embedding', %s::vector::text, "
            "'observed_at', now(), 'valid_from', now())), 'test')",
            (json.dumps(tenant), json.dumps(memory), str(_towards(near, unit_vector(5), 0.45).tolist()))).fetchone()[0]
    assert result["action"] == action


def test_a_newer_change_about_something_else_stays_where_it_is(client):
    """'editor colour theme dark mode' must not get 'Alice moved to Lisbon' first because it is
    newer and says 'moved': the two results must be about the same thing."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    theme_vec, move_vec = _towards(query, unit_vector(2), 0.2), _towards(unit_vector(7), query, 0.12)
    assert 0 < float(theme_vec @ move_vec) < 0.2  # related a little, not about the same thing
    theme = acme.remember("u", "Alice prefers dark mode in her editor", embedding=theme_vec, observed_at=NOW - 2 * DAY)
    move = acme.remember("u", "Alice moved to Lisbon in March", embedding=move_vec, observed_at=NOW - DAY)
    results = acme.retrieve("u", "editor colour theme dark mode", query_embedding=query)
    assert _ids(results)[:2] == [theme, move] and all(m.earlier_than is None for m in results)
    lifted = acme.retrieve("u", "editor colour theme dark mode", query_embedding=query,
                           options={"currentness_similarity": 0})
    assert _ids(lifted)[:2] == [move, theme]  # the similarity floor is what keeps it in place


def test_a_newer_plain_restatement_ranks_first_when_it_is_close_enough(client):
    """No change cue at all ("Got through a big chunk on the train, so I'm up to page 220"): a
    newer statement about now at least currentness_restatement_similarity close to an older
    result that outranked it is read as its update."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    old_vec, new_vec = _towards(query, unit_vector(2), 0.2), _towards(query, unit_vector(3), 0.45)
    assert float(old_vec @ new_vec) > 0.45
    old = acme.remember("u", "I'm on page 200 of the novel.", embedding=old_vec, observed_at=NOW - 2 * DAY)
    new = acme.remember("u", "Got through a big chunk on the train, so I'm up to page 220.", embedding=new_vec,
                        observed_at=NOW - DAY)
    results = acme.retrieve("u", "What page is the user on?", query_embedding=query)
    assert _ids(results) == [new, old]
    assert results[1].earlier_than == new
    off = acme.retrieve("u", "What page is the user on?", query_embedding=query,
                        options={"currentness_restatement_similarity": 1})
    assert _ids(off) == [old, new] and all(m.earlier_than is None for m in off)


@pytest.mark.parametrize("content", ["Am I on page 220 already?", "Last week I was on page 220."])
def test_a_newer_question_or_statement_about_the_past_does_not_move(client, content):
    """A question states no value; a statement with a past cue ("our previous conclusion X was
    wrong") names a value only to place it in the past."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    old = acme.remember("u", "I'm on page 200 of the novel.", embedding=_towards(query, unit_vector(2), 0.2),
                        observed_at=NOW - 2 * DAY)
    acme.remember("u", content, embedding=_towards(query, unit_vector(3), 0.45), observed_at=NOW - DAY)
    results = acme.retrieve("u", "What page is the user on?", query_embedding=query)
    assert results[0].id == old and all(m.earlier_than is None for m in results)


def test_a_memory_read_from_an_older_turn_is_compared_through_that_turn(client, db):
    """"User is on page 200" reads unlike "so I'm up to page 220"; the turn it was read from does
    not. The newer statement ranks above the memory too, and a caller's own source holding
    anything at all (not a uuid, not a turn number) changes nothing and breaks nothing."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    turn_vec, fact_vec = _towards(query, unit_vector(2), 0.8), _towards(query, unit_vector(5), 0.5)
    mix = 0.4 * query + 0.6 * unit_vector(2) + 0.3 * unit_vector(6)
    new_vec = mix / np.linalg.norm(mix)
    assert float(new_vec @ turn_vec) > 0.45 > float(new_vec @ fact_vec)
    assert float(new_vec @ query) >= 0.5 * float(fact_vec @ query)  # it answers the question too
    episode = acme.ingest("u", "I'm currently on page 200 of the novel.", observed_at=NOW - 2 * DAY)
    with db.connect() as conn:  # the worker's embedding of the turn, without a model
        conn.execute("update _pymem.memories set embedding = %s::vector where tenant_id = 'acme' and kind = 'episode'",
                     (str(turn_vec.tolist()),))
    fact = acme.remember("u", "User is currently on page 200", kind="fact", embedding=fact_vec,
                         observed_at=NOW - 2 * DAY, source={"episode_id": episode, "turns": [0]})
    acme.remember("u", "User likes long novels", kind="preference", embedding=_towards(query, unit_vector(8), 0.9),
                  observed_at=NOW - 3 * DAY, source={"episode_id": "not-a-uuid", "turns": ["0); drop table x; --"]})
    new = acme.remember("u", "Got through a big chunk on the train, so I'm up to page 220.", embedding=new_vec,
                        observed_at=NOW - DAY)
    results = acme.retrieve("u", "What page is the user on?", query_embedding=query)
    assert _ids(results)[0] == new
    assert {m.id: m.earlier_than for m in results}[fact] == new


def test_a_newer_restatement_that_does_not_answer_the_question_stays_put(client):
    """'Alice commutes by train every morning' reads like 'Alice is allergic to dogs' (two
    short sentences about Alice), but not like 'which pets make her sneeze?': a plain
    restatement must be at least half as close to the query as what it would outrank."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    query = unit_vector(1)
    old_vec, new_vec = _towards(query, unit_vector(2), 0.5), 0.1 * query + unit_vector(2)
    new_vec = new_vec / np.linalg.norm(new_vec)
    assert float(old_vec @ new_vec) > 0.45 and float(new_vec @ query) < 0.5 * float(old_vec @ query)
    old = acme.remember("u", "Alice is allergic to dogs", embedding=old_vec, observed_at=NOW - 2 * DAY)
    acme.remember("u", "Alice commutes by train every morning", embedding=new_vec, observed_at=NOW - DAY)
    results = acme.retrieve("u", "which pets make her sneeze", query_embedding=query)
    assert results[0].id == old and all(m.earlier_than is None for m in results)
    # without a query embedding there is no telling: no plain restatement ranks up
    lexical = acme.retrieve("u", "Alice", options={"weight_temporal": 0})
    assert all(m.earlier_than is None for m in lexical)
