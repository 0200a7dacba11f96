"""`pymem bench extract`: what reading users' turns costs the database. Every turn of LoCoMo
(read from the benchmark data folder, never copied) goes through the worker's own statement,
``_pymem.extract``, one turn a call over one connection, as the service role: latency per
turn, and a digest of every candidate returned, so runs at two commits can show that they
read the same."""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from ..sql import query
from .common import BenchDatabase, bench_data_file, latency_summary
from .locomo import sessions

DATABASE = "pymem_bench_extract"


def turns(data_path: Path) -> list[tuple[str, str]]:
    """[(speaker, text)] of every LoCoMo turn, in order."""
    found = []
    for sample in json.loads(data_path.read_text(encoding="utf-8")):
        for _, _, session_turns in sessions(sample["conversation"]):
            found.extend((str(t.get("speaker") or "user"), str(t.get("text") or "")) for t in session_turns)
    return [(speaker, text) for speaker, text in found if text.strip()]


def run(*, data: str | None = None, data_dir: str | None = None, home: str | None = None, dsn: str | None = None,
        rounds: int = 3, limit: int | None = None) -> dict:
    data_path = Path(data) if data else bench_data_file("locomo", "locomo10.json", override=data_dir)
    texts = turns(data_path)[:limit]
    db = BenchDatabase(DATABASE, home=home, dsn=dsn).open(fresh=False)
    statement = query("extract")
    timings: list[list[float]] = []
    digest = hashlib.sha256()
    candidates = 0
    started = time.perf_counter()
    with psycopg.connect(db.service_dsn, autocommit=True) as conn:
        for speaker, text in texts[:50]:  # warm-up: the session's catalog caches and plans
            conn.execute(statement, {"messages": Jsonb([{"role": "user", "content": text}]), "user_id": speaker})
        for n in range(rounds):
            times = []
            for speaker, text in texts:
                t0 = time.perf_counter()
                found = conn.execute(statement, {"messages": Jsonb([{"role": "user", "content": text}]),
                                                 "user_id": speaker}).fetchone()[0]
                times.append((time.perf_counter() - t0) * 1000)
                if n == 0:
                    candidates += len(found)
                    digest.update(json.dumps(found, sort_keys=True).encode())
            timings.append(times)
    characters = sum(len(text) for _, text in texts)
    mean_ms = statistics.median(sum(r) / len(r) for r in timings)
    return {"benchmark": "extract", "turns": len(texts), "characters": characters,
            "per_turn": latency_summary(timings), "mean_ms_per_turn": round(mean_ms, 3),
            "ms_per_1000_characters": round(mean_ms * len(texts) / characters * 1000, 2),
            "candidates": candidates, "candidates_sha256": digest.hexdigest(),
            "seconds": round(time.perf_counter() - started, 1)}
