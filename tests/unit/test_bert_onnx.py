"""pymem.bert_onnx without the real model: safetensors read from bytes written here, and the
ONNX graph of a tiny random BERT against a plain numpy forward pass (padding included)."""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest

from pymem.bert_onnx import build_sentence_encoder, read_safetensors

CONFIG = {"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 16,
          "layer_norm_eps": 1e-12, "hidden_act": "gelu", "position_embedding_type": "absolute",
          "vocab_size": 20, "max_position_embeddings": 16, "type_vocab_size": 2}


def _safetensors(tensors: dict[str, np.ndarray]) -> bytes:
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        code = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[array.dtype]
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks)


def _random_bert(seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, inner = CONFIG["hidden_size"], CONFIG["intermediate_size"]

    def rand(*shape):
        return rng.normal(0, 0.5, shape).astype(np.float32)

    weights = {"embeddings.word_embeddings.weight": rand(CONFIG["vocab_size"], h),
               "embeddings.position_embeddings.weight": rand(CONFIG["max_position_embeddings"], h),
               "embeddings.token_type_embeddings.weight": rand(2, h),
               "embeddings.LayerNorm.weight": 1 + rand(h), "embeddings.LayerNorm.bias": rand(h),
               "embeddings.position_ids": np.arange(CONFIG["max_position_embeddings"], dtype=np.int64)[None]}
    for n in range(CONFIG["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        for name, (out, inp) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                                 "attention.self.value": (h, h), "attention.output.dense": (h, h),
                                 "intermediate.dense": (inner, h), "output.dense": (h, inner)}.items():
            weights[p + name + ".weight"], weights[p + name + ".bias"] = rand(out, inp), rand(out)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[p + name + ".weight"], weights[p + name + ".bias"] = 1 + rand(h), rand(h)
    return weights


def _reference(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
    """BERT, mean pooling and L2 normalisation in float64 numpy, written from the paper's equations."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    heads, eps = CONFIG["num_attention_heads"], CONFIG["layer_norm_eps"]

    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]

    def dense(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    batch, tokens = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][types]
         + w["embeddings.position_embeddings.weight"][:tokens])
    x = norm(x, "embeddings.LayerNorm")
    size = x.shape[-1] // heads
    for n in range(CONFIG["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        q, k, v = (dense(x, p + "attention.self." + part).reshape(batch, tokens, heads, size).transpose(0, 2, 1, 3)
                   for part in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + np.where(mask[:, None, None, :] == 1, 0.0, -1e30)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, heads * size)
        x = norm(dense(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        inner = dense(x, p + "intermediate.dense")
        inner = inner * 0.5 * (1 + np.vectorize(math.erf)(inner / math.sqrt(2)))
        x = norm(dense(inner, p + "output.dense") + x, p + "output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_safetensors_are_read_by_name_dtype_and_shape():
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([[5, -1]], dtype=np.int64)}
    read = read_safetensors(_safetensors(tensors))
    assert set(read) == {"a", "b"}
    for name, array in tensors.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        assert np.array_equal(read[name], array)


@pytest.mark.parametrize("damage", ["short", "header past the end", "range past the end", "shape mismatch"])
def test_damaged_safetensors_are_refused(damage):
    data = _safetensors({"a": np.zeros((2, 3), dtype=np.float32)})
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    if damage == "short":
        data = data[:5]
    elif damage == "header past the end":
        data = struct.pack("<Q", len(data)) + data[8:]
    else:
        header["a"]["data_offsets"] = [0, 48] if damage == "range past the end" else [0, 20]
        encoded = json.dumps(header).encode()
        data = struct.pack("<Q", len(encoded)) + encoded + data[8 + length:]
    with pytest.raises(ValueError):
        read_safetensors(data)


def test_the_graph_gives_the_reference_vectors_with_padding_in_the_batch():
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    weights = read_safetensors(_safetensors(_random_bert()))
    session = onnxruntime.InferenceSession(build_sentence_encoder(weights, CONFIG), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in session.get_outputs()] == ["embedding"]
    rng = np.random.default_rng(1)
    for tokens in (1, 5, 16):  # batch and token counts are dynamic
        ids = rng.integers(1, CONFIG["vocab_size"], (3, tokens))
        mask = np.ones_like(ids)
        mask[1, max(1, tokens - 3):] = 0  # padding: its tokens must not count
        ids[mask == 0] = 0
        types = np.zeros_like(ids)
        got = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        assert got.shape == (3, CONFIG["hidden_size"]) and got.dtype == np.float32
        assert np.abs(got - _reference(weights, ids, mask, types)).max() < 1e-5
        # A padded row's vector is the one the same text gets alone.
        alone = session.run(None, {"input_ids": ids[1:2, :mask[1].sum()], "attention_mask": mask[1:2, :mask[1].sum()],
                                   "token_type_ids": types[1:2, :mask[1].sum()]})[0]
        assert np.abs(alone[0] - got[1]).max() < 1e-5


def test_only_the_bert_it_is_written_for_is_accepted():
    with pytest.raises(ValueError, match="GELU"):
        build_sentence_encoder(_random_bert(), {**CONFIG, "hidden_act": "relu"})
