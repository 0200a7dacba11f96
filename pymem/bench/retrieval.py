"""`pymem bench retrieval`: latency and vector recall of ``pymem.retrieve`` per class of user.

The corpus (defaults from the issue; every size is a flag):
  small      100 tenants x 10 users x 100 memories   (exact-scan path)
  big_tenant 1 tenant x 100 users x 1,000 memories   (exact-scan path in a 100k partition)
  user_50k   1 tenant x 1 user x 50,000 memories     (HNSW path, iterative scan)

Vectors are synthetic, not from the embedder (embedding 250k texts would take ~20 min on 2
cores): a mixture of 512 Gaussians on the unit sphere in 384 d. A memory is its topic's
centre plus noise (cosine ~0.7 to the centre, ~0.5 to a topic sibling: many near-ties, a
hard case for HNSW). Each user writes about a few topics (all 512 for the 50k user, Zipf
weighted); a query is a fresh point of one of the user's topics. Text is pseudo-words: a
topic's words mixed with common ones, so BM25 has real work. Half the memories are
conversation turns (kind episode, sessions of 20), so the neighbour-context lookups run too.

Loading is a bulk path, documented: the owner COPYs rows straight into each tenant's
partition (COPY FROM refuses tables under RLS, so a tenant role cannot) with the search
indexes dropped, then rebuilds them with the same plan ``pymem admin reindex`` runs, then
VACUUM ANALYZE. The timed calls all go through ``pymem.retrieve`` as the tenant role.

Measured per class, over ``rounds`` rounds after a warm-up round (medians over rounds):
  db call   ``select ... from pymem.retrieve(...)`` with a precomputed query embedding, on a
            connection that has already SET ROLE (one round trip on the local socket)
  recall@10 the vector side alone (options turn every other component off) against the
            exact top-10 by cosine (a materialized scan, no index), counting rows of positive
            similarity (retrieve clamps similarity at 0 and cannot order the rest)
and the client end to end (pool, SET LOCAL ROLE, embedding the query with the local model)
without and with the query-embedding cache.

The corpus is kept in a database of its own (``pymem_bench_retrieval``) and reused when the
sizes match; ``--rebuild`` builds it again. ``--scale`` builds one tenant per total size
(half in users of 1,000 memories, half in one big user) and reports how p95 grows.

Conversation classes (the synthetic classes have no sessions, and sessions are what
made a conversational user slow): real LoCoMo turns, stored the way ``pymem bench locomo``
stores them (``remember(kind="episode")`` with their session, session date, speaker and the
packaged model's embedding), in a database of their own (``pymem_bench_conversations``):
  conversation_500   each of the ten conversations as one user of 500 turns: its first 500,
                     or all of it and then its start again (as below)
  conversation_5000  conversations 0 and 1, each repeated with its dates shifted (and its
                     session ids renamed) until the user holds 5,000 turns: the HNSW path
The queries are the conversations' own LoCoMo questions, embedded once when the corpus is
built (the timed call is the database's part); the timing and --profile are the classes'.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.types.json import Jsonb

from ..admin import reindex_tenant
from ..client import connect
from .common import BenchDatabase, bench_data_file, bench_query, latency_summary, percentile

DIMENSIONS = 384
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
VECTOR_ONLY = {"weight_vector": 1, "weight_lexical": 0, "weight_temporal": 0, "weight_graph": 0,
               "context_weights": [], "context_session_weight": 0}


def default_spec(*, small_tenants: int = 100, small_users: int = 10, small_memories: int = 100,
                 big_users: int = 100, big_memories: int = 1000, huge_memories: int = 50_000,
                 topics: int = 512, noise: float = 0.05, seed: int = 7) -> dict:
    """The issue's corpus: three classes of user."""
    groups = []
    if small_tenants and small_users and small_memories:
        groups.append({"class": "small", "tenants": small_tenants, "users": small_users,
                       "memories": small_memories, "topics_per_user": 8})
    if big_users and big_memories:
        groups.append({"class": "big_tenant", "tenants": 1, "users": big_users,
                       "memories": big_memories, "topics_per_user": 16})
    if huge_memories:
        groups.append({"class": "user_50k" if huge_memories == 50_000 else f"user_{huge_memories}",
                       "tenants": 1, "users": 1, "memories": huge_memories, "topics_per_user": topics})
    return {"groups": groups, "topics": topics, "noise": noise, "seed": seed, "version": 1}


