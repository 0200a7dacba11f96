"""What `pymem serve` and `pymem mcp` both run in their own process: the model, loaded once,
and the extraction worker on threads. No fastapi here: `pymem mcp` imports this with the
`mcp` extra alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from ..embed import embedder_from_env, set_cpu_threads
from ..sql import query
from .batching import BatchingEmbedder


def load_embedder(name: str, threads: int | None = None):
    """"auto": PYMEM_EMBED_URL's endpoint if set, else the local model; "local"; "none"
    (lexical and recency ranking only). The model is loaded here, once, not on the first
    request."""
    if name == "none":
        return None
    if threads:
        set_cpu_threads(threads)
    if name == "local":
        from ..embed import default_embedder

        embedder = default_embedder()
    else:
        embedder = embedder_from_env()
    embedder.embed(["warm up"])
    return BatchingEmbedder(embedder)


@contextmanager
def extraction(dsn: str, enabled: bool, *, embedder=None) -> Iterator[None]:
    """The extraction worker on threads of this process while the block runs, when
    ``enabled`` (pymem.worker.build.in_process_worker; ``embedder``: the process's model,
    shared). Off, extraction is left to `pymem worker` processes."""
    if not enabled:
        yield
        return
    from ..worker.build import in_process_worker

    with psycopg.connect(dsn) as conn:
        kinds = [kind for kind, extracted, _ in conn.execute(query("memory_kinds")) if extracted]
    with in_process_worker(dsn, kinds, embedder=embedder):
        yield
