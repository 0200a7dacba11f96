"""`pymem bench updates`: do memories stay correct when users correct themselves in their own words?

Runs the corpus of :mod:`pymem.bench.updates_corpus` through the public path only: every
statement goes in through ``ingest``, the extraction worker (the same classes `pymem worker`
runs: the LLM extractor when PYMEM_LLM_URL is set, else the rule extractor) turns it into
memories, and the answers come out of ``retrieve`` and ``export_user``. Each scenario is a
user of its own in one tenant, in a database of the benchmark's own (created fresh).

  phase 1  ingest every first statement (observed two days ago), drain the queue, and
           snapshot each user's non-episode memories
  phase 2  ingest every second statement (observed a day ago), drain the queue again

Then, per scenario:
  update      retrieve(question, top_k=5). A result states the current value when it names a
              current term, the stale one when it names a stale term and no current term.
              current_first: the first result states current. stale_above_current: a stale
              result ranks above the first current one (or there is no current one).
  distractor  false_supersession: a memory active after phase 1 that names the protected
              value is no longer active. protected_retrieved: retrieve(question) still finds it.
  cessation   closed: every memory active after phase 1 that names the ceased value is no
              longer active, and no active memory written in phase 2 names it without a
              negation ("no longer", "stopped", "n't", ...). retrieved_negated: the first of
              retrieve(question)'s results naming the value carries such a negation.

A distractor or cessation whose first statement produced no memory naming the value passes
trivially; ``*_with_extracted_original`` counts those that were really tested.
Targets apply to the held-out halves, ``heldout`` (written before any tuning), ``heldout2``
(written blind after ``heldout`` was measured) and ``heldout3`` (families of its own, written
blind to the statement-reading rules before they were reworked; see
:mod:`pymem.bench.updates_corpus_heldout3`) and ``heldout4`` (families and wording of its own,
written blind to those rules and to the other halves' text; see
:mod:`pymem.bench.updates_corpus_heldout4`) and ``heldout5`` (families and wording of its own,
written blind on 2026-12-08 to the reading rules and the other halves' text: the unseen test
now; see :mod:`pymem.bench.updates_corpus_heldout5`); tune on ``tune``. ``heldout2`` and
``heldout3`` were read and acted on (2026-12-08: the holds head of :mod:`pymem.bench.heads` is
trained on them): they are spent, development data now; ``heldout4`` and ``heldout5`` are not.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter

from . import updates_corpus, updates_corpus_heldout3, updates_corpus_heldout4, updates_corpus_heldout5
from .through_worker import build_worker, drain, extractor_name, fresh_tenant, worker_embedder
from .updates_corpus import mentions, summary

SPLITS = (*updates_corpus.SPLITS, updates_corpus_heldout3.SPLIT, updates_corpus_heldout4.SPLIT,
          updates_corpus_heldout5.SPLIT)


def corpus() -> list[dict]:
    """The generated halves, then ``heldout3``, ``heldout4`` and ``heldout5`` (each written out in a
    module of its own)."""
    return (updates_corpus.corpus() + updates_corpus_heldout3.scenarios() + updates_corpus_heldout4.scenarios()
            + updates_corpus_heldout5.scenarios())


DATABASE = "pymem_bench_updates"
TENANT = "bench-updates"
TOP_K = 5
TARGETS = {"current_first_rate": 0.95, "false_supersession_rate": 0.01, "cessation_closed_rate": 0.95}
FAILURE_EXAMPLES = 20

# A memory written after a cessation may name the ceased value only to say it has ended.
NEGATION = re.compile(r"\b(?:no longer|not|never|stopped|quit|gave up|given up|anymore|any more|"
                      r"cancell?ed|sold|got rid|cut out|done with|used to|formerly|lapsed?)\b|n't\b")


def _memories(tenant, user_id: str) -> dict[str, dict]:
    """The user's memories other than raw turns, by id: kind, status and content."""
    return {m["id"]: {"kind": m["kind"], "status": m["status"], "content": m["content"]}
            for m in tenant.export_user(user_id)["memories"] if m["kind"] != "episode"}


def _snippet(text: str) -> str:
    return " ".join(text.split())[:100]


# -- judging one scenario --------------------------------------------------------------------

