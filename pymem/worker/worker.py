"""The extraction worker: LISTEN/NOTIFY with a poll fallback, SKIP LOCKED claims under a
lease, batched embedding, one ``apply_extraction`` call per episode as the tenant's role.

Why it is shaped this way:
- The NOTIFY payload is only a hint. A dedicated connection LISTENs and wakes the claim
  loops; every loop also polls, so a lost notification (or a worker started after the
  NOTIFY) costs at most one poll interval (send->receive measured at p50 0.23 ms here).
- Claims carry a lease. A worker that dies (kill -9) stops renewing nothing; its jobs
  become claimable when the lease expires, and apply_extraction accepts a result only
  from the current claim holder, so an episode completes exactly once.
- Failures go back to the queue with backoff (pymem.retry, the one place delays are
  computed) until max_attempts, then to the dead-letter state with the error kept.
- The database is reached the way the client reaches it (pymem.database): a tenant's
  work runs as the tenant's role, and errors arrive as pymem's exceptions (pymem.errors),
  so "retry", "reconnect" and "give up" are decided by one table.
- SIGTERM finishes the batch in hand, then releases anything still claimed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from pymem.admin import reembed_step
from pymem.database import EPISODES_CHANNEL, listen, transaction, translated
from pymem.embed import Embedder, EmbeddingError, embedder_mismatch, reembedder_from_env
from pymem.errors import Conflict, EmbedderMismatch, PymemError, Unavailable
from pymem.migrate import embedding_model
from pymem.retry import backoff_delay
from pymem.sql import query

from .extract import Extractor, ExtractionError
from .metrics import WorkerMetrics

log = logging.getLogger("pymem.worker")


@dataclass
class WorkerConfig:
    concurrency: int = 1
    batch_size: int = 16
    poll_interval: float = 1.0
    # Seconds between an empty claim and the next: a woken worker waits this long, so the
    # turns that arrive meanwhile are claimed, extracted and embedded as one batch. pymem
    # bench ingest (50 turns/s, 60 s, three runs each, alternated): 0.02 s cost 14.5-15.9 ms
    # of machine CPU a turn at lag p95 0.04 s; 0.2 s cost 10.0-11.4 at lag p95 0.27 s, with
    # the ingest call p95 under 5 ms either way (docs/benchmarks.md). It also bounds the
    # claims a flood of NOTIFYs can cause.
    batch_window: float = 0.2
    lease_seconds: int = 60
    max_attempts: int = 5
    retry_base: float = 1.0
    retry_cap: float = 300.0
    embed_batch: int = 128


class Worker:
    def __init__(self, dsn: str, *, embedder: Embedder, extractor: Extractor,
                 config: WorkerConfig | None = None, metrics: WorkerMetrics | None = None,
                 name: str | None = None):
        self.dsn = dsn
        self.embedder = embedder
        self.extractor = extractor
        self.config = config or WorkerConfig()
        self.metrics = metrics or WorkerMetrics()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._hint = 0
        self._reembedders: dict[tuple[str, int], Embedder | None] = {}
        if getattr(embedder, "on_error", False) is None:
            # HTTP embedders report every failed request (retries included).
            embedder.on_error = lambda exc: self.metrics.embedding_batch_errors.inc()

    # -- control -----------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()

    def check_embedder(self) -> None:
        """Raise EmbedderMismatch unless the embedder is the database's model: a worker with
        another model would fill the column with vectors no query can be compared to."""
        with psycopg.connect(self.dsn) as conn:
            problem = embedder_mismatch(embedding_model(conn), self.embedder)
        if problem:
            raise EmbedderMismatch(problem)

    def run(self, once: bool = False) -> dict:
        """Run until stop() (or, with once=True, until the queue has nothing due)."""
        self.check_embedder()
        self._stop.clear()
        totals = {"applied": 0, "failed": 0, "dead": 0, "skipped": 0, "reembedded": 0}
        lock = threading.Lock()
        listener = None
        if not once:
            listener = threading.Thread(target=self._listen, name="pymem-listen", daemon=True)
            listener.start()
        threads = [threading.Thread(target=self._loop, args=(i, once, totals, lock), name=f"pymem-worker-{i}")
                   for i in range(self.config.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.stop()
        return totals

    # -- listening ---------------------------------------------------------------------

    def _listen(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    listen(conn, EPISODES_CHANNEL)
                    attempt = 0
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._poke()
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return  # stopping: the server may be going away with us (pymem mcp's own)
                attempt += 1
                delay = backoff_delay(attempt, base=0.5, cap=30)
                log.warning("listen connection lost (%s); reconnecting in %.1fs", exc, delay)
                self._stop.wait(delay)

    def _poke(self) -> None:
        with self._wake:
            self._hint += 1
            self._wake.notify_all()

    def _wait_for_work(self, seen_hint: int) -> None:
        with self._wake:
            if self._hint == seen_hint and not self._stop.is_set():
                self._wake.wait(self.config.poll_interval)

    # -- the claim loop ----------------------------------------------------------------

    def _loop(self, index: int, once: bool, totals: dict, lock: threading.Lock) -> None:
        worker_id = f"{self.name}:{index}"
        attempt = 0
        conn = None
        try:
            while not self._stop.is_set():
                try:
                    with translated():
                        if conn is None or conn.closed:
                            conn = psycopg.connect(self.dsn, autocommit=True)
                            register_vector(conn)
                        seen_hint = self._hint
                        episodes = self._claim(conn, worker_id)
                        attempt = 0
                        if not episodes:
                            helped = self._help_reembed(conn)
                            if helped:
                                with lock:
                                    totals["reembedded"] += helped
                                continue
                            if once:
                                return
                            self._wait_for_work(seen_hint)
                            # Any session may NOTIFY the channel (no privilege guards it): a flood
                            # of empty hints costs at most one claim per window, not a busy loop.
                            self._stop.wait(self.config.batch_window)
                            continue
                        outcome = self._process(conn, worker_id, episodes)
                    with lock:
                        for key, value in outcome.items():
                            totals[key] += value
                except (Unavailable, Conflict) as exc:
                    # The server restarted or the network dropped (reconnect), or a claim met
                    # a lock (try again): with backoff either way. Claimed jobs stay leased and
                    # come back if we do not return in time.
                    attempt += 1
                    delay = backoff_delay(attempt, base=0.5, cap=30)
                    log.warning("%s: %s (%s); retrying in %.1fs", worker_id,
                                "database unavailable" if isinstance(exc, Unavailable) else "conflict", exc, delay)
                    if conn is not None and isinstance(exc, Unavailable):
                        conn.close()
                        conn = None
                    self._stop.wait(delay)
        finally:
            if conn is not None and not conn.closed:
                try:
                    released = conn.execute(query("release_episodes"), {"worker_id": worker_id}).fetchone()[0]
                    if released:
                        log.info("%s: released %d claimed episodes", worker_id, released)
                except psycopg.Error:
                    pass
                conn.close()

    def _help_reembed(self, conn: psycopg.Connection) -> int:
        """While the database changes its embedding model (`pymem embeddings reembed`), idle
        workers embed batches with the new one, if they can reach it; returns how many."""
        model, dimensions = conn.execute(query("embedding_model_change")).fetchone()
        if model is None:
            return 0
        key = (model, dimensions)
        if key not in self._reembedders:
            self._reembedders[key] = reembedder_from_env(model, dimensions)
            if self._reembedders[key] is None:
                log.warning("the database is changing to %s; this worker cannot reach it (set PYMEM_REEMBED_URL) "
                            "and leaves the re-embedding to others", model)
        embedder = self._reembedders[key]
        if embedder is None:
            return 0
        try:
            return reembed_step(conn, embedder, self.config.embed_batch)
        except EmbeddingError as exc:
            log.warning("re-embedding a batch with %s failed: %s", model, exc)
            return 0

    def _claim(self, conn: psycopg.Connection, worker_id: str) -> list[dict]:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query("claim_episodes"), {
                "worker_id": worker_id, "limit": self.config.batch_size,
                "lease_seconds": self.config.lease_seconds, "max_attempts": self.config.max_attempts})
            return cur.fetchall()

    def _process(self, conn: psycopg.Connection, worker_id: str, episodes: list[dict]) -> dict:
        outcome = {"applied": 0, "failed": 0, "dead": 0, "skipped": 0}
        extracted: dict = {}
        for episode in episodes:
            try:
                extracted[episode["id"]] = self.extractor.extract(episode["messages"], conn=conn,
                                                                   user_id=episode["user_id"])
            except ExtractionError as exc:
                outcome[self._fail(conn, worker_id, episode, f"extraction: {exc}", exc.retryable)] += 1
        ready = [e for e in episodes if e["id"] in extracted]
        texts: list[str] = []
        for episode in ready:
            texts.extend(episode["turn_texts"] or [])
            texts.extend(c.content for c in extracted[episode["id"]])
        try:
            vectors = self._embed(texts)
        except EmbeddingError as exc:
            for episode in ready:
                outcome[self._fail(conn, worker_id, episode, f"embedding: {exc}", exc.retryable)] += 1
            return outcome
        offset = 0
        for episode in ready:
            candidates = extracted[episode["id"]]
            turns = len(episode["turn_texts"] or [])
            turn_vectors = list(vectors[offset:offset + turns])
            offset += turns
            memory_vectors = list(vectors[offset:offset + len(candidates)])
            offset += len(candidates)
            try:
                result = self._apply(conn, worker_id, episode, candidates, turn_vectors, memory_vectors)
            except Unavailable:
                raise
            except PymemError as exc:
                # A conflict (a deadlock, a lock) passes; any other refusal is of the extraction
                # itself (invalid data): retrying the same input cannot help, so it goes
                # straight to the dead-letter state.
                retryable = isinstance(exc, Conflict)
                outcome[self._fail(conn, worker_id, episode, f"apply_extraction: {exc}", retryable)] += 1
                continue
            if result.get("applied"):
                outcome["applied"] += 1
                self.metrics.applied(result["memories"], float(result["lag_seconds"]))
            else:
                outcome["skipped"] += 1
                log.info("%s: episode %s was re-claimed elsewhere; result dropped", worker_id, episode["id"])
        return outcome

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), self.config.embed_batch):
            try:
                parts.append(self.embedder.embed(texts[start:start + self.config.embed_batch]))
            except EmbeddingError:
                if getattr(self.embedder, "on_error", None) is None:
                    self.metrics.embedding_batch_errors.inc()
                raise
        return np.vstack(parts)

    def _apply(self, conn, worker_id, episode, candidates, turn_vectors, memory_vectors) -> dict:
        with transaction(conn, episode["role_name"]):
            for candidate in candidates:
                candidate.extractor = candidate.extractor or self.extractor.name
            row = conn.execute(query("apply_extraction"), {
                "episode_id": episode["id"], "worker_id": worker_id,
                "extraction": Jsonb({"memories": [c.as_payload() for c in candidates]}),
                "turn_embeddings": turn_vectors or None,
                "memory_embeddings": memory_vectors if candidates else None,
            }).fetchone()
        return row[0]

    def _fail(self, conn, worker_id, episode, error: str, retryable: bool) -> str:
        retry_in = backoff_delay(episode["attempts"], base=self.config.retry_base, cap=self.config.retry_cap) \
            if retryable else None
        status = conn.execute(query("fail_episode"), {
            "tenant_id": episode["tenant_id"], "episode_id": episode["id"], "worker_id": worker_id,
            "error": error, "retry_in_seconds": retry_in, "max_attempts": self.config.max_attempts,
        }).fetchone()[0]
        outcome = "dead" if status == "dead" else "failed"
        self.metrics.episodes_failed.labels(outcome).inc()
        log.warning("%s: episode %s %s: %s", worker_id, episode["id"],
                    "dead-lettered" if outcome == "dead" else f"retry in {retry_in:.1f}s", error)
        return outcome


def refresh_queue_metrics(dsn: str, metrics: WorkerMetrics, stop: threading.Event, every: float = 5.0) -> None:
    """Keep queue-depth gauges current (a background thread of `pymem worker`)."""
    while not stop.is_set():
        try:
            with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
                cur.execute(query("queue_stats"))
                metrics.queue(cur.fetchall())
        except psycopg.Error as exc:
            log.debug("queue stats unavailable: %s", exc)
        stop.wait(every)

