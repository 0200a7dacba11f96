"""`pymem bench statebench`: does the current value come first on timelines written by others?

StateBench v1.0 (MIT, Parslee LLC) gives timelines: initial state (persistent facts), then
events (conversation turns with timestamps, the benchmark's own state writes, and one query
with ground truth). This bench uses four of its tracks, the ones about a value that changes:
``supersession``, ``supersession_detection``, ``environmental_freshness`` and
``repair_propagation``. The data is read at run time from ``--data`` (default
``statebench`` in the benchmark data folder, ``$PYMEM_BENCH_DATA``, else ``../shared/bench``
beside the repository checkout) and never copied into the repository.

Through the public path only, in a database of the bench's own (created fresh), one tenant,
one user per timeline:

  facts   each initial persistent fact's value goes in with ``remember`` (kind fact, observed
          at the fact's timestamp) before any turn
  turns   the timeline's conversation turns go in through ``ingest`` (role user or assistant,
          observed at the turn's timestamp, the timeline id as session), in rounds: turn k of
          every timeline, then the extraction worker (`pymem worker`'s classes: the LLM
          extractor when PYMEM_LLM_URL is set, else the rule extractor) drains the queue,
          then turn k+1 ... so each turn is read after the ones before it, as in a live chat.
          The benchmark's ``state_write`` / ``supersession`` events are its answer key, not
          conversation: they are not ingested.
  query   ``retrieve(prompt, top_k=10)``; a result *names* a string when its content contains
          it (case-insensitive substring).

Per query: ``current_in_top10`` (a result names a ``must_mention`` string), ``stale_in_top10``
(a result names a ``must_not_mention`` string), ``current_first`` (the first result naming a
``must_mention`` string ranks above the first naming a ``must_not_mention`` string, or no
result names one; a result naming both is not above itself). A query is *answerable* when one
of its ``must_mention`` strings occurs in its own timeline's turns or initial facts (some are
answer words no turn contains, e.g. "over budget"). Rates are reported per track and overall,
over all queries and over the answerable ones. ``answerable_only_beside_stale`` counts the
answerable queries whose every turn or fact naming the current value also names the stale one
("The value was: X. The ACTUAL value is: Y"): for those only an extracted memory that states
the current value alone can come first. Tune on ``train``; report ``dev``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from pathlib import Path

from .common import DATA_SETTING, bench_data_dir
from .through_worker import build_worker, drain, extractor_name, fresh_tenant, worker_embedder

DATABASE = "pymem_bench_statebench"
TENANT = "bench-statebench"
TRACKS = ("supersession", "supersession_detection", "environmental_freshness", "repair_propagation")
SPLITS = ("train", "dev")
TOP_K = 10
TARGET_CURRENT_FIRST_ANSWERABLE = 0.95
FAILURE_EXAMPLES = 12


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """``override``, else ``statebench`` in the benchmark data folder (``$PYMEM_BENCH_DATA``)."""
    if override:
        return Path(override).expanduser().resolve()
    return bench_data_dir() / "statebench"


def load(split: str, data: str | os.PathLike | None = None, limit: int | None = None) -> list[dict]:
    """The split's timelines of :data:`TRACKS`, in file order within a track and taken from
    the tracks in turn (so a small ``limit`` still covers every track)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    path = data_dir(data) / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"StateBench {split} not found at {path} (use --data or {DATA_SETTING})")
    by_track: dict[str, list[dict]] = {track: [] for track in TRACKS}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if record.get("track") in by_track:
                    by_track[record["track"]].append(record)
    ordered = [t for rank in range(max(map(len, by_track.values()), default=0))
               for t in (by_track[track][rank] for track in TRACKS if rank < len(by_track[track]))]
    return ordered[:limit] if limit is not None else ordered


def _timestamp(text: str) -> dt.datetime:
    """StateBench's timestamps carry no zone: read them as UTC."""
    stamp = dt.datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def _turns(timeline: dict) -> list[dict]:
    return [e for e in timeline["events"] if e["type"] == "conversation_turn" and (e.get("text") or "").strip()]


def _facts(timeline: dict) -> list[dict]:
    return [f for f in timeline["initial_state"].get("persistent_facts") or [] if str(f.get("value") or "").strip()]


def _queries(timeline: dict) -> list[dict]:
    return [e for e in timeline["events"] if e["type"] == "query"]


def facts_to_remember(timelines: list[dict]) -> list[tuple[str, dict]]:
    """Each timeline's initial persistent facts as (user id, remember arguments): kind fact,
    observed at the fact's timestamp, the timeline id as user and session."""
    return [(t["id"], {"content": str(f["value"]), "kind": "fact", "session_id": t["id"],
                       "observed_at": _timestamp(f.get("ts") or t["initial_state"]["environment"]["now"]),
                       "source": {"statebench_fact": f.get("id")}})
            for t in timelines for f in _facts(t)]


def turn_rounds(timelines: list[dict]) -> list[list[tuple[str, dict]]]:
    """Round k: turn k of every timeline, as (user id, ingest arguments): its role, its
    timestamp, the timeline id as user and session."""
    turns = {timeline["id"]: _turns(timeline) for timeline in timelines}
    rounds = []
    for k in range(max((len(t) for t in turns.values()), default=0)):
        batch = []
        for timeline in timelines:
            if k < len(turns[timeline["id"]]):
                turn = turns[timeline["id"]][k]
                role = "assistant" if turn.get("speaker") == "assistant" else "user"
                batch.append((timeline["id"], {"messages": [{"role": role, "content": turn["text"]}],
                                               "session_id": timeline["id"], "observed_at": _timestamp(turn["ts"])}))
        rounds.append(batch)
    return rounds


