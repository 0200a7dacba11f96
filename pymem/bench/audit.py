"""`pymem bench audit`: every supersession and cessation a real conversation caused, for reading.

A write-time supersession or cessation must be right at least 99 times in 100 on real text:
closing a true memory because of an unrelated sentence is worse than missing an update. No
benchmark knows which closings are right, so this one lists them all, with both texts and the
turns they came from, for a person to read and judge.

Through the public path only, in a database of the bench's own (created fresh), one tenant:

  LoCoMo (``--data``, LoCoMo's JSON format; default ``locomo/locomo10.json`` in the
          benchmark data folder)  Both speakers are people, and the extractor reads only user
          turns, so each speaker of each conversation is a user of their own (``caroline-conv-26``:
          the speaker's name first, as a user id usually is, so "Caroline is ..." reads as
          about the user): their own turns go in through ``ingest`` as role user, with the
          session as session id and the session's date as observed time. The other speaker's
          turns are not ingested for them (nothing is extracted from them either way), so
          every turn is read exactly once.
  StateBench (``--statebench dev``, or a path to a StateBench ``.jsonl``)  the timelines of
          the four tracks `pymem bench statebench` uses, one user each, exactly as that bench
          feeds them: initial facts through ``remember``, then the conversation turns through
          ``ingest`` (user or assistant as the timeline says).

Turns go in in rounds (LoCoMo: session k of every conversation; StateBench: turn k of every
timeline), and the extraction worker (`pymem worker`'s classes: the LLM extractor when
PYMEM_LLM_URL is set, else the rule extractor) drains the queue after each round, so each
turn is read after the ones before it, as in a live chat.

Then, read as the owner from the tenant's tables: every memory another one closed (its
content and the closer's, the turns both came from, the reason recorded with the closing
version), and every cessation stored (what it names as ceased, how many memories it closed).
``--json`` prints it all as one JSON line; without it, a listing to read.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from . import statebench
from .common import bench_data_file, bench_query
from .locomo import parse_session_date, sessions
from .through_worker import build_worker, drain, extractor_name, fresh_tenant, worker_embedder

DATABASE = "pymem_bench_audit"
TENANT = "bench-audit"


def _locomo_rounds(samples: list[dict]) -> list[list[tuple[str, dict]]]:
    """Round k: session k of every conversation, as (user id, ingest arguments) in turn order."""
    rounds: dict[int, list[tuple[str, dict]]] = {}
    for sample in samples:
        conversation = sample["conversation"]
        for n, date, turns in sessions(conversation):
            observed = parse_session_date(date)
            for turn in turns:
                text = (turn.get("text") or "").strip()
                if not text or not turn.get("speaker"):
                    continue
                user = f"{turn['speaker'].lower()}-{sample['sample_id']}"
                rounds.setdefault(n, []).append((user, {
                    "messages": [{"role": "user", "content": text}],
                    "session_id": f"{sample['sample_id']}/S{n}", "observed_at": observed}))
    return [rounds[n] for n in sorted(rounds)]


def _statebench_source(spec: str) -> tuple[str, str | None]:
    """``dev`` / ``train``, or a path to a StateBench .jsonl: (split, its folder)."""
    if spec in statebench.SPLITS:
        return spec, None
    path = Path(spec).expanduser().resolve()
    if not path.is_file() or path.suffix != ".jsonl" or path.stem not in statebench.SPLITS:
        raise FileNotFoundError(f"--statebench: {', '.join(statebench.SPLITS)}, or the path of one of "
                                f"StateBench's {'/'.join(s + '.jsonl' for s in statebench.SPLITS)}")
    return path.stem, str(path.parent)


def _closings(conn: psycopg.Connection) -> tuple[dict, list[dict], list[dict]]:
    counts = conn.execute(bench_query("audit_counts"), {"tenant_id": TENANT}).fetchone()
    closed = conn.execute(bench_query("audit_closed"), {"tenant_id": TENANT}).fetchall()
    ceased = conn.execute(bench_query("audit_cessations"), {"tenant_id": TENANT}).fetchall()
    events = []
    for row in closed:
        cessation = row["new_polarity"] == "cessation"
        events.append({
            "type": "cessation" if cessation else ("outdated" if row["arrived_late"] else "supersession"),
            "user": row["user_id"],
            "old": {"content": row["old_content"], "attribute": row["old_attribute"], "value": row["old_value"],
                    "source": row["old_source"]},
            "new": {"content": row["new_content"], "attribute": row["new_attribute"],
                    "value": (row["ceased_value"] or row["ceased_object"]) if cessation else row["new_value"],
                    "source": row["new_source"]},
            "reason": row["reason"],
        })
    cessations = [{"user": row["user_id"], "content": row["content"],
                   "ceased": row["ceased_value"] or row["ceased_object"], "family": row["family"],
                   "closed": row["closed"], "source": row["source"]} for row in ceased]
    return counts, events, cessations


def run(*, data: str | None = None, statebench_split: str | None = None, data_dir: str | None = None,
        conversations: int | None = None, home: str | None = None, dsn: str | None = None,
        progress=None, embedder="local") -> dict:
    """Ingest the corpus through the worker and list what it closed (see the module docstring)."""
    started = time.perf_counter()
    say = progress or (lambda message: None)
    facts: list[tuple[str, dict]] = []
    if statebench_split:
        split, folder = _statebench_source(statebench_split)
        timelines = statebench.load(split, folder, conversations)
        rounds = statebench.turn_rounds(timelines)
        facts = statebench.facts_to_remember(timelines)
        dataset = {"name": "StateBench v1.0 (MIT, Parslee LLC)", "split": split, "tracks": list(statebench.TRACKS),
                   "timelines": len(timelines)}
    else:
        path = Path(data) if data else bench_data_file("locomo", "locomo10.json", override=data_dir)
        samples = json.loads(path.read_text(encoding="utf-8"))
        if conversations is not None:
            samples = samples[:conversations]
        rounds = _locomo_rounds(samples)
        dataset = {"name": "LoCoMo (CC BY-NC 4.0)", "file": str(path), "conversations": len(samples),
                   "users": "each speaker of each conversation, their own turns as role user"}
    embedder = worker_embedder(embedder)
    db, client = fresh_tenant(DATABASE, TENANT, home=home, dsn=dsn, embedder=embedder)
    try:
        tenant = client.tenant(TENANT)
        worker, extractor = build_worker(client, db.service_dsn, embedder, name="bench-audit")
        for user, fact in facts:
            tenant.remember(user, **fact)
        totals: Counter = Counter()
        turns = 0
        for k, batch in enumerate(rounds):
            for user, turn in batch:
                tenant.ingest(user, **turn)
            turns += len(batch)
            drain(client, worker, TENANT, totals)
            say(f"round {k + 1}/{len(rounds)}: {turns} turns ingested and extracted")

        with psycopg.connect(db.admin_dsn, row_factory=dict_row) as conn:
            counts, events, cessations = _closings(conn)
        kinds = Counter(e["type"] for e in events)
        return {
            "benchmark": "audit",
            "dataset": dataset,
            "turns_ingested": turns,
            "facts_remembered": len(facts),
            "counts": {"memories_extracted": counts["memories"], "memories_closed": counts["closed"],
                       "supersessions": kinds["supersession"], "outdated_on_arrival": kinds["outdated"],
                       "cessations": counts["cessations"], "closed_by_cessations": kinds["cessation"],
                       "cessations_closing_several": sum(c["closed"] > 1 for c in cessations)},
            "extractor": extractor_name(extractor),
            "worker": dict(totals),
            "seconds": round(time.perf_counter() - started, 1),
            "events": events,
            "cessations": cessations,
        }
    finally:
        client.close()


def _quote(text: str | None, width: int = 160) -> str:
    text = " ".join((text or "").split())
    return f'"{text[:width]}{"..." if len(text) > width else ""}"' if text else "(no turn: remembered)"


def render(result: dict) -> str:
    """The listing to read: counts, then each closing with both texts, then each cessation."""
    lines = [f"pymem bench audit: {json.dumps(result['dataset'])}",
             f"  {json.dumps(result['counts'])}", ""]
    for i, event in enumerate(result["events"], 1):
        old, new = event["old"], event["new"]
        lines += [f"[{i}] {event['type']} ({event['user']}; {event['reason']})",
                  f"    old: {old['content']}   [{old['attribute']} = {old['value']}]",
                  f"         from {_quote(old['source'])}",
                  f"    new: {new['content']}   [{'ceases' if event['type'] == 'cessation' else new['attribute']} = {new['value']}]",
                  f"         from {_quote(new['source'])}", ""]
    lines.append(f"cessations stored: {len(result['cessations'])}")
    for cessation in result["cessations"]:
        lines += [f"  - {cessation['content']}   [ceases {cessation['ceased']}; closed {cessation['closed']}]",
                  f"      from {_quote(cessation['source'])}"]
    return "\n".join(lines)
