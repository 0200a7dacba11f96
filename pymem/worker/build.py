"""A worker assembled from configuration (`pymem worker`)."""

from __future__ import annotations

from pymem.embed import LocalEmbedder, embedder_from_env, set_cpu_threads

from .extract import RuleExtractor
from .llm import LLMExtractor
from .metrics import WorkerMetrics
from .worker import Worker, WorkerConfig


def build_worker(dsn: str, kinds: list[str], *, embed_threads: int | None = None,
                 **config) -> tuple[Worker, WorkerMetrics]:
    """The LLM extractor when PYMEM_LLM_URL is set (offering it the memory ``kinds`` an
    extractor may produce, as the database lists them), else the offline extractor; the HTTP
    embedder when PYMEM_EMBED_URL is set, else the local model on ``embed_threads`` CPU
    threads (when given)."""
    metrics = WorkerMetrics()
    embedder = embedder_from_env()
    if embed_threads and isinstance(embedder, LocalEmbedder):
        set_cpu_threads(embed_threads)
    extractor = LLMExtractor.from_env(kinds=kinds) or RuleExtractor()
    worker = Worker(dsn, embedder=embedder, extractor=extractor, config=WorkerConfig(**config), metrics=metrics)
    return worker, metrics
