"""all-MiniLM-L6-v2 as an ONNX graph, written from its safetensors weights with numpy and
``onnx``'s helper API: no torch, no transformers.

The graph is the BERT encoder of the model's ``config.json`` (6 layers, 12 heads, hidden
384, GELU through erf, LayerNorm with the config's epsilon) followed by what
sentence-transformers does for this model: the mean of the token vectors under the attention
mask, L2-normalised. Inputs and output are those the torch export had (input_ids,
attention_mask, token_type_ids -> embedding; batch and token counts dynamic), and the
vectors are that export's within 1e-6 (tests/integration/test_bert_onnx.py checks 1e-4 on
a few hundred texts), so a database filled through either keeps working.

safetensors is read here rather than through the ``safetensors`` package: the format is an
8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte
range, then the raw bytes. Twenty lines of numpy read it, and the light install needs no
compiled package for it.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Mapping

import numpy as np

OPSET = 17
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The tensors in a safetensors file's bytes, by name (read-only arrays over ``data``)."""
    if len(data) < 8:
        raise ValueError("not a safetensors file: shorter than its header length")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise ValueError("not a safetensors file: the header runs past the end")
    header = json.loads(data[8:8 + length])
    start = 8 + length
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        if spec["dtype"] not in _DTYPES:
            raise ValueError(f"{name}: dtype {spec['dtype']} is not supported")
        dtype = np.dtype(_DTYPES[spec["dtype"]]).newbyteorder("<")
        begin, end = spec["data_offsets"]
        count = math.prod(spec["shape"])
        if not 0 <= begin <= end <= len(data) - start or end - begin != count * dtype.itemsize:
            raise ValueError(f"{name}: its byte range does not fit its shape or the file")
        tensors[name] = np.frombuffer(data, dtype=dtype, count=count, offset=start + begin).reshape(spec["shape"])
    return tensors


class _Graph:
    """Nodes and initializers collected in order; each helper returns its output's name."""

    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def constant(self, name: str, value) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, **attributes) -> str:
        self._count += 1
        output = f"{op_type.lower()}_{self._count}"
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [output], name=output, **attributes))
        return output


