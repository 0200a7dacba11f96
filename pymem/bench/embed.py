"""`pymem bench embed`: the local model's backends side by side, in one process and one run:
load time, one short query (the service's case: latency and the CPU time it costs the
process) and a batch of 128 (the worker's case), on 1 thread and on all cores, and how far
each backend's vectors are from PyTorch's."""

from __future__ import annotations

import os
import resource
import statistics
import time

import numpy as np

from ..embed import BACKENDS, LocalEmbedder, set_cpu_threads

QUERIES = [f"what did the user say about {topic} last {when}?" for topic in
           ("hiking", "their sister", "the new job", "dark mode", "rust", "pets", "the trip to Lisbon", "coffee")
           for when in ("week", "month", "summer", "year")]
DOCUMENTS = [f"On day {i} the user mentioned that they {verb} {thing} with a friend from work."
             for i, (verb, thing) in enumerate(((v, t) for v in ("tried", "loved", "skipped", "planned")
                                                for t in ("a pottery class", "the lake trail", "sushi",
                                                          "a chess club", "a night train", "yoga",
                                                          "the museum", "a concert")), 1)] * 4


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timings(model: LocalEmbedder, rounds: int) -> dict:
    singles = []
    cpu = _cpu_seconds()
    for i in range(rounds):
        text = QUERIES[i % len(QUERIES)]
        started = time.perf_counter()
        model.embed([text])
        singles.append((time.perf_counter() - started) * 1000)
        time.sleep(0.002)  # a gap between requests, as a service sees them (idle threads may spin)
    cpu_per_query = (_cpu_seconds() - cpu) / rounds * 1000
    batches = []
    for _ in range(max(3, rounds // 20)):
        started = time.perf_counter()
        model.embed(DOCUMENTS)
        batches.append((time.perf_counter() - started) * 1000)
    singles.sort()
    return {"query_p50_ms": round(statistics.median(singles), 2),
            "query_cpu_ms": round(cpu_per_query, 2),
            "query_p95_ms": round(singles[int(0.95 * (len(singles) - 1))], 2),
            "batch128_ms": round(statistics.median(batches), 1),
            "batch128_texts_per_s": round(len(DOCUMENTS) / statistics.median(batches) * 1000)}


def run(*, rounds: int = 200) -> dict:
    cores = os.cpu_count() or 1
    result = {"benchmark": "embed", "model": "all-MiniLM-L6-v2", "cores": cores, "rounds": rounds, "backends": {}}
    reference = None
    for backend in ("torch", *[b for b in BACKENDS if b != "torch"]):
        entry = {}
        for threads in sorted({1, cores}):
            set_cpu_threads(threads)
            model = LocalEmbedder(backend=backend)
            started = time.perf_counter()
            model.embed(["warm up"])
            loaded = (time.perf_counter() - started) * 1000
            entry[f"threads_{threads}"] = {"load_ms": round(loaded), **_timings(model, rounds)}
        vectors = model.embed(QUERIES + DOCUMENTS[:32])
        reference = vectors if reference is None else reference
        entry["cosine_to_torch_min"] = round(float((vectors * reference).sum(axis=1).min()), 4)
        entry["max_abs_diff_to_torch"] = float(np.abs(vectors - reference).max())
        result["backends"][backend] = entry
    single = {b: e["threads_1"]["query_p50_ms"] for b, e in result["backends"].items()}
    result["query_speedup_vs_torch_1_thread"] = {b: round(single["torch"] / v, 2) for b, v in single.items()}
    return result