def _judge_update(tenant, s: dict) -> dict:
    results = tenant.retrieve(s["id"], s["question"], top_k=TOP_K)
    states = ["current" if mentions(m.content, s["current_terms"])
              else "stale" if mentions(m.content, s["stale_terms"]) else None for m in results]
    first_current = states.index("current") if "current" in states else len(states)
    outcome = {"current_first": bool(states) and states[0] == "current",
               "stale_above_current": "stale" in states[:first_current]}
    if not outcome["current_first"]:
        top = f"{results[0].kind}: {_snippet(results[0].content)}" if results else "nothing retrieved"
        outcome["failure"] = f"top result is {states[0] if states else 'absent'} ({top})"
    return outcome


def _judge_distractor(tenant, s: dict, before: dict, after: dict) -> dict:
    protected = [i for i, m in before.items() if m["status"] == "active" and mentions(m["content"], s["protected_terms"])]
    closed = [i for i in protected if after.get(i, {}).get("status") != "active"]
    results = tenant.retrieve(s["id"], s["question"], top_k=TOP_K)
    outcome = {"extracted": bool(protected), "false_supersession": bool(closed),
               "protected_retrieved": any(mentions(m.content, s["expected_terms"]) for m in results)}
    if closed:
        memory = after.get(closed[0]) or before[closed[0]]
        outcome["failure"] = f"{memory['status'] if closed[0] in after else 'deleted'}: {_snippet(memory['content'])}"
    return outcome


def _judge_cessation(tenant, s: dict, before: dict, after: dict) -> dict:
    ceased = [i for i, m in before.items() if m["status"] == "active" and mentions(m["content"], s["ceased_terms"])]
    still_active = [before[i]["content"] for i in ceased if after.get(i, {}).get("status") == "active"]
    restated = [m["content"] for i, m in after.items()
                if i not in before and m["status"] == "active" and mentions(m["content"], s["ceased_terms"])
                and not NEGATION.search(m["content"].lower())]
    results = tenant.retrieve(s["id"], s["question"], top_k=TOP_K)
    naming = [m.content for m in results if mentions(m.content, s["ceased_terms"])]
    outcome = {"extracted": bool(ceased), "closed": not still_active and not restated,
               "retrieved_negated": bool(naming) and bool(NEGATION.search(naming[0].lower()))}
    if still_active:
        outcome["failure"] = f"still active: {_snippet(still_active[0])}"
    elif restated:
        outcome["failure"] = f"restated as current: {_snippet(restated[0])}"
    return outcome


# -- scoring ---------------------------------------------------------------------------------

def _rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _split_report(judged: list[tuple[dict, dict]]) -> dict:
    of = {t: [(s, o) for s, o in judged if s["type"] == t] for t in ("update", "distractor", "cessation")}
    updates, distractors, cessations = of["update"], of["distractor"], of["cessation"]

    def by(pairs, group, flag):
        keys = sorted({s[group] for s, _ in pairs})
        return {k: _rate([o[flag] for s, o in pairs if s[group] == k]) for k in keys}

    return {
        "updates": len(updates), "distractors": len(distractors), "cessations": len(cessations),
        "current_first_rate": _rate([o["current_first"] for _, o in updates]),
        "stale_above_current_rate": _rate([o["stale_above_current"] for _, o in updates]),
        "false_supersession_rate": _rate([o["false_supersession"] for _, o in distractors]),
        "cessation_closed_rate": _rate([o["closed"] for _, o in cessations]),
        "protected_retrieved_rate": _rate([o["protected_retrieved"] for _, o in distractors]),
        "distractors_with_extracted_original": sum(o["extracted"] for _, o in distractors),
        "cessations_with_extracted_original": sum(o["extracted"] for _, o in cessations),
        "cessation_retrieved_negated_rate": _rate([o["retrieved_negated"] for _, o in cessations]),
        "current_first_by_family": by(updates, "family", "current_first"),
        "false_supersession_by_kind": by(distractors, "kind", "false_supersession"),
        "cessation_closed_by_family": by(cessations, "family", "closed"),
    }


def _examples(failed: list[tuple[dict, dict]]) -> list[dict]:
    """Up to FAILURE_EXAMPLES failures, taken in turn from each type so that all are shown."""
    queues = {t: [(s, o) for s, o in failed if s["type"] == t] for t in ("update", "distractor", "cessation")}
    picked = []
    while len(picked) < FAILURE_EXAMPLES and any(queues.values()):
        for queue in queues.values():
            if queue and len(picked) < FAILURE_EXAMPLES:
                s, o = queue.pop(0)
                picked.append({"id": s["id"], "what": o["failure"]})
    return picked


