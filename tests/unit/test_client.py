"""The client's pure parts: the prompt block, the query-embedding cache, input checks, backoff."""

import datetime as dt
import random

import numpy as np
import pytest

from pymem.client import InvalidInput, Memory, QueryEmbeddingCache, _check_text, format_context
from pymem.retry import backoff_delay


def _memory(content: str, kind: str = "fact") -> Memory:
    when = dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
    return Memory(id="1", tenant_id="t", user_id="u", kind=kind, content=content, score=1.0, vector_score=0,
                  lexical_score=0, recency_score=0, graph_score=0, importance=0.5, created_at=when, observed_at=when)


def test_format_context_one_line_per_memory():
    block = format_context([_memory("Alice is allergic\nto dogs"), _memory("Prefers tea", "preference")])
    assert block.splitlines() == ["What you know about this user (most relevant first):",
                                  "- Alice is allergic to dogs (fact, 2026-11-22)",
                                  "- Prefers tea (preference, 2026-11-22)"]
    assert format_context([]) == "What you know about this user:\nNothing is known about this user yet."


def test_query_cache_is_an_lru_shared_by_the_users_of_a_tenant():
    cache = QueryEmbeddingCache(max_size=2)
    a = cache.put("t", "u", "q1", np.ones(3))
    assert cache.get("t", "v", "q1") is a and not a.flags.writeable  # another user of t: a hit
    assert cache.get("other", "u", "q1") is None  # another tenant: never
    cache.put("t", "u", "q2", np.zeros(3))
    cache.put("t", "w", "q3", np.zeros(3))  # evicts the least recently used: q1
    assert cache.get("t", "u", "q1") is None and len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 2)


def test_query_cache_forgets_what_an_erased_user_asked_and_a_dropped_tenant():
    cache = QueryEmbeddingCache()
    cache.put("t", "u", "q1", np.ones(3))
    cache.put("t", "v", "q2", np.ones(3))
    cache.get("t", "v", "q1")  # v asked q1 too
    cache.put("s", "u", "q1", np.ones(3))
    assert cache.forget("t", "v") == 2 and len(cache) == 1  # both of v's, whoever asked first
    assert cache.forget("s") == 1 and len(cache) == 0


def test_query_cache_entries_expire():
    now = [0.0]
    cache = QueryEmbeddingCache(ttl=60, clock=lambda: now[0])
    cache.put("t", "u", "q", np.ones(3))
    now[0] = 59.9
    assert cache.get("t", "u", "q") is not None
    now[0] = 60.0
    assert cache.get("t", "u", "q") is None and len(cache) == 0


@pytest.mark.parametrize("value, message", [(1, "must be a string"), ("a\x00b", "NUL byte"),
                                            ("\ud800", "not valid UTF-8")])
def test_text_that_cannot_reach_postgresql_is_refused(value, message):
    with pytest.raises(InvalidInput, match=message):
        _check_text("content", value)


def test_backoff_grows_with_jitter_and_stays_under_the_cap():
    rng = random.Random(7)
    for attempt in range(1, 12):
        delay = backoff_delay(attempt, base=0.5, cap=10, rng=rng)
        ceiling = min(10, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
