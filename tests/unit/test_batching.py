"""Concurrent query embeddings are merged into few model calls; a failing model fails every waiter."""

import threading
import time

import numpy as np
import pytest

from pymem.service.batching import BatchingEmbedder


def test_batching_embedder_merges_concurrent_queries():
    class Slow:
        dimensions = 3
        calls = []

        def embed(self, texts):
            self.calls.append(list(texts))
            time.sleep(0.05)
            return np.array([[len(t), 0, 1] for t in texts], dtype=np.float32)

    inner = Slow()
    batching = BatchingEmbedder(inner)
    results = {}

    def one(i):
        results[i] = batching.embed(["x" * i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, 21)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {i: float(v[0][0]) for i, v in results.items()} == {i: float(i) for i in range(1, 21)}
    assert len(inner.calls) < 20 and sum(map(len, inner.calls)) == 20

    class Broken(Slow):
        def embed(self, texts):
            raise RuntimeError("model gone")

    with pytest.raises(RuntimeError, match="model gone"):
        BatchingEmbedder(Broken()).embed(["x"])
