"""Prometheus metrics of the HTTP service.

Two sources, one registry:
- the service's own measurements (retrieval latency, result counts, relevance, HTTP
  requests, rejections, deletions), updated per request;
- database-side figures, read from SQL views (pymem/sql/idempotent/087_service_metrics.sql, and
  views other modules may add) by :class:`DatabaseCollector` when Prometheus scrapes,
  cached for ``ttl`` seconds so a burst of scrapes costs one round of queries.

Which endpoint exports what: the worker's --metrics-port has memory_ingestion_lag_seconds,
memory_embedding_batch_errors_total (document embedding), extraction coverage of that
worker, queue depth and dead letters (pymem/worker/metrics.py); this module has the rest.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Iterable

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from psycopg.rows import dict_row

from ..sql import query

log = logging.getLogger("pymem.service.metrics")

# Around the 150 ms retrieval objective, so histogram_quantile() is accurate where it matters.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10)
RESULT_COUNT_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 1000)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

# The consistency engine's views (pymem/sql/idempotent/070_lifecycle.sql), read on scrape
# through named queries that return (tenant_id, value): query -> (metric, type, help).
# Deletion completion is not a view: an erasure is one transaction that either completes
# with residual 0 or raises and changes nothing, so only the service sees a failed request
# (memory_deletion_requests_total{operation,outcome}; the dashboard divides the two).
CONSISTENCY_METRICS = {
    "metrics_supersession_events": (
        "memory_supersession_events", "counter", "Memories closed by a newer one (supersession), per tenant"),
    "metrics_stale_fact_ratio": (
        "memory_stale_fact_ratio", "gauge", "Share of a tenant's active facts and preferences that are stale"),
    "metrics_contradictions": (
        "memory_contradiction_detected", "counter", "Contradictions detected, per tenant"),
}


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # `pymem serve --workers N`: each process writes its values to files in that folder
            # and a scrape of any process reads all of them (summed; in-flight: live processes).
            r = CollectorRegistry()
            MultiProcessCollector(self.registry)
        self.retrieval_latency = Histogram(
            "memory_retrieval_latency_seconds", "Retrieval time in the service: query embedding + SQL",
            buckets=LATENCY_BUCKETS, registry=r)
        self.retrieval_result_count = Histogram(
            "memory_retrieval_result_count", "Results returned per retrieval", buckets=RESULT_COUNT_BUCKETS,
            registry=r)
        self.retrieval_relevance = Histogram(
            "memory_retrieval_relevance_score", "Best score of each retrieval that returned something",
            buckets=SCORE_BUCKETS, registry=r)
        self.retrieval_rejected = Counter(
            "memory_retrieval_rejected_total", "Retrievals refused before running, by reason", ["reason"],
            registry=r)
        self.tenant_rejected = Counter(
            "memory_tenant_calls_rejected_total",
            "Calls refused because their tenant had its share of the pool in use, by operation",
            ["operation"], registry=r)
        self.deletions = Counter(
            "memory_deletion_requests_total", "Deletion requests (forget, erase) by outcome",
            ["operation", "outcome"], registry=r)
        self.embedding_errors = Counter(
            "memory_embedding_batch_errors_total", "Query embeddings that failed in the service", registry=r)
        self.http_requests = Counter(
            "memory_http_requests_total", "HTTP requests by route template, method and status",
            ["route", "method", "status"], registry=r)
        self.http_duration = Histogram(
            "memory_http_request_duration_seconds", "HTTP request time by route template", ["route"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("memory_http_requests_in_flight", "HTTP requests being served", registry=r,
                               multiprocess_mode="livesum")

    def retrieved(self, seconds: float, scores: list[float]) -> None:
        self.retrieval_latency.observe(seconds)
        self.retrieval_result_count.observe(len(scores))
        if scores:
            self.retrieval_relevance.observe(max(scores))


class DatabaseCollector:
    """Reads the metric views on scrape, as the service role, through its own connection."""

    def __init__(self, dsn: str, *, ttl: float = 10.0, connect: Callable[[str], psycopg.Connection] | None = None):
        self.dsn = dsn
        self.ttl = ttl
        self._connect = connect or (lambda dsn: psycopg.connect(dsn, autocommit=True))
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._cached_at = float("-inf")

    def describe(self) -> Iterable[Metric]:
        return []  # no scrape at registration time

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if time.monotonic() - self._cached_at >= self.ttl:
                self._cached = self._read()
                self._cached_at = time.monotonic()
            return list(self._cached)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- reading -------------------------------------------------------------------------

    def _rows(self, name: str, params: dict | None = None) -> list[dict]:
        with self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query(name), params or {})
            return cur.fetchall()

    def _read(self) -> list[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("memory_metrics_database_up", "1 when the last read of the metric views succeeded")
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect(self.dsn)
            families = self._families()
            up.add_metric([], 1)
        except psycopg.Error as exc:
            log.warning("metric views unavailable: %s", exc)
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            families = []
            up.add_metric([], 0)
        took = GaugeMetricFamily("memory_metrics_read_seconds", "Time the last read of the metric views took")
        took.add_metric([], time.perf_counter() - started)
        return [*families, up, took]

    def _families(self) -> list[Metric]:
        out: list[Metric] = []

        sizes = GaugeMetricFamily("memory_index_size_bytes", "Size of each tenant's retrieval indexes",
                                  labels=["tenant", "index"])
        for row in self._rows("metrics_index_sizes"):
            sizes.add_metric([row["tenant_id"], row["index_kind"]], float(row["bytes"]))
        out.append(sizes)

        rows = self._rows("metrics_user_memory_distribution")
        buckets = [(floatToGoString(float(r["le"])), float(r["users"])) for r in rows]
        if buckets and buckets[-1][0] == "+Inf":
            per_user = HistogramMetricFamily(
                "memory_user_memory_count", "Active memories per user (all tenants)",
                buckets=buckets, sum_value=float(rows[-1]["memories_sum"]))
            out.append(per_user)

        coverage = GaugeMetricFamily(
            "memory_tenant_extraction_coverage_ratio",
            "Share of a tenant's applied episodes whose extraction produced >= 1 memory", labels=["tenant"])
        episodes = GaugeMetricFamily("memory_tenant_episodes", "A tenant's episodes by state",
                                     labels=["tenant", "state"])
        for row in self._rows("metrics_extraction"):
            if row["episodes_done"]:
                coverage.add_metric([row["tenant_id"]], row["episodes_with_memories"] / row["episodes_done"])
            for state in ("done", "dead", "open"):
                episodes.add_metric([row["tenant_id"], state], float(row[f"episodes_{state}"]))
        out += [coverage, episodes]

        for name, (metric, kind, doc) in CONSISTENCY_METRICS.items():
            family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(metric, doc, labels=["tenant"])
            for row in self._rows(name):
                family.add_metric([row["tenant_id"]], float(row["value"] or 0))
            out.append(family)
        return out