def scale_spec(total: int, *, topics: int = 512, noise: float = 0.05, seed: int = 7) -> dict:
    """One tenant of ``total`` memories: half in users of 1,000, half in one big user."""
    half = total // 2
    return {"groups": [
        {"class": "users_1000", "tenants": 1, "users": max(1, half // 1000), "memories": 1000,
         "topics_per_user": 16, "tenant": f"scale-{total}"},
        {"class": "big_user", "tenants": 1, "users": 1, "memories": total - max(1, half // 1000) * 1000,
         "topics_per_user": topics, "tenant": f"scale-{total}"},
    ], "topics": topics, "noise": noise, "seed": seed, "version": 1}


class SyntheticCorpus:
    """Deterministic clustered vectors and pseudo-word text: the same spec gives the same
    users, rows and queries in every run (so a reused corpus gets the same queries)."""

    def __init__(self, spec: dict):
        self.spec = spec
        rng = np.random.default_rng(spec["seed"])
        centres = rng.standard_normal((spec["topics"], DIMENSIONS))
        self.centres = (centres / np.linalg.norm(centres, axis=1, keepdims=True)).astype(np.float32)
        syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "gu", "he", "ji", "bo",
                     "fa", "ri", "tu", "we", "yo"]
        words, seen = [], set()
        while len(words) < spec["topics"] * 24 + 400:
            word = "".join(rng.choice(syllables, rng.integers(2, 5)))
            if word not in seen:
                seen.add(word)
                words.append(word)
        self.topic_words = [words[t * 24:(t + 1) * 24] for t in range(spec["topics"])]
        self.common_words = words[spec["topics"] * 24:]

    @staticmethod
    def tenant_id(group: dict, index: int) -> str:
        if group.get("tenant"):
            return group["tenant"]
        return f"{group['class']}-{index}" if group["tenants"] > 1 else group["class"]

    @staticmethod
    def user_id(group: dict, index: int) -> str:
        return f"{group['class']}-u{index}"

    def _user_topics(self, group_no: int, tenant_no: int, user_no: int, group: dict):
        rng = np.random.default_rng([self.spec["seed"], group_no, tenant_no, user_no])
        count = min(group["topics_per_user"], self.spec["topics"])
        topics = rng.choice(self.spec["topics"], count, replace=False)
        weights = 1.0 / np.arange(1, count + 1)  # Zipf: a few topics dominate
        return topics, weights / weights.sum(), rng

    def _text(self, rng, topic: int, n_words: int, topic_share: float) -> str:
        n_topic = max(1, int(round(n_words * topic_share)))
        words = list(rng.choice(self.topic_words[topic], n_topic)) + list(
            rng.choice(self.common_words, n_words - n_topic))
        rng.shuffle(words)
        return " ".join(words)

    def user_rows(self, group_no: int, tenant_no: int, user_no: int, group: dict):
        """Rows for one user: (kind, content, embedding, importance, session_id, observed_at)."""
        topics, weights, rng = self._user_topics(group_no, tenant_no, user_no, group)
        n = group["memories"]
        chosen = rng.choice(topics, n, p=weights)
        vectors = self.centres[chosen] + self.spec["noise"] * rng.standard_normal((n, DIMENSIONS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        # Half conversation turns in sessions of 20 (one topic per session), half facts.
        is_turn = rng.random(n) < 0.5
        ages = np.sort(rng.random(n))[::-1] * 730  # days before EPOCH, oldest first
        importance = rng.uniform(0.2, 0.9, n).astype(np.float32)
        rows = []
        turn_no = 0
        for i in range(n):
            if is_turn[i]:
                session = f"s{turn_no // 20}"
                turn_no += 1
                kind = "episode"
            else:
                session, kind = None, ("fact", "preference", "event")[i % 3]
            observed = EPOCH - dt.timedelta(days=float(ages[i]))
            rows.append((kind, self._text(rng, int(chosen[i]), int(rng.integers(8, 25)), 0.4),
                         vectors[i], float(importance[i]), session, observed))
        return rows

    def queries(self, group_no: int, group: dict, count: int):
        """``count`` queries of this class: (tenant id, user id, text, vector)."""
        rng = np.random.default_rng([self.spec["seed"], 1000 + group_no])
        out = []
        for _ in range(count):
            tenant_no = int(rng.integers(group["tenants"]))
            user_no = int(rng.integers(group["users"]))
            topics, weights, _ = self._user_topics(group_no, tenant_no, user_no, group)
            topic = int(rng.choice(topics, p=weights))
            vector = self.centres[topic] + self.spec["noise"] * rng.standard_normal(DIMENSIONS).astype(np.float32)
            vector = (vector / np.linalg.norm(vector)).astype(np.float32)
            text = self._text(rng, topic, int(rng.integers(3, 6)), 0.8)
            out.append((self.tenant_id(group, tenant_no), self.user_id(group, user_no), text, vector))
        return out


def _identifier_query(name: str, **identifiers: str) -> sql.Composed:
    return sql.SQL(bench_query(name)).format(**{k: sql.Identifier(v) for k, v in identifiers.items()})


def build_corpus(db: BenchDatabase, spec: dict, *, progress=None) -> dict:
    """Create the tenants, bulk-load their rows, rebuild their indexes, vacuum. Returns stats."""
    say = progress or (lambda *message: None)
    corpus = SyntheticCorpus(spec)
    total_rows = sum(g["tenants"] * g["users"] * g["memories"] for g in spec["groups"])
    started = time.perf_counter()
    client = connect(db.service_dsn, embedder=None, max_size=2)
    loaded = 0
    tenants: dict[str, str] = {}
    try:
        with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
            register_vector(conn)
            for group_no, group in enumerate(spec["groups"]):
                for tenant_no in range(group["tenants"]):
                    tenant_id = corpus.tenant_id(group, tenant_no)
                    if tenant_id not in tenants:
                        client.create_tenant(tenant_id, exist_ok=True)
                        suffix = conn.execute(bench_query("tenant_storage"), {"tenant_id": tenant_id}).fetchone()[0]
                        tenants[tenant_id] = suffix
                        for kind in ("hnsw", "fts"):
                            conn.execute(_identifier_query("drop_index", index=f"memories_{suffix}_{kind}"))
                    partition = f"memories_{tenants[tenant_id]}"
                    with conn.cursor() as cur:
                        with cur.copy(_identifier_query("copy_memories", partition=partition)) as copy:
                            copy.set_types(["text", "text", "text", "text", "vector", "real", "text",
                                            "timestamptz", "timestamptz", "timestamptz"])
                            for user_no in range(group["users"]):
                                user_id = corpus.user_id(group, user_no)
                                for kind, content, vector, importance, session, observed in corpus.user_rows(
                                        group_no, tenant_no, user_no, group):
                                    copy.write_row((tenant_id, user_id, kind, content, vector, importance,
                                                    session, observed, observed, observed))
                                    loaded += 1
                    say("load", loaded, total_rows)
        load_s = time.perf_counter() - started
        t0 = time.perf_counter()
        for n, tenant_id in enumerate(tenants, 1):
            reindex_tenant(db.admin_dsn, tenant_id, maintenance_work_mem="2GB")
            say("index", n, len(tenants))
        index_s = time.perf_counter() - t0
        with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
            for suffix in tenants.values():
                conn.execute(_identifier_query("vacuum_partition", partition=f"memories_{suffix}"))
            build_s = time.perf_counter() - started
            conn.execute(bench_query("corpus_table"))
            conn.execute(bench_query("corpus_record"),
                         {"spec": Jsonb(spec), "memories": loaded, "build_seconds": build_s})
        return {"memories": loaded, "tenants": len(tenants), "build_s": round(build_s, 1),
                "load_s": round(load_s, 1), "index_s": round(index_s, 1), "reused": False}
    finally:
        client.close()


def open_corpus(name: str, spec: dict, *, home=None, dsn=None, rebuild=False, progress=None):
    """The benchmark database holding ``spec``: reused when it matches, else built afresh."""
    db = BenchDatabase(name, home=home, dsn=dsn)
    if not rebuild:
        db.open(fresh=False)
        with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
            conn.execute(bench_query("corpus_table"))
            row = conn.execute(bench_query("corpus_spec")).fetchone()
        if row and row[0] == spec:
            return db, {"memories": row[1], "build_s": round(row[2], 1), "built_at": row[3].isoformat(),
                        "reused": True}
        if dsn and row:
            raise RuntimeError("the database at --dsn holds a different benchmark corpus; give the benchmark "
                               "an empty database of its own")
        if dsn:  # an empty database: build in place
            return db, build_corpus(db, spec, progress=progress)
    elif dsn:
        raise RuntimeError("--rebuild needs the embedded server (it drops and creates the benchmark database)")
    db.open(fresh=True)
    return db, build_corpus(db, spec, progress=progress)


def _timed_calls(service_dsn: str, queries, *, rounds: int, roles: dict, options=None,
                 profiles: list | None = None, statements: int | None = None) -> list[list[float]]:
    """Run every query once per round (plus one warm-up round); times in ms per round. With
    ``profiles`` (a list), retrieve's stage timings of the measured rounds are appended to it."""
    result = []
    with psycopg.connect(service_dsn, autocommit=True) as conn:
        register_vector(conn)
        notices: list[dict] = []
        if statements:
            conn.execute(bench_query("retrieve_statements"), {"keep": str(statements)})
        if profiles is not None:
            conn.execute(bench_query("profile_retrieve"))
            prefix = "pymem.retrieve profile "
            conn.add_notice_handler(lambda diag: diag.message_primary.startswith(prefix) and notices.append(
                json.loads(diag.message_primary[len(prefix):])))
        current = None
        retrieve = bench_query("retrieve")
        for round_no in range(rounds + 1):
            times = []
            for tenant_id, user_id, text, vector in queries:
                if roles[tenant_id] != current:
                    conn.execute(_identifier_query("set_role", role=roles[tenant_id]))
                    current = roles[tenant_id]
                params = {"user_id": user_id, "query": text, "embedding": vector, "top_k": 10,
                          "options": Jsonb(options) if options else None}
                t0 = time.perf_counter()
                conn.execute(retrieve, params).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
            if round_no:  # round 0 warms caches
                result.append(times)
                if profiles is not None:
                    profiles.extend(notices)
            notices.clear()
    return result


def profile_summary(profiles: list[dict]) -> dict:
    """Per stage of pymem.retrieve: p50 and p95 in ms over the calls (a stage a call skipped
    counts as 0), and how many calls reused their prepared main statement."""
    stages = ("setup", "count", "lexical", "graph", "vector", "build", "prepare", "main")
    summary = {}
    for stage in stages:
        values = [p.get(stage, 0.0) for p in profiles]
        if any(values):
            summary[stage] = {"p50_ms": round(percentile(values, 0.50), 3), "p95_ms": round(percentile(values, 0.95), 3)}
    totals = [sum(p.get(stage, 0.0) for stage in stages) for p in profiles]
    summary["total_in_function"] = {"p50_ms": round(percentile(totals, 0.50), 3),
                                    "p95_ms": round(percentile(totals, 0.95), 3)}
    summary["calls"] = len(profiles)
    summary["reused_statement"] = sum(1 for p in profiles if p.get("reused_statement"))
    return summary


def _vector_recall(db: BenchDatabase, queries, roles: dict, options=None) -> float:
    """Of the exact top-10, how many retrieve's vector side returns. A result as near as the
    exact 10th counts too: repeated conversations hold the same turn many times (ties that
    any of the copies answers equally well)."""
    hits = total = 0
    with psycopg.connect(db.service_dsn, autocommit=True) as conn, \
            psycopg.connect(db.admin_dsn, autocommit=True) as owner:
        register_vector(conn)
        register_vector(owner)
        for tenant_id, user_id, _, vector in queries:
            exact = owner.execute(bench_query("exact_neighbours"), {
                "tenant_id": tenant_id, "user_id": user_id, "embedding": vector, "top_k": 10}).fetchall()
            conn.execute(_identifier_query("set_role", role=roles[tenant_id]))
            got = conn.execute(bench_query("retrieve_vector_scores"), {
                "user_id": user_id, "query": "", "embedding": vector, "top_k": 10,
                "options": Jsonb({**VECTOR_ONLY, **(options or {})})}).fetchall()
            if exact:
                ids, farthest = {r[0] for r in exact}, exact[-1][1]
                found = sum(1 for r in got if r[0] in ids or 1 - r[1] <= farthest + 1e-6)
                hits += min(found, len(exact))
            total += len(exact)
    return round(hits / total, 4) if total else float("nan")


def _roles(db: BenchDatabase, tenant_ids) -> dict:
    with psycopg.connect(db.admin_dsn) as conn:
        return {t: conn.execute(bench_query("tenant_storage"), {"tenant_id": t}).fetchone()[1] for t in set(tenant_ids)}


def measure_classes(db: BenchDatabase, spec: dict, *, queries: int, rounds: int, options=None,
                    exact_scan_max_rows: int = 4000, progress=None, profile: bool = False,
                    statements: int | None = None) -> dict:
    say = progress or (lambda message: None)
    corpus = SyntheticCorpus(spec)
    classes = {}
    for group_no, group in enumerate(spec["groups"]):
        batch = corpus.queries(group_no, group, queries)
        roles = _roles(db, [q[0] for q in batch])
        profiles: list | None = [] if profile else None
        rounds_ms = _timed_calls(db.service_dsn, batch, rounds=rounds, roles=roles, options=options, profiles=profiles,
                                 statements=statements)
        recall = _vector_recall(db, batch, roles, options)
        classes[group["class"]] = {
            "tenants": group["tenants"], "users": group["users"], "memories_per_user": group["memories"],
            "path": "exact" if group["memories"] <= exact_scan_max_rows else "hnsw",
            **latency_summary(rounds_ms), "recall@10": recall,
        }
        if profiles is not None:
            classes[group["class"]]["stages"] = profile_summary(profiles)
        say(f"{group['class']}: {classes[group['class']]}")
    return classes


def measure_client(db: BenchDatabase, spec: dict, *, queries: int, rounds: int) -> dict:
    """End to end through the Python client with the local model: cache cleared before each
    cold round (every query embedded), then the same queries again (every one a cache hit)."""
    from ..embed import default_embedder

    corpus = SyntheticCorpus(spec)
    batch = corpus.queries(0, spec["groups"][0], queries)
    embedder = default_embedder()
    embedder.embed(["warm up the model"])
    client = connect(db.service_dsn, embedder=embedder, max_size=2)
    cold, warm = [], []
    try:
        for tenant_id, user_id, text, _ in batch[:5]:  # warm the pool and role cache
            client.tenant(tenant_id).retrieve(user_id, text)
        hits, misses = client.query_cache.hits, client.query_cache.misses
        for _ in range(rounds):
            client.query_cache.clear()
            for label, sink in (("cold", cold), ("warm", warm)):
                times = []
                for tenant_id, user_id, text, _ in batch:
                    t0 = time.perf_counter()
                    client.tenant(tenant_id).retrieve(user_id, text)
                    times.append((time.perf_counter() - t0) * 1000)
                sink.append(times)
        return {"queries": len(batch), "class": spec["groups"][0]["class"],
                "without_cache": latency_summary(cold), "with_cache": latency_summary(warm),
                "cache_hits": client.query_cache.hits - hits, "cache_misses": client.query_cache.misses - misses}
    finally:
        client.close()


def conversation_spec(*, turns: int = 500, users: int = 10, big_turns: int = 5000, big_users: int = 2) -> dict:
    """The conversation classes: ``users`` LoCoMo conversations (all ten by default) of
    ``turns`` turns each, and ``big_users`` users of ``big_turns`` turns (conversations
    repeated, dates shifted)."""
    groups = []
    if turns and users:
        groups.append({"class": f"conversation_{turns}", "tenant": f"conversation-{turns}", "users": users,
                       "turns": turns})
    if big_turns and big_users:
        groups.append({"class": f"conversation_{big_turns}", "tenant": f"conversation-{big_turns}",
                       "users": big_users, "turns": big_turns})
    return {"groups": groups, "kind": "conversations", "version": 1}


def _conversation_turns(sample: dict) -> tuple[list[tuple[dict, str, str, dt.datetime]], dt.timedelta]:
    """One conversation's turns as (turn, content, session id, observed at), and how far a
    repeat of it moves its dates (its span plus a month)."""
    from .locomo import parse_session_date, sessions, turn_content

    turns = []
    for n, date, session_turns in sessions(sample["conversation"]):
        observed = parse_session_date(date) or EPOCH
        turns.extend((turn, turn_content(turn, date), f"S{n}", observed) for turn in session_turns)
    observed = [o for *_, o in turns]
    return turns, max(observed) - min(observed) + dt.timedelta(days=30)


def _repeated(export: dict, turns: int, shift: dt.timedelta) -> dict:
    """An export of one conversation, its memories repeated until there are ``turns``: copy k
    has new ids, its dates moved by k * shift and its session ids prefixed Rk."""
    import uuid

    memories = []
    copy = 0
    while len(memories) < turns:
        for m in export["memories"]:
            if copy:
                moved = {key: (dt.datetime.fromisoformat(m[key]) + copy * shift).isoformat()
                         for key in ("observed_at", "valid_from", "last_seen_at") if m.get(key)}
                m = {**m, **moved, "id": str(uuid.uuid4()), "session_id": f"R{copy}{m['session_id']}",
                     "created_at": (dt.datetime.fromisoformat(m["created_at"])
                                    + dt.timedelta(seconds=copy)).isoformat()}
            memories.append(m)
        copy += 1
    return {**export, "memories": memories[:turns], "memory_versions": [], "episodes": []}


def build_conversations(db: BenchDatabase, spec: dict, *, data: str | None = None, progress=None) -> dict:
    """Store the conversation classes and their questions with embeddings (table
    pymem_bench_questions). A conversation's own turns go in one at a time through the
    client's remember(); a longer user is that user exported, repeated (_repeated) and
    imported again. A user already complete is kept (an interrupted build resumes)."""
    from ..embed import default_embedder

    say = progress or (lambda *message: None)
    samples = json.loads((Path(data) if data else bench_data_file("locomo", "locomo10.json")).read_text("utf-8"))
    embedder = default_embedder()
    started = time.perf_counter()
    client = connect(db.service_dsn, embedder=None, max_size=2)
    stored = 0
    try:
        with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
            register_vector(conn)
            conn.execute(bench_query("questions_table"))
            for group in spec["groups"]:
                client.create_tenant(group["tenant"], exist_ok=True)
                tenant = client.tenant(group["tenant"])
                for sample in samples[:group["users"]]:
                    user_id = sample["sample_id"]
                    have = conn.execute(bench_query("user_memories"),
                                        {"tenant_id": group["tenant"], "user_id": user_id}).fetchone()[0]
                    if have != group["turns"]:
                        if have:
                            tenant.erase_user(user_id)
                        rows, shift = _conversation_turns(sample)
                        rows = rows[:group["turns"]]
                        vectors = embedder.embed([content for _, content, _, _ in rows])
                        for (turn, content, session_id, observed), vector in zip(rows, vectors):
                            tenant.remember(user_id, content, kind="episode", embedding=vector,
                                            session_id=session_id, observed_at=observed,
                                            source={"dia_id": turn["dia_id"]},
                                            metadata={"speaker": turn.get("speaker")})
                        if len(rows) < group["turns"]:
                            export = tenant.export_user(user_id)
                            tenant.erase_user(user_id)
                            tenant.import_user(_repeated(export, group["turns"], shift))
                    stored += group["turns"]
                    questions = [qa["question"] for qa in sample["qa"]]
                    with conn.cursor() as cur:
                        cur.executemany(bench_query("question_record"), [
                            {"class": group["class"], "tenant_id": group["tenant"], "user_id": user_id,
                             "n": n, "question": q, "embedding": v}
                            for n, (q, v) in enumerate(zip(questions, embedder.embed(questions)))])
                    say("load", stored, sum(g["users"] * g["turns"] for g in spec["groups"]))
            for group in spec["groups"]:
                suffix = conn.execute(bench_query("tenant_storage"), {"tenant_id": group["tenant"]}).fetchone()[0]
                conn.execute(_identifier_query("vacuum_partition", partition=f"memories_{suffix}"))
            build_s = time.perf_counter() - started
            conn.execute(bench_query("corpus_table"))
            conn.execute(bench_query("corpus_record"), {"spec": Jsonb(spec), "memories": stored, "build_seconds": build_s})
        return {"memories": stored, "build_s": round(build_s, 1), "reused": False}
    finally:
        client.close()


def conversation_queries(db: BenchDatabase, group: dict, count: int):
    """``count`` of the class's questions, spread evenly over its users' (tenant, user, text,
    vector), the same every run."""
    with psycopg.connect(db.admin_dsn) as conn:
        register_vector(conn)
        rows = conn.execute(bench_query("questions"), {"class": group["class"]}).fetchall()
    step = max(1, len(rows) // count)
    return [(r[0], r[1], r[2], r[3].to_numpy().astype(np.float32)) for r in rows[::step][:count]]


def measure_conversations(*, spec: dict, home=None, dsn=None, rebuild=False, data: str | None = None,
                          queries: int = 200, rounds: int = 3, options=None, progress=None, profile: bool = False,
                          statements: int | None = None) -> dict:
    """The conversation classes, built when missing, timed like the synthetic ones."""
    say = progress or (lambda message: None)
    db = BenchDatabase("pymem_bench_conversations", home=home, dsn=dsn)
    db.open(fresh=rebuild and not dsn)
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        conn.execute(bench_query("corpus_table"))
        row = conn.execute(bench_query("corpus_spec")).fetchone()
    if row and row[0] == spec:
        info = {"memories": row[1], "build_s": round(row[2], 1), "built_at": row[3].isoformat(), "reused": True}
    elif row:
        raise RuntimeError("pymem_bench_conversations holds other conversation classes: run with --rebuild")
    else:
        info = build_conversations(db, spec, data=data, progress=progress)
    classes = {}
    for group in spec["groups"]:
        batch = conversation_queries(db, group, queries)
        roles = _roles(db, [q[0] for q in batch])
        profiles: list | None = [] if profile else None
        rounds_ms = _timed_calls(db.service_dsn, batch, rounds=rounds, roles=roles, options=options,
                                 profiles=profiles, statements=statements)
        classes[group["class"]] = {
            "tenants": 1, "users": group["users"], "memories_per_user": group["turns"],
            "path": "exact" if group["turns"] <= 4000 else "hnsw", "sessions": True,
            **latency_summary(rounds_ms), "recall@10": _vector_recall(db, batch, roles, options),
        }
        if profiles is not None:
            classes[group["class"]]["stages"] = profile_summary(profiles)
        say(f"{group['class']}: {classes[group['class']]}")
    return {"corpus": info, "classes": classes}


# Issue 34's targets for the conversation classes (database side, p95).
CONVERSATION_P95_TARGET_MS = {500: 3.0, 5000: 6.0}


def run(*, spec: dict | None = None, home=None, dsn=None, rebuild=False, queries: int = 200,
        rounds: int = 3, client_queries: int = 100, measure_client_e2e: bool = True, options=None,
        progress=None, profile: bool = False, statements: int | None = None,
        conversations: dict | None = None) -> dict:
    spec = spec or default_spec()
    skipped = None
    if dsn and spec["groups"] and conversations and conversations["groups"]:
        # a --dsn database holds one corpus
        skipped = ("skipped: with --dsn, run the conversation classes on their own "
                   "(--small-tenants 0 --big-users 0 --huge-memories 0)")
        conversations = None
    if spec["groups"]:
        db, corpus_info = open_corpus("pymem_bench_retrieval", spec, home=home, dsn=dsn, rebuild=rebuild,
                                      progress=progress)
        classes = measure_classes(db, spec, queries=queries, rounds=rounds, options=options, progress=progress,
                                  profile=profile, statements=statements)
    else:
        corpus_info, classes = {}, {}
    conversation_classes = {}
    if conversations and conversations["groups"]:
        measured = measure_conversations(spec=conversations, home=home, dsn=dsn, rebuild=rebuild, queries=queries,
                                         rounds=rounds, options=options, progress=progress, profile=profile,
                                         statements=statements)
        corpus_info = {**corpus_info, "conversations": measured["corpus"]}
        conversation_classes = measured["classes"]
    elif skipped:
        corpus_info = {**corpus_info, "conversations": skipped}
    result = {
        "benchmark": "retrieval",
        "vectors": (f"synthetic: mixture of {spec['topics']} Gaussians on the unit sphere (384 d, noise "
                    f"{spec['noise']}), not the real embedder") if spec["groups"] else None,
        "text": "pseudo-words: topic words mixed with common words" if spec["groups"] else None,
        "conversations": ("LoCoMo turns with sessions and dates, the packaged model's embeddings; LoCoMo "
                          "questions as queries") if conversation_classes else None,
        "corpus": {**corpus_info, "spec": spec["groups"]},
        "options": options or {},
        # With --profile every call also times its stages (a few clock reads and a NOTICE):
        # the latencies then include that overhead.
        "profiled": profile,
        "retrieve_statements": statements or "default (64)",
        "classes": {**classes, **conversation_classes},
        "target": {"db_p95_ms": {f"up to {SMALL_USER_MEMORIES:,} memories a user": P95_TARGET_MS_SMALL,
                                 "more (the 50k user)": P95_TARGET_MS_LARGE,
                                 **{f"conversation_{n}": ms for n, ms in CONVERSATION_P95_TARGET_MS.items()}},
                   "recall@10": 0.98},
        "meets_target": all(c["p95_ms"] <= _p95_target_ms(c["memories_per_user"]) and c["recall@10"] >= 0.98
                            for c in classes.values())
                        and all(c["p95_ms"] <= CONVERSATION_P95_TARGET_MS.get(c["memories_per_user"], 6.0)
                                for c in conversation_classes.values()),
        "machine": {"cpus": os.cpu_count()},
    }
    if measure_client_e2e and spec["groups"]:
        result["client_end_to_end"] = measure_client(db, spec, queries=min(client_queries, queries), rounds=rounds)
    return result


# Issue 18's targets for the database side of a retrieve, by the user's size.
SMALL_USER_MEMORIES = 1000
P95_TARGET_MS_SMALL = 3.0
P95_TARGET_MS_LARGE = 8.0


def _p95_target_ms(memories_per_user: int) -> float:
    return P95_TARGET_MS_SMALL if memories_per_user <= SMALL_USER_MEMORIES else P95_TARGET_MS_LARGE


def run_scale(*, sizes=(10_000, 100_000, 1_000_000), home=None, dsn=None, rebuild=False, queries: int = 100,
              rounds: int = 3, options=None, progress=None) -> dict:
    if dsn:
        raise RuntimeError("--scale builds one database per size: it needs the embedded server")
    points = []
    for total in sizes:
        spec = scale_spec(total)
        db, corpus_info = open_corpus(f"pymem_bench_scale_{total}", spec, home=home, rebuild=rebuild,
                                      progress=progress)
        classes = measure_classes(db, spec, queries=queries, rounds=rounds, options=options, progress=progress)
        points.append({"total_memories": total, "corpus": corpus_info, "classes": classes})
    growth = {}
    if len(points) > 1:
        for cls in points[0]["classes"]:
            first = points[0]["classes"][cls]["p95_ms"]
            growth[cls] = {str(p["total_memories"]): round(p["classes"][cls]["p95_ms"] / first, 2) for p in points}
    return {"benchmark": "retrieval_scale",
            "layout": "one tenant per size: half the memories in users of 1,000, half in one big user",
            "vectors": "synthetic: mixture of 512 Gaussians on the unit sphere (384 d)",
            "points": points, "p95_relative_to_smallest": growth}
