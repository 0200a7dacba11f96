"""`pymem bench ingest`: sustained ingest load against real worker processes.

Drives ``rate`` turns per second for ``duration`` seconds through ``ingest`` (open loop:
calls are paced by the clock, not by the previous call's return), with ``workers``
`pymem worker` processes extracting and embedding (local model unless PYMEM_EMBED_URL is
set). Afterwards it waits for the queue to drain and reads everything back from the
database: per-episode lag (enqueue -> extraction applied), lost episodes (ids the caller
got that are not done) and duplicated ones (more memories stored than extracted).
Runs in a database of its own, created fresh each run.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time

import psycopg

from .common import BenchDatabase, cpu_seconds, percentile
from ..client import connect
from ..sql import query

SENTENCES = [
    "I'm allergic to dogs", "I love hot dogs", "I prefer dark mode", "Actually, light mode is better",
    "My time zone is Europe/Berlin", "I live in Lisbon", "I mostly use VS Code and Python",
    "I have a dentist appointment on 3 December", "The weather is nice today", "ok, thanks!",
    "I'm working on the billing service", "Please always answer in German", "I hate cilantro",
    "Can you summarise the meeting notes?", "I work at Acme Corp", "I'm vegetarian",
]


def run(*, rate: float = 50.0, duration: float = 60.0, workers: int = 1, users: int = 20,
        home: str | None = None, dsn: str | None = None, drain_timeout: float = 300.0,
        worker_args: tuple[str, ...] = ()) -> dict:
    database = BenchDatabase("pymem_bench_ingest", home=home, dsn=dsn).open(fresh=True)
    admin_dsn, service_dsn = database.admin_dsn, database.service_dsn

    client = connect(service_dsn, embedder=None, max_size=4)
    procs = []
    try:
        tenant_id = f"bench-{int(time.time())}"
        client.create_tenant(tenant_id)
        tenant = client.tenant(tenant_id)
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "pymem.cli", "--dsn", service_dsn, "worker", "--poll-interval", "0.5",
                 *worker_args],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ)))
        # Warm-up: one episode per worker, and wait until they are applied (model loaded).
        warm = [tenant.ingest("warmup", "I prefer tea") for _ in range(workers)]
        _wait_done(admin_dsn, warm, timeout=180)

        episode_ids: list[str] = []
        call_ms: list[float] = []
        pids = {"worker": [proc.pid for proc in procs]}
        cpu_before = cpu_seconds(pids)
        interval = 1.0 / rate
        start = time.perf_counter()
        n = 0
        while True:
            due = start + n * interval
            now = time.perf_counter()
            if due - start >= duration:
                break
            if due > now:
                time.sleep(due - now)
            t0 = time.perf_counter()
            episode_ids.append(tenant.ingest(f"user{n % users}", SENTENCES[n % len(SENTENCES)],
                                             session_id=f"s{n % users}"))
            call_ms.append((time.perf_counter() - t0) * 1000)
            n += 1
        driven_s = time.perf_counter() - start
        drained = _wait_done(admin_dsn, episode_ids, timeout=drain_timeout)
        cpu_after = cpu_seconds(pids)

        with psycopg.connect(admin_dsn) as conn:
            rows = conn.execute(query("episode_audit"), {"episode_ids": episode_ids}).fetchall()
            first_enqueue, last_done = conn.execute(query("episode_span"), {"episode_ids": episode_ids}).fetchone()
        by_id = {row[0]: row for row in rows}
        done = [row for row in rows if row[1] == "done"]
        lags = [float(row[3]) for row in done]
        lost = sum(1 for eid in episode_ids if eid not in by_id or by_id[eid][1] != "done")
        # Each candidate leaves one trace (a memory or a mention); more means applied twice.
        duplicated = sum(1 for row in done if row[4] > (row[2] or 0))
        span = (last_done - first_enqueue).total_seconds() if done else float("nan")
        return {
            "benchmark": "ingest",
            "turns": len(episode_ids),
            "target_rate_per_s": rate,
            "achieved_rate_per_s": round(len(episode_ids) / driven_s, 2),
            "duration_s": duration,
            "workers": workers,
            "embedder": "http" if os.environ.get("PYMEM_EMBED_URL") else "local all-MiniLM-L6-v2",
            "ingest_call_p50_ms": round(statistics.median(call_ms), 3),
            "ingest_call_p95_ms": round(percentile(call_ms, 0.95), 3),
            "ingest_call_p99_ms": round(percentile(call_ms, 0.99), 3),
            "lag_p50_s": round(percentile(lags, 0.50), 3),
            "lag_p95_s": round(percentile(lags, 0.95), 3),
            "lag_max_s": round(max(lags), 3) if lags else None,
            "throughput_turns_per_s": round(len(done) / span, 2) if done else 0.0,
            "drained": drained,
            "lost": lost,
            "duplicated": duplicated,
            "memories_extracted": sum(row[2] or 0 for row in done),
            # From the first ingest call to the last episode done: the calls (this process),
            # PostgreSQL, the workers, and the whole machine (the idle system's own included).
            "cpu_ms_per_turn": {part: round((cpu_after[part] - cpu_before[part]) * 1000 / len(episode_ids), 2)
                                for part in ("bench", "postgres", "worker", "machine")},
        }
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        client.close()


def _wait_done(dsn: str, episode_ids: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            open_jobs = conn.execute(query("open_episodes"), {"episode_ids": episode_ids}).fetchone()[0]
            if open_jobs == 0:
                return True
            time.sleep(0.25)
    return False


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run()))
