"""What the benches that go through `pymem worker` share (statebench, updates, audit): a
fresh tenant in a database of the bench's own, the worker `pymem worker` would run, and
draining its queue."""

from __future__ import annotations

import time
from collections import Counter

from ..client import Client, connect
from ..errors import NotFound
from ..embed import default_embedder
from ..worker.extract import RuleExtractor
from ..worker.llm import LLMExtractor
from ..worker.worker import Worker, WorkerConfig
from .common import BenchDatabase

DRAIN_TIMEOUT_S = 1800


def worker_embedder(embedder):
    """The embedder the worker uses: 'local' is the packaged model; an object is used as it is."""
    if embedder == "local":
        return default_embedder()
    if embedder is None or isinstance(embedder, str):
        raise ValueError("the worker embeds every turn: pass embedder='local' or an Embedder object")
    return embedder


def fresh_tenant(database: str, tenant_id: str, *, home: str | None, dsn: str | None, embedder,
                 settings: dict | None = None) -> tuple[BenchDatabase, Client]:
    """The bench's own database (created fresh) and a client on it, with ``tenant_id`` created
    anew (a given DSN may hold an earlier run's). The caller closes the client."""
    db = BenchDatabase(database, home=home, dsn=dsn).open(fresh=True)
    client = connect(db.service_dsn, embedder=embedder, max_size=2)
    try:
        try:
            client.drop_tenant(tenant_id)
        except NotFound:
            pass
        client.create_tenant(tenant_id, settings=settings)
    except BaseException:
        client.close()
        raise
    return db, client


def build_worker(client, dsn: str, embedder, name: str):
    """The worker `pymem worker` runs: the LLM extractor when PYMEM_LLM_URL is set, else the offline one."""
    extractor = LLMExtractor.from_env(kinds=client.memory_kinds(extracted=True)) or RuleExtractor()
    config = WorkerConfig(batch_size=32, poll_interval=0.5)
    return Worker(dsn, embedder=embedder, extractor=extractor, config=config, name=name), extractor


def extractor_name(extractor) -> str:
    """How a bench's JSON names its extractor: 'rules', or the LLM extractor with its model."""
    return (getattr(extractor, "name", type(extractor).__name__)
            + (f" ({extractor.model})" if getattr(extractor, "model", None) else ""))


def drain(client, worker, tenant_id: str, totals: Counter) -> None:
    """Run the worker until the tenant has nothing pending or processing (retries included),
    adding what it did to ``totals`` and, at the end, the episodes left dead (dead_in_queue)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        totals.update(worker.run(once=True))
        depth = next((row for row in client.queue_stats() if row["tenant_id"] == tenant_id), None)
        if depth is None or not (depth["pending"] or depth["processing"]):
            totals["dead_in_queue"] = depth["dead"] if depth else 0
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the extraction queue did not drain in {DRAIN_TIMEOUT_S} s: {depth}")
        time.sleep(0.5)
