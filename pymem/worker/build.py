"""A worker assembled from configuration (`pymem worker`), and the same worker inside another
process (`pymem serve`, `pymem mcp`: extraction without a second terminal)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pymem.embed import Embedder, LocalEmbedder, embedder_from_env, set_cpu_threads

from .extract import RuleExtractor
from .llm import LLMExtractor
from .metrics import WorkerMetrics
from .worker import Worker, WorkerConfig

log = logging.getLogger("pymem.worker")


def build_worker(dsn: str, kinds: list[str], *, embed_threads: int | None = None, embedder: Embedder | None = None,
                 metrics: WorkerMetrics | None = None, **config) -> tuple[Worker, WorkerMetrics]:
    """The LLM extractor when PYMEM_LLM_URL is set (offering it the memory ``kinds`` an
    extractor may produce, as the database lists them), else the offline extractor; the
    ``embedder`` given, else the HTTP embedder when PYMEM_EMBED_URL is set, else the local
    model on ``embed_threads`` CPU threads (when given)."""
    metrics = metrics or WorkerMetrics()
    if embedder is None:
        embedder = embedder_from_env()
        if embed_threads and isinstance(embedder, LocalEmbedder):
            set_cpu_threads(embed_threads)
    extractor = LLMExtractor.from_env(kinds=kinds) or RuleExtractor()
    worker = Worker(dsn, embedder=embedder, extractor=extractor, config=WorkerConfig(**config), metrics=metrics)
    return worker, metrics


@contextmanager
def in_process_worker(dsn: str, kinds: list[str], *, embedder: Embedder | None = None,
                      metrics: WorkerMetrics | None = None, schedule: bool = True) -> Iterator[Worker]:
    """What `pymem worker` does, on threads of this process, for as long as the block runs:
    one claim loop (LISTEN/NOTIFY + poll, as the worker process) and, with ``schedule``, the
    maintenance schedule. ``embedder``: the process's own model, shared (a BatchingEmbedder
    serves the worker's batches and the queries one call at a time), else the worker's
    usual one. A model the database does not hold raises EmbedderMismatch before anything
    starts. On exit the batch in hand finishes and anything still claimed is released.

    One loop is enough for one user's agent; for more, run `pymem worker` processes (any
    number, on any machine) and turn this off (--no-extract)."""
    worker, _ = build_worker(dsn, kinds, embedder=embedder, metrics=metrics)
    worker.check_embedder()
    stop = threading.Event()
    threads = [threading.Thread(target=worker.run, name="pymem-extract", daemon=True)]
    if schedule:
        from .schedule import scheduler

        threads.append(threading.Thread(target=scheduler, args=(dsn, stop), name="pymem-schedule", daemon=True))
    for thread in threads:
        thread.start()
    log.info("extracting in this process (%s)", worker.name)
    try:
        yield worker
    finally:
        worker.stop()
        stop.set()
        threads[0].join(timeout=30)