def build_sentence_encoder(weights: Mapping[str, np.ndarray], config: Mapping) -> bytes:
    """The serialised ONNX model (opset 17) for a BERT sentence encoder with mean pooling and
    L2 normalisation, from its weights (names as in the model's safetensors file) and its
    ``config.json``."""
    import onnx
    from onnx import TensorProto, helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    layers = int(config["num_hidden_layers"])
    eps = float(config["layer_norm_eps"])
    if config.get("hidden_act", "gelu") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only BERT with GELU (erf) and absolute positions is supported")
    head_size = hidden // heads
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

    def w(name: str) -> np.ndarray:
        return np.asarray(weights[prefix + name], dtype=np.float32)

    g = _Graph()
    f32 = lambda value: np.array(value, dtype=np.float32)  # noqa: E731
    i64 = lambda value: np.array(value, dtype=np.int64)  # noqa: E731

    def linear(x: str, name: str) -> str:
        # torch keeps a Linear's weight as (out, in); MatMul wants (in, out).
        kernel = g.constant(name + ".weight.T", w(name + ".weight").T)
        return g.op("Add", g.op("MatMul", x, kernel), g.constant(name + ".bias", w(name + ".bias")))

    def layer_norm(x: str, name: str) -> str:
        return g.op("LayerNormalization", x, g.constant(name + ".weight", w(name + ".weight")),
                    g.constant(name + ".bias", w(name + ".bias")), axis=-1, epsilon=eps)

    # Embeddings: word + token type + position (0 .. tokens-1), then LayerNorm. Positions are the
    # first `tokens` of a constant 0..max-1 row looked up with a Gather, as in the torch export, so
    # int8 quantisation treats the position table as it did there (same int8 vectors).
    limit = weights[prefix + "embeddings.position_embeddings.weight"].shape[0]
    tokens = g.op("Shape", "input_ids", start=1, end=2)  # [tokens]
    positions = g.op("Slice", g.constant("position_ids", np.arange(limit, dtype=np.int64)[None, :]),
                     g.constant("zero", i64([0])), tokens, g.constant("axis_1", i64([1])))  # (1, tokens)
    x = g.op("Add", g.op("Gather", g.constant("embeddings.word_embeddings.weight", w("embeddings.word_embeddings.weight")), "input_ids"),
             g.op("Gather", g.constant("embeddings.token_type_embeddings.weight",
                                       w("embeddings.token_type_embeddings.weight")), "token_type_ids"))
    x = g.op("Add", x, g.op("Gather", g.constant("embeddings.position_embeddings.weight",
                                                 w("embeddings.position_embeddings.weight")), positions))
    x = layer_norm(x, "embeddings.LayerNorm")

    # Padding gets the most negative float added to its attention scores, as transformers does.
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)  # (batch, tokens)
    blocked = g.op("Mul", g.op("Sub", g.constant("one_f", f32(1.0)), mask),
                   g.constant("most_negative", f32(np.finfo(np.float32).min)))
    blocked = g.op("Unsqueeze", blocked, g.constant("axes_1_2", i64([1, 2])))  # (batch, 1, 1, tokens)
    split_heads = g.constant("split_heads", i64([0, 0, heads, head_size]))
    merge_heads = g.constant("merge_heads", i64([0, 0, hidden]))
    scale = g.constant("scale", f32(1.0 / math.sqrt(head_size)))
    half, root2 = g.constant("half", f32(0.5)), g.constant("sqrt2", f32(math.sqrt(2.0)))

    for n in range(layers):
        name = f"encoder.layer.{n}"
        # (batch, tokens, hidden) -> (batch, heads, tokens, head_size); keys as (.., head_size, tokens).
        q = g.op("Transpose", g.op("Reshape", linear(x, f"{name}.attention.self.query"), split_heads), perm=[0, 2, 1, 3])
        k = g.op("Transpose", g.op("Reshape", linear(x, f"{name}.attention.self.key"), split_heads), perm=[0, 2, 3, 1])
        v = g.op("Transpose", g.op("Reshape", linear(x, f"{name}.attention.self.value"), split_heads), perm=[0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), blocked)
        context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        context = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merge_heads)
        x = layer_norm(g.op("Add", linear(context, f"{name}.attention.output.dense"), x),
                       f"{name}.attention.output.LayerNorm")
        # GELU, the exact form: h * 0.5 * (1 + erf(h / sqrt 2)).
        h = linear(x, f"{name}.intermediate.dense")
        h = g.op("Mul", g.op("Mul", h, half), g.op("Add", g.constant(f"one_f_{n}", f32(1.0)),
                                                   g.op("Erf", g.op("Div", h, root2))))
        x = layer_norm(g.op("Add", linear(h, f"{name}.output.dense"), x), f"{name}.output.LayerNorm")

    # Mean over the unmasked tokens, then unit length (torch's normalize: divide by max(norm, 1e-12)).
    weights_3d = g.op("Unsqueeze", mask, g.constant("axis_2", i64([2])))  # (batch, tokens, 1)
    axis_1 = "axis_1"
    summed = g.op("ReduceSum", g.op("Mul", x, weights_3d), axis_1, keepdims=0)
    counted = g.op("Max", g.op("ReduceSum", weights_3d, axis_1, keepdims=0), g.constant("min_count", f32(1e-9)))
    pooled = g.op("Div", summed, counted)
    # ReduceL2 takes its axes as an attribute until opset 18 (ReduceSum as an input since 13).
    norm = g.op("Max", g.op("ReduceL2", pooled, axes=[1], keepdims=1), g.constant("min_norm", f32(1e-12)))
    g.nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"], name="embedding"))

    ids = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
           for name in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])
    graph = helper.make_graph(g.nodes, "sentence_embedding", ids, [output], initializer=g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pymem")
    model.ir_version = 8  # the IR version of opset 17's release: any ONNX Runtime that runs opset 17 reads it
    onnx.checker.check_model(model)
    return model.SerializeToString()
