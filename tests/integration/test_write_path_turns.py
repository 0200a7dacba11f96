"""The write path keeps ids and time straight (issue 32, item 4).

- With an `id` on each message the extractor names its source turns by id, while the
  outdated-turn mark looked turns up by position: no raw turn was ever marked, and "I live in
  Berlin." outranked "I live in Paris now" for "where do I live?".
- A statement that arrives after a newer one is stored already outdated; its raw turn was
  never marked either.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pymem.embed import HTTPEmbedder
from pymem.worker.extract import RuleExtractor
from pymem.worker.worker import Worker, WorkerConfig

from ..embedding_server import EmbeddingEndpoint


@pytest.fixture
def run_worker(db):
    with EmbeddingEndpoint() as endpoint:
        db.declare_embedding_model("test-model")

        def run():
            Worker(db.service_dsn, embedder=HTTPEmbedder(endpoint.url, "test-model", backoff_base=0.01),
                   extractor=RuleExtractor(), config=WorkerConfig(poll_interval=0.1), name="turns").run(once=True)
        yield run


def _turns(db, tenant_id: str) -> dict[str, object]:
    with db.connect() as conn:
        return dict(conn.execute("select content, superseded_by from _pymem.memories "
                                 "where tenant_id = %s and kind = 'episode'", (tenant_id,)).fetchall())


@pytest.mark.parametrize("with_ids", [False, True])
def test_a_replaced_statements_turn_is_marked_whether_messages_carry_ids_or_not(client, db, run_worker, with_ids):
    client.create_tenant("acme")
    acme = client.tenant("acme")
    first = {"role": "user", "content": "I live in Berlin."}
    later = {"role": "user", "content": "I live in Paris now."}
    if with_ids:
        first["id"], later["id"] = "msg-1", "msg-2"
    acme.ingest("u", [first], observed_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    run_worker()
    acme.ingest("u", [later], observed_at=dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    run_worker()
    turns = _turns(db, "acme")
    assert turns["I live in Berlin."] is not None, turns
    assert turns["I live in Paris now."] is None


def test_a_statement_that_arrives_late_marks_its_own_turn_outdated(client, db, run_worker):
    client.create_tenant("acme")
    acme = client.tenant("acme")
    acme.ingest("u", [{"role": "user", "content": "I live in Lisbon now.", "id": "b"}],
                observed_at=dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    run_worker()
    # said earlier, imported later
    acme.ingest("u", [{"role": "user", "content": "I live in Boston.", "id": "a"}],
                observed_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    run_worker()
    turns = _turns(db, "acme")
    assert turns["I live in Boston."] is not None, turns
    assert turns["I live in Lisbon now."] is None


def test_a_back_dated_import_is_read_as_of_a_day_in_its_middle(client, db, run_worker):
    """`as_of` reads when things were said; `recorded_before` reads when they were stored."""
    client.create_tenant("acme")
    acme = client.tenant("acme")
    said = [(dt.datetime(2025, month, 1, tzinfo=dt.timezone.utc), city)
            for month, city in ((1, "Amsterdam"), (4, "Berlin"), (7, "Chicago"), (10, "Lisbon"))]
    for when, city in said:  # imported today, said last year
        acme.ingest("u", [{"role": "user", "content": f"I live in {city} now."}], observed_at=when)
        run_worker()
    stored = dt.datetime.now(dt.timezone.utc)
    may = acme.retrieve("u", "where do I live?", as_of=dt.datetime(2025, 5, 15, tzinfo=dt.timezone.utc))
    texts = " ".join(m.content for m in may)
    assert "Berlin" in texts and "Chicago" not in texts and "Lisbon" not in texts, texts
    facts = [m for m in may if m.kind != "episode"]
    assert facts and all("Berlin" in m.content for m in facts), [m.content for m in facts]
    assert "Lisbon" in acme.retrieve("u", "where do I live?")[0].content
    # the store's own timeline: nothing was stored before the import began
    assert acme.retrieve("u", "where do I live?",
                         filters={"recorded_before": (stored - dt.timedelta(days=1)).isoformat()}) == []
    assert acme.retrieve("u", "where do I live?", filters={"recorded_before": stored.isoformat()})
