"""The ONNX graph written without torch (pymem.bert_onnx) gives the torch model's vectors
(sentence-transformers' all-MiniLM-L6-v2, what the torch export matched within 2e-7): within
1e-4 on a few hundred texts, with padding in every batch, texts cut at the 256-token limit
and nearly empty ones. The graph is written in a process where torch cannot be imported."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pytest

from pymem.embed import LocalEmbedder

pytestmark = pytest.mark.slow

WORDS = ("the cat sat on a mat alice moved to berlin last spring she prefers tea over coffee her dog max "
         "is allergic to chicken meeting at 10:30 on 2024-03-05 invoice #4471 was paid twice naïve café "
         "Köln über straße 東京 に 住んでいます 🙂 🚀 don't can't e-mail foo@example.com https://x.y/z?q=1 "
         "ISBN-978-3-16-148410-0 (parenthesised) [bracketed] {braced} ... !!! ??? — – \" ' ; : ,").split()

BLOCK_TORCH = ("import sys\nfor name in ('torch', 'transformers', 'sentence_transformers'):\n    sys.modules[name] = None\n"
               "from pymem.embed import onnx_model_path\nprint(onnx_model_path('onnx'))\n")


def _texts() -> list[str]:
    rng = random.Random(35)
    texts = ["", " ", "\n\t", ".", "?", "a", "🙂", "東京", "[PAD]", "[CLS] [SEP]", "word " * 400, "x" * 3000,
             "Ich wohne jetzt in Köln 🙂", "I prefer dark mode"]
    texts += [" ".join(rng.choice(WORDS) for _ in range(length)) for length in (150, 200, 300, 500)]  # cut at 256
    while len(texts) < 300:  # mostly the lengths memories have (a long text costs as much as fifty short ones)
        length = rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 55])
        texts.append(" ".join(rng.choice(WORDS) for _ in range(length)))
    return texts


@pytest.fixture(scope="module")
def torch_free_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("model-cache")
    env = {**os.environ, "PYMEM_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", BLOCK_TORCH], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith(str(cache))
    return cache


def test_the_torch_free_graph_gives_the_torch_vectors(torch_free_cache, monkeypatch):
    texts = _texts()
    expected = LocalEmbedder(backend="torch", batch_size=32).embed(texts)
    monkeypatch.setenv("PYMEM_CACHE_DIR", str(torch_free_cache))
    # batch_size 32 after sorting by length: every batch but the shortest pads some rows.
    vectors = LocalEmbedder(backend="onnx", batch_size=32).embed(texts)
    assert vectors.shape == (300, 384) and vectors.dtype == np.float32
    difference = np.abs(vectors - expected).max()
    assert difference < 1e-4, difference
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # One batch with the shortest and the longest text: the short row is nearly all padding.
    pair = LocalEmbedder(backend="onnx", batch_size=2).embed([texts[5], texts[10]])
    assert np.abs(pair - expected[[5, 10]]).max() < 1e-4
    # Texts past 256 tokens are cut there, as sentence-transformers cuts them.
    longer = LocalEmbedder(backend="onnx").embed(["word " * 400 + "something else entirely"])
    assert np.abs(longer[0] - vectors[10]).max() < 1e-6
