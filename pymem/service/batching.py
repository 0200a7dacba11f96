"""Query embeddings under concurrency: one model call at a time, every waiting query in it.

Each retrieval needs one query vector. Encoding one short query costs ~12 ms on 2 cores;
sixty concurrent requests each calling the model would oversubscribe the cores and queue
behind each other. Here the first caller becomes the leader and encodes everything that
is waiting; callers arriving meanwhile wait, and the next leader takes all of them in
one batch. Nothing waits for a batch to fill: a lone request is encoded at once, and
under load the batch grows by itself (leader/follower, no timer).
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np


class _Request:
    __slots__ = ("texts", "vectors", "error", "done")

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class BatchingEmbedder:
    """Wraps an embedder; ``embed()`` may be called from many threads."""

    def __init__(self, inner, max_batch: int = 128):
        self.inner = inner
        self.model = getattr(inner, "model", None)
        self.dimensions = inner.dimensions
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._waiting: list[_Request] = []
        self._busy = False
        self.batches = 0  # model calls made (for tests and curiosity)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        request = _Request(list(texts))
        if not request.texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._cond:
            self._waiting.append(request)
            while not request.done:
                if self._busy:
                    self._cond.wait()
                    continue
                self._busy = True
                batch, size = [], 0
                while self._waiting and (not batch or size + len(self._waiting[0].texts) <= self.max_batch):
                    taken = self._waiting.pop(0)
                    batch.append(taken)
                    size += len(taken.texts)
                self._cond.release()
                try:
                    self._encode(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        if request.error is not None:
            raise request.error
        return request.vectors

    def _encode(self, batch: list[_Request]) -> None:
        try:
            vectors = self.inner.embed([text for r in batch for text in r.texts])
            self.batches += 1
        except BaseException as exc:  # every waiter gets the error, not a hang
            for r in batch:
                r.error, r.done = exc, True
            return
        offset = 0
        for r in batch:
            r.vectors = vectors[offset:offset + len(r.texts)]
            offset += len(r.texts)
            r.done = True
