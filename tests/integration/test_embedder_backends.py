"""The local model's three backends: ONNX (the default) gives PyTorch's vectors, int8 stays
close, and once exported the ONNX path runs without torch in the process."""

import os
import subprocess
import sys

import numpy as np
import pytest

from pymem.embed import LocalEmbedder, onnx_model_path

pytestmark = pytest.mark.slow

TEXTS = ["I prefer dark mode", "What pets does Caroline have? She adopted a dog named Max last spring.",
         "hi", "word " * 400, "", "Ich wohne jetzt in Köln 🙂"]


@pytest.fixture(scope="module")
def torch_vectors():
    return LocalEmbedder(backend="torch").embed(TEXTS)


def test_onnx_gives_the_torch_vectors_in_any_batch_order(torch_vectors):
    model = LocalEmbedder(backend="onnx", batch_size=2)  # several batches, sorted by length
    vectors = model.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.abs(vectors - torch_vectors).max() < 1e-4
    # One text alone (no padding) gives the vector it got inside a padded batch.
    assert np.abs(model.embed([TEXTS[0]])[0] - vectors[0]).max() < 1e-5


def test_int8_stays_close_to_the_full_model(torch_vectors):
    vectors = LocalEmbedder(backend="onnx-int8").embed(TEXTS)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() > 0.8, cosines
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(ValueError, match="onnx, onnx-int8, torch"):
        LocalEmbedder(backend="tensorflow")


def test_the_onnx_path_does_not_load_torch_once_exported():
    onnx_model_path("onnx")  # exported (or already there)
    code = ("import sys; from pymem.embed import LocalEmbedder; v = LocalEmbedder().embed(['x']); "
            "print(v.shape, 'torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYMEM_EMBED_BACKEND": "onnx"}).stdout.strip()
    assert out == "(1, 384) False False"
