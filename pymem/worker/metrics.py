"""The worker's Prometheus metrics (served with --metrics-port)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.ingestion_lag = Histogram(
            "memory_ingestion_lag_seconds", "Enqueue to searchable (extraction applied), per episode",
            buckets=LAG_BUCKETS, registry=r)
        self.embedding_batch_errors = Counter(
            "memory_embedding_batch_errors_total", "Embedding requests that failed (each retry counts)", registry=r)
        self.episodes_processed = Counter(
            "memory_extraction_episodes_total", "Episodes whose extraction was applied", registry=r)
        self.episodes_with_memories = Counter(
            "memory_extraction_episodes_with_memories_total", "Applied episodes that produced >= 1 memory", registry=r)
        self.extraction_coverage = Gauge(
            "memory_extraction_coverage_ratio", "Share of applied episodes producing >= 1 memory (this worker)",
            registry=r)
        self.episodes_failed = Counter(
            "memory_episodes_failed_total", "Failed episode attempts by outcome", ["outcome"], registry=r)
        self.queue_depth = Gauge("memory_queue_depth", "Episodes by state", ["state"], registry=r)
        self.dead_letters = Gauge("memory_dead_letter_episodes", "Episodes in the dead-letter state", registry=r)

    def applied(self, memories: int, lag_seconds: float) -> None:
        self.episodes_processed.inc()
        if memories > 0:
            self.episodes_with_memories.inc()
        self.ingestion_lag.observe(max(lag_seconds, 0.0))
        total = self.episodes_processed._value.get()
        self.extraction_coverage.set(self.episodes_with_memories._value.get() / total if total else 0.0)

    def queue(self, rows: list[dict]) -> None:
        for state in ("pending", "processing", "dead"):
            self.queue_depth.labels(state).set(sum(row[state] for row in rows))
        self.dead_letters.set(sum(row["dead"] for row in rows))