def _meets_targets(report: dict | None) -> bool | None:
    if not report or not (report["updates"] and report["distractors"] and report["cessations"]):
        return None  # that held-out half was not run (or not all of it)
    return (report["current_first_rate"] >= TARGETS["current_first_rate"]
            and report["false_supersession_rate"] <= TARGETS["false_supersession_rate"]
            and report["cessation_closed_rate"] >= TARGETS["cessation_closed_rate"])


def select(scenarios: list[dict], split: str | None = None, limit: int | None = None) -> list[dict]:
    """The scenarios of one half (or all), and at most ``limit`` of each type."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, not {split!r}")
    chosen = [s for s in scenarios if split is None or s["split"] == split]
    if limit is not None:
        seen: Counter = Counter()
        kept = []
        for s in chosen:
            seen[s["type"]] += 1
            if seen[s["type"]] <= limit:
                kept.append(s)
        chosen = kept
    return chosen


def run(*, home: str | None = None, dsn: str | None = None, split: str | None = None,
        limit: int | None = None, progress=None, embedder="local", settings: dict | None = None) -> dict:
    """Run the benchmark; returns one JSON-able dict (see the module docstring). ``settings``
    are the tenant's (defaults otherwise), e.g. {"update_cue_similarity": 0.5}."""
    started = time.perf_counter()
    say = progress or (lambda message: None)
    scenarios = select(corpus(), split, limit)
    embedder = worker_embedder(embedder)
    db, client = fresh_tenant(DATABASE, TENANT, home=home, dsn=dsn, embedder=embedder, settings=settings)
    try:
        tenant = client.tenant(TENANT)
        worker, extractor = build_worker(client, db.service_dsn, embedder, name="bench-updates")
        now = dt.datetime.now(dt.timezone.utc)

        def phase(n: int, statement: str, days_ago: int) -> dict:
            """Ingest every scenario's first (n=1) or second statement, observed days_ago, and extract."""
            say(f"phase {n}: ingesting {len(scenarios)} {('first', 'second')[n - 1]} statements")
            for s in scenarios:
                tenant.ingest(s["id"], s[statement], observed_at=now - dt.timedelta(days=days_ago))
            extracted: Counter = Counter()
            drain(client, worker, TENANT, extracted)
            say(f"phase {n}: extracted ({dict(extracted)})")
            return dict(extracted)

        phase1 = phase(1, "original", days_ago=2)
        before = {s["id"]: _memories(tenant, s["id"]) for s in scenarios}
        phase2 = phase(2, "second", days_ago=1)

        judged: list[tuple[dict, dict]] = []
        for s in scenarios:
            after = _memories(tenant, s["id"]) if s["type"] != "update" else {}
            if s["type"] == "update":
                outcome = _judge_update(tenant, s)
            elif s["type"] == "distractor":
                outcome = _judge_distractor(tenant, s, before[s["id"]], after)
            else:
                outcome = _judge_cessation(tenant, s, before[s["id"]], after)
            judged.append((s, outcome))
        say(f"judged {len(judged)} scenarios")

        splits = {name: _split_report([(s, o) for s, o in judged if s["split"] == name])
                  for name in SPLITS if any(s["split"] == name for s in scenarios)}
        failures = {name: _examples([(s, o) for s, o in judged if s["split"] == name and "failure" in o])
                    for name in splits}
        return {
            "benchmark": "updates",
            "corpus": {**{k: v for k, v in summary(scenarios).items() if k in ("total", "by_type")},
                       "by_split": {name: dict(Counter(s["type"] for s in scenarios if s["split"] == name))
                                    for name in SPLITS}},
            "splits": splits,
            "targets": TARGETS,
            "meets_targets_heldout": _meets_targets(splits.get("heldout")),
            "meets_targets_heldout2": _meets_targets(splits.get("heldout2")),
            "meets_targets_heldout3": _meets_targets(splits.get("heldout3")),
            "meets_targets_heldout4": _meets_targets(splits.get("heldout4")),
            "meets_targets_heldout5": _meets_targets(splits.get("heldout5")),
            "seconds": round(time.perf_counter() - started, 1),
            "extractor": extractor_name(extractor),
            "embedder": type(embedder).__name__,
            "worker": {"phase1": phase1, "phase2": phase2},
            "failures": failures,
        }
    finally:
        client.close()