def _names(text: str, strings: list[str]) -> bool:
    text = text.lower()
    return any(s.lower() in text for s in strings if s)


def answerable(timeline: dict, query: dict) -> bool:
    """One of the query's must_mention strings occurs in the timeline's turns or initial facts."""
    said = [t["text"] for t in _turns(timeline)] + [str(f["value"]) for f in _facts(timeline)]
    return any(_names(text, query["ground_truth"].get("must_mention") or []) for text in said)


def only_beside_stale(timeline: dict, query: dict) -> bool:
    """Every turn or initial fact that names a must_mention string also names a must_not_mention
    one (a correction quoting the value it corrects): the raw turns alone cannot put the
    current value first, only a memory extracted from them can."""
    truth = query["ground_truth"]
    said = [t["text"] for t in _turns(timeline)] + [str(f["value"]) for f in _facts(timeline)]
    naming = [text for text in said if _names(text, truth.get("must_mention") or [])]
    return bool(naming) and all(_names(text, truth.get("must_not_mention") or []) for text in naming)


def judge(contents: list[str], must_mention: list[str], must_not_mention: list[str]) -> dict:
    """The three per-query flags over ranked result contents (best first)."""
    current = [i for i, c in enumerate(contents) if _names(c, must_mention)]
    stale = [i for i, c in enumerate(contents) if _names(c, must_not_mention)]
    return {"current_in_top10": bool(current), "stale_in_top10": bool(stale),
            "current_first": bool(current) and (not stale or current[0] < stale[0])}


def _rates(outcomes: list[dict]) -> dict:
    n = len(outcomes)

    def rate(flag):
        return round(sum(o[flag] for o in outcomes) / n, 4) if n else None

    return {"queries": n, "current_first": rate("current_first"), "stale_in_top10": rate("stale_in_top10"),
            "current_in_top10": rate("current_in_top10")}


def _report(outcomes: list[dict]) -> dict:
    return {"all": _rates(outcomes), "answerable": _rates([o for o in outcomes if o["answerable"]]),
            "answerable_queries": sum(o["answerable"] for o in outcomes),
            "answerable_only_beside_stale": sum(o["only_beside_stale"] for o in outcomes)}


def _snippet(text: str) -> str:
    return " ".join(text.split())[:120]


def run(*, split: str = "dev", data: str | None = None, home: str | None = None, dsn: str | None = None,
        limit: int | None = None, progress=None, embedder="local", options: dict | None = None) -> dict:
    """Run the benchmark; returns one JSON-able dict (see the module docstring)."""
    started = time.perf_counter()
    say = progress or (lambda message: None)
    timelines = load(split, data, limit)
    embedder = worker_embedder(embedder)
    db, client = fresh_tenant(DATABASE, TENANT, home=home, dsn=dsn, embedder=embedder)
    try:
        tenant = client.tenant(TENANT)
        worker, extractor = build_worker(client, db.service_dsn, embedder, name="bench-statebench")

        facts = facts_to_remember(timelines)
        for user, fact in facts:
            tenant.remember(user, **fact)
        say(f"{split}: {len(timelines)} timelines, {len(facts)} initial facts remembered")

        totals: Counter = Counter()
        rounds = turn_rounds(timelines)
        for k, batch in enumerate(rounds):
            for user, turn in batch:
                tenant.ingest(user, **turn)
            drain(client, worker, TENANT, totals)
            say(f"round {k + 1}/{len(rounds)}: ingested and extracted ({dict(totals)})")

        outcomes = []
        for timeline in timelines:
            for query in _queries(timeline):
                truth = query["ground_truth"]
                results = tenant.retrieve(timeline["id"], query["prompt"], top_k=TOP_K, options=options)
                outcome = {"track": timeline["track"], "answerable": answerable(timeline, query),
                           "only_beside_stale": only_beside_stale(timeline, query),
                           **judge([m.content for m in results], truth.get("must_mention") or [],
                                   truth.get("must_not_mention") or [])}
                if outcome["answerable"] and not outcome["current_first"]:
                    top = f"{results[0].kind}: {_snippet(results[0].content)}" if results else "nothing retrieved"
                    outcome["failure"] = {"id": timeline["id"], "track": timeline["track"], "prompt": query["prompt"],
                                          "must_mention": truth.get("must_mention"),
                                          "must_not_mention": truth.get("must_not_mention"), "top": top}
                outcomes.append(outcome)
        say(f"judged {len(outcomes)} queries")

        answerable_n = sum(o["answerable"] for o in outcomes)
        overall = _report(outcomes)
        failures = [o["failure"] for o in outcomes if "failure" in o]
        return {
            "benchmark": "statebench",
            "dataset": "StateBench v1.0 (MIT, Parslee LLC)",
            "options": options or {},
            "split": split,
            "tracks": list(TRACKS),
            "timelines": len(timelines),
            "queries": len(outcomes),
            "answerable": answerable_n,
            "facts_remembered": len(facts),
            "turns_ingested": sum(len(batch) for batch in rounds),
            "top_k": TOP_K,
            "overall": overall,
            "by_track": {track: _report([o for o in outcomes if o["track"] == track])
                         for track in TRACKS if any(o["track"] == track for o in outcomes)},
            "target": {"current_first_answerable": TARGET_CURRENT_FIRST_ANSWERABLE},
            "meets_target": (overall["answerable"]["current_first"] >= TARGET_CURRENT_FIRST_ANSWERABLE
                             if answerable_n else None),
            "seconds": round(time.perf_counter() - started, 1),
            "extractor": extractor_name(extractor),
            "embedder": type(embedder).__name__,
            "worker": dict(totals),
            "failures": {"answerable_not_current_first": len(failures), "examples": failures[:FAILURE_EXAMPLES]},
        }
    finally:
        client.close()
