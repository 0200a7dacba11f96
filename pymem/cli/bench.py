"""Benchmarks: each prints one JSON line; with --save it is also written to a file under
docs/benchmarks/results/ of the repository checkout (named by benchmark and UTC time), with when
and at which commit it ran, its paths relative to the repository (or none)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import subprocess
import sys
from pathlib import Path

import click
import psycopg

from .. import client as client_mod
from ..server import ServerError
from .base import Context, Progress, fail, json_object, main, pass_ctx


RESULTS_DIR = "docs/benchmarks/results"


def _deprecated(old: str, new: str) -> None:
    click.echo(f"pymem bench: {old} is deprecated; use {new}", err=True)


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() + ("-dirty" if dirty else "")) if out.returncode == 0 else None


def _number(text: str) -> int | float:
    """A number given on the command line: whole numbers stay integers (candidate_pool=40)."""
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def report(fn=None, *, text=None):
    """Adds --json (the default output anyway) and --save [--results-dir] to a benchmark
    command whose function returns the result: prints it as one JSON line, and saves it.
    ``@report(text=render)``: without --json, prints ``render(result)`` instead, for reading."""
    if fn is None:
        return functools.partial(report, text=text)

    @click.option("--json", "as_json", is_flag=True,
                  help="Print only the JSON line" + (" (else a listing to read)." if text else " (the default output too)."))
    @click.option("--save", is_flag=True,
                  help=f"Also write the JSON to the checkout's {RESULTS_DIR}/ (or --results-dir).")
    @click.option("--results-dir", type=click.Path(file_okay=False),
                  help=f"Where --save writes (default: {RESULTS_DIR}/ of the repository checkout).")
    @functools.wraps(fn)
    def command(*args, as_json: bool, save: bool, results_dir: str | None, **kwargs):
        from ..bench.common import bench_data_dir, portable_paths, repository_root

        root = repository_root()
        if save and results_dir is None and root is None:
            fail(f"--save writes to {RESULTS_DIR}/ of a repository checkout; outside one, pass --results-dir", code=2)
        result = fn(*args, **kwargs)
        click.echo(text(result) if text and not as_json else json.dumps(result, default=str))
        if save:
            now = dt.datetime.now(dt.timezone.utc)
            try:
                data = bench_data_dir()
            except FileNotFoundError:
                data = None
            # Paths of this machine mean nothing elsewhere: relative to the repository, to
            # $PYMEM_BENCH_DATA, or none.
            record = portable_paths({**result, "run": {"at": now.isoformat(timespec="seconds"), "commit": _commit(),
                                                       "argv": ["pymem", *sys.argv[1:]]}}, root=root, data=data)
            folder = Path(results_dir) if results_dir else root / RESULTS_DIR
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{result.get('benchmark', 'bench')}-{now:%Y%m%dT%H%M%SZ}.json"
            path.write_text(json.dumps(record, default=str, indent=1) + "\n", encoding="utf-8")
            click.echo(f"pymem bench: saved {path}", err=True)
    return command


def data_dir_option(fn):
    """--data-dir: the benchmark data folder (--shared, its old name, still works, unlisted)."""
    @click.option("--data-dir", type=click.Path(file_okay=False),
                  help="The benchmark data folder (locomo/, statebench/, k6/; default: $PYMEM_BENCH_DATA, "
                       "else ../shared/bench beside the repository checkout).")
    @click.option("--shared", "old_data_dir", type=click.Path(file_okay=False), hidden=True)
    @functools.wraps(fn)
    def command(*args, data_dir: str | None, old_data_dir: str | None, **kwargs):
        if old_data_dir:
            _deprecated("--shared", "--data-dir")
        return fn(*args, data_dir=data_dir or old_data_dir, **kwargs)
    return command


@main.group()
def bench() -> None:
    """Benchmarks: each prints one JSON line (--save also writes it under docs/benchmarks/results/)."""


@bench.command("ingest")
@click.option("--rate", type=click.FloatRange(0.1), default=50.0, show_default=True, help="Turns per second.")
@click.option("--duration", type=click.FloatRange(1), default=60.0, show_default=True, help="Seconds of load.")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option("--users", type=click.IntRange(1), default=20, show_default=True)
@click.option("--worker-nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="The workers' `--nice` (0: the same CPU priority as the ingest calls).")
@click.option("--worker-batch-window", type=click.FloatRange(0.01, 10), default=0.2, show_default=True,
              help="The workers' `--batch-window` (seconds).")
@report
@pass_ctx
def bench_ingest(ctx: Context, rate: float, duration: float, workers: int, users: int, worker_nice: int,
                 worker_batch_window: float) -> dict:
    """Sustained ingest through real worker processes: call latency, lag, lost, duplicated, CPU."""
    from ..bench.ingest import run

    result = run(rate=rate, duration=duration, workers=workers, users=users, home=ctx.home, dsn=ctx.dsn,
                 worker_args=("--nice", str(worker_nice), "--batch-window", str(worker_batch_window)))
    return {**result, "worker_nice": worker_nice, "worker_batch_window": worker_batch_window}


@bench.command("retrieval")
@click.option("--small-tenants", type=click.IntRange(0), default=100, show_default=True)
@click.option("--small-users", type=click.IntRange(1), default=10, show_default=True, help="Users per small tenant.")
@click.option("--small-memories", type=click.IntRange(1), default=100, show_default=True, help="Memories per small user.")
@click.option("--big-users", type=click.IntRange(0), default=100, show_default=True, help="Users of the big tenant.")
@click.option("--big-memories", type=click.IntRange(1), default=1000, show_default=True, help="Memories per big-tenant user.")
@click.option("--huge-memories", type=click.IntRange(0), default=50_000, show_default=True,
              help="Memories of the one huge user (0: none).")
@click.option("--conversation-turns", type=click.IntRange(0), default=500, show_default=True,
              help="Turns of each LoCoMo user of the conversation class (0: none).")
@click.option("--conversation-users", type=click.IntRange(0, 10), default=10, show_default=True,
              help="LoCoMo conversations in the conversation class, one user each.")
@click.option("--conversation-big-turns", type=click.IntRange(0), default=5000, show_default=True,
              help="Turns of each user of the big conversation class (repeated conversations; 0: none).")
@click.option("--conversation-big-users", type=click.IntRange(0, 10), default=2, show_default=True)
@click.option("--queries", type=click.IntRange(1), default=200, show_default=True, help="Queries per class.")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="Timed rounds (after one warm-up); percentiles are medians over rounds.")
@click.option("--client-queries", type=click.IntRange(1), default=100, show_default=True)
@click.option("--no-client", is_flag=True, help="Skip the end-to-end client timing (loads the model).")
@click.option("--ef-search", type=click.IntRange(1, 1000), help="Per-call hnsw_ef_search override.")
@click.option("--rebuild", is_flag=True, help="Build the corpus again even when the stored one matches.")
@click.option("--scale", is_flag=True, help="Build 10k / 100k / 1M-memory tenants and report how p95 grows.")
@click.option("--scale-sizes", default="10000,100000,1000000", show_default=True)
@click.option("--options", "options_json", metavar="JSON",
              help='Retrieval settings for every call (p_options), e.g. \'{"weight_graph": 0}\'.')
@click.option("--statements", type=click.IntRange(1, 1024),
              help="Prepared main statements the timing session keeps (pymem.retrieve_statements; default 64).")
@click.option("--profile", is_flag=True,
              help="Also time each stage inside pymem.retrieve (setup, count, lexical, graph, vector, build, prepare, main).")
@report
@pass_ctx
def bench_retrieval(ctx: Context, small_tenants: int, small_users: int, small_memories: int, big_users: int,
                    big_memories: int, huge_memories: int, conversation_turns: int, conversation_users: int,
                    conversation_big_turns: int, conversation_big_users: int, queries: int, rounds: int,
                    client_queries: int, no_client: bool, ef_search: int | None, rebuild: bool, scale: bool,
                    scale_sizes: str,
                    options_json: str | None, statements: int | None, profile: bool) -> dict:
    """Latency (p50/p95/p99) and vector recall@10 of pymem.retrieve per class of user."""
    from ..bench import retrieval

    options = {**(json_object("--options", options_json) or {}),
               **({"hnsw_ef_search": ef_search} if ef_search else {})} or None
    progress = Progress({"load": "loading the corpus", "index": "building its indexes"}, prefix="pymem bench")
    try:
        if scale:
            sizes = [int(size) for size in scale_sizes.split(",") if size.strip()]
            result = retrieval.run_scale(sizes=sizes, home=ctx.home, dsn=ctx.dsn, rebuild=rebuild, queries=queries,
                                         rounds=rounds, options=options, progress=progress)
        else:
            spec = retrieval.default_spec(small_tenants=small_tenants, small_users=small_users,
                                          small_memories=small_memories, big_users=big_users,
                                          big_memories=big_memories, huge_memories=huge_memories)
            result = retrieval.run(spec=spec, home=ctx.home, dsn=ctx.dsn, rebuild=rebuild, queries=queries,
                                   rounds=rounds, client_queries=client_queries, measure_client_e2e=not no_client,
                                   options=options, progress=progress, profile=profile, statements=statements,
                                   conversations=retrieval.conversation_spec(
                                       turns=conversation_turns, users=conversation_users,
                                       big_turns=conversation_big_turns,
                                       big_users=conversation_big_users))
    except (ServerError, client_mod.PymemError, psycopg.Error, RuntimeError, FileNotFoundError) as exc:
        fail(str(exc))
    finally:
        progress.__exit__(None, None, None)  # ends the bars before the report
    return result


@bench.command("embed")
@click.option("--rounds", type=click.IntRange(10), default=200, show_default=True, help="Single queries per setting.")
@report
def bench_embed(rounds: int) -> dict:
    """The local model through PyTorch, ONNX and ONNX int8: load, query and batch latency, one run."""
    from ..bench.embed import run

    return run(rounds=rounds)


@bench.command("extract")
@click.option("--data", type=click.Path(exists=True, dir_okay=False),
              help="locomo10.json (default: locomo/locomo10.json in the benchmark data folder).")
@click.option("--rounds", type=click.IntRange(1, 20), default=3, show_default=True, help="Passes over the turns.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N turns.")
@data_dir_option
@report
@pass_ctx
def bench_extract(ctx: Context, data: str | None, data_dir: str | None, rounds: int, limit: int | None) -> dict:
    """The offline extractor in the database over every LoCoMo turn: ms per turn, and a digest of what it read."""
    from ..bench import extract

    try:
        return extract.run(data=data, data_dir=data_dir, home=ctx.home, dsn=ctx.dsn, rounds=rounds, limit=limit)
    except (ServerError, psycopg.Error, FileNotFoundError) as exc:
        fail(str(exc))


@bench.command("heads")
@click.option("--data", type=click.Path(file_okay=False),
              help="The StateBench folder (train.jsonl); default as for `bench statebench`.")
@data_dir_option
@click.option("--c", "c", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Inverse regularisation strength of the logistic fit.")
@click.option("--threshold", type=float, default=1.0, show_default=True,
              help="Score above which the head reads a change without a cue phrase.")
@click.option("--veto", type=float, help="Score below which the head overrules a change cue phrase (default: never).")
@click.option("--write-sql", is_flag=True, help="Rewrite pymem/sql/idempotent/018_heads.sql from this fit.")
@report
def bench_heads(data: str | None, data_dir: str | None, c: float, threshold: float, veto: float | None,
                write_sql: bool) -> dict:
    """Train the learned reading head (change) on StateBench train and bench updates' tune split:
    cross-validated precision and recall, and how many LoCoMo turns it reads as changes."""
    from ..bench import heads

    try:
        return heads.run(data=data, data_dir=data_dir, c=c, threshold=threshold, veto=veto, write_sql=write_sql,
                         progress=Progress(prefix="pymem bench"))
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))


@bench.command("locomo")
@click.option("--data", type=click.Path(exists=True, dir_okay=False),
              help="locomo10.json (default: locomo/locomo10.json in the benchmark data folder, which holds "
                   "recall_eval.py too).")
@click.option("--out", "out_dir", default="bench-out/locomo", show_default=True, help="Where run files go.")
@click.option("--top-k", type=click.IntRange(10, 1000), default=20, show_default=True)
@click.option("--conversations", type=click.IntRange(1, 10), help="Only the first N conversations.")
@data_dir_option
@report
@pass_ctx
def bench_locomo(ctx: Context, data: str | None, data_dir: str | None, out_dir: str, top_k: int,
                 conversations: int | None) -> dict:
    """Recall@5/@10 on LoCoMo for pymem, pure-vector and BM25-only retrieval, same run."""
    from ..bench import locomo

    progress = Progress(prefix="pymem bench")
    try:
        result = locomo.run(data=data, data_dir=data_dir, home=ctx.home, dsn=ctx.dsn, out_dir=out_dir, top_k=top_k,
                            conversations=conversations, progress=progress)
    except (FileNotFoundError, ServerError, client_mod.PymemError, psycopg.Error) as exc:
        fail(str(exc))
    return result



@bench.command("load")
@click.option("--tenants", type=click.IntRange(1), default=100, show_default=True)
@click.option("--users", type=click.IntRange(1), default=100, show_default=True, help="Per tenant.")
@click.option("--memories-per-user", type=click.IntRange(1), default=3, show_default=True)
@click.option("--stages", default="30s:200,60s:200,30s:500,60s:500,10s:0", show_default=True,
              help="k6 stages as DURATION:TARGET_VUS,...")
@click.option("--think-time", type=click.FloatRange(0), default=0.1, show_default=True, help="Seconds.")
@click.option("--ingest-ratio", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--embedder", type=click.Choice(["auto", "local", "none"]), default="auto", show_default=True,
              help="The service's query embedder (seeding embeds with the same model unless none).")
@click.option("--worker/--no-worker", default=True, show_default=True, help="Run a `pymem worker` too.")
@click.option("--worker-nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="The worker's `--nice` (0: the same CPU priority as the service).")
@click.option("--pool-group-size", type=click.IntRange(0, 200), default=5, show_default=True,
              help="--capacity: the service's `--pool-group-size` (0: one pool for all tenants).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Service port (default: a free one).")
@click.option("--out", type=click.Path(file_okay=False), help="Keep k6's summary and the logs here.")
@click.option("--workers", default="1", show_default=True,
              help="`pymem serve --workers`: service processes. With --capacity a comma list (1,2) is searched "
                   "in turn on one database.")
@click.option("--capacity", is_flag=True, help="Search the highest arrival rate meeting the objective.")
@click.option("--start-rate", type=click.IntRange(1), default=50, show_default=True, help="--capacity: first rate.")
@click.option("--max-rate", type=click.IntRange(1), default=3000, show_default=True, help="--capacity: stop here.")
@click.option("--step-seconds", type=click.IntRange(3), default=20, show_default=True,
              help="--capacity: seconds per rate.")
@click.option("--queries", default="unique,fixed", show_default=True,
              help="--capacity: query texts, each searched separately: unique (new every request), fixed (the "
                   "reference load test's five questions), fixture (a question about one of the user's memories).")
@click.option("--profile-service", is_flag=True,
              help="--capacity: one more step at the rate found, with py-spy sampling the service: where its "
                   "time goes (embedding, database, HTTP, event loop).")
@click.option("--reference-script", is_flag=True,
              help="Run the reference load test (k6/seed-load-test.js in the benchmark data folder, the production "
                   "guide's script) unchanged but its stages.")
@click.option("--reference-vus", default="50,100,150,200", show_default=True,
              help="--reference-script: virtual users to try, in order (stops at the first that misses).")
@click.option("--seed-script", "old_reference_script", is_flag=True, hidden=True)  # the old names
@click.option("--seed-vus", "old_reference_vus", hidden=True)
@data_dir_option
@report
@pass_ctx
def bench_load(ctx: Context, tenants: int, users: int, memories_per_user: int, stages: str, think_time: float,
               ingest_ratio: float, embedder: str, worker: bool, worker_nice: int,
               pool_group_size: int, port: int, out: str | None, workers: str,
               capacity: bool, start_rate: int, max_rate: int, step_seconds: int, queries: str,
               profile_service: bool, reference_script: bool, reference_vus: str, old_reference_script: bool,
               old_reference_vus: str | None, data_dir: str | None) -> dict:
    """HTTP load test: service + worker on the embedded database, seeded, driven by k6.

    Default: our production profile (closed model, --stages). --capacity: the highest constant
    arrival rate meeting p95 < 150 ms and < 1% errors, with unique and with the five fixed
    questions. --reference-script: the reference load test, unchanged but for its stages, at
    each --reference-vus count.
    """
    from ..bench import load
    from ..bench.common import bench_data_file

    if old_reference_script:
        _deprecated("--seed-script", "--reference-script")
        reference_script = True
    if old_reference_vus:
        _deprecated("--seed-vus", "--reference-vus")
        reference_vus = old_reference_vus

    try:
        counts = tuple(int(w) for w in workers.split(","))
    except ValueError:
        counts = ()
    if not counts or not all(1 <= c <= 64 for c in counts) or (len(counts) > 1 and not capacity):
        fail("--workers: a number from 1 to 64 (a comma list only with --capacity)", code=2)
    try:
        if capacity and reference_script:
            fail("--capacity and --reference-script are separate runs", code=2)
        if profile_service and not capacity:
            fail("--profile-service goes with --capacity", code=2)
        if capacity:
            modes = tuple(m.strip() for m in queries.split(",") if m.strip())
            if "seed" in modes:
                _deprecated("--queries seed", "--queries fixed")
                modes = tuple("fixed" if m == "seed" else m for m in modes)
            if not modes or not set(modes) <= {"unique", "fixed", "fixture"}:
                fail("--queries: a comma list of unique, fixed, fixture", code=2)
            return load.capacity(tenants=tenants, users=users, memories_per_user=memories_per_user,
                                 embedder=embedder, worker=worker, worker_nice=worker_nice, workers=counts,
                                 start_rate=start_rate, max_rate=max_rate, step_seconds=step_seconds,
                                 ingest_ratio=ingest_ratio, query_modes=modes, port=port, out=out, home=ctx.home,
                                 dsn=ctx.dsn, profile_service=profile_service, pool_group_size=pool_group_size)
        if reference_script:
            try:
                vus = tuple(int(v) for v in reference_vus.split(","))
            except ValueError:
                fail("--reference-vus: a comma list of virtual-user counts, like 50,100,150", code=2)
            return load.reference_script(script=bench_data_file("k6", "seed-load-test.js", override=data_dir),
                                         vus=vus, embedder=embedder, worker=worker, worker_nice=worker_nice,
                                         workers=counts[0], memories_per_user=memories_per_user, port=port, out=out,
                                         home=ctx.home, dsn=ctx.dsn)
        return load.run(tenants=tenants, users=users, memories_per_user=memories_per_user, stages=stages,
                        think_time=think_time, ingest_ratio=ingest_ratio, embedder=embedder, worker=worker,
                        worker_nice=worker_nice, port=port, out=out, home=ctx.home, dsn=ctx.dsn, workers=counts[0])
    except (load.LoadBenchError, load.service_profile.ProfilerMissing, FileNotFoundError) as exc:
        fail(str(exc))


@bench.command("updates")
@click.option("--split", type=click.Choice(["tune", "heldout", "heldout2", "heldout3", "heldout4", "heldout5"]), help="Only this split (default: all, reported apart).")
@click.option("--limit", type=click.IntRange(1), help="At most this many scenarios of each type (a short run).")
@click.option("--settings", "settings_json", help="Tenant settings as a JSON object (default: the product's).")
@report
@pass_ctx
def bench_updates(ctx: Context, split: str | None, limit: int | None, settings_json: str | None) -> dict:
    """Corrections, cessations and distractors in users' own words, through ingest -> worker ->
    retrieve: current_first_rate, false_supersession_rate, cessation_closed_rate per half."""
    try:
        from ..bench import updates
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("pymem.bench.updates_corpus"):
            raise
        fail("pymem bench updates reads its corpora (pymem/bench/updates_corpus*.py) from the repository; "
             "the wheel does not ship them: run it from a checkout (pip install -e .)")

    settings = None
    if settings_json:
        try:
            settings = json.loads(settings_json)
        except json.JSONDecodeError as exc:
            fail(f"--settings is not valid JSON: {exc}", code=2)
    progress = Progress(prefix="pymem bench")
    try:
        return updates.run(home=ctx.home, dsn=ctx.dsn, split=split, limit=limit, settings=settings, progress=progress)
    except (ServerError, client_mod.PymemError, psycopg.Error, ValueError) as exc:
        fail(str(exc))


@bench.command("statebench")
@click.option("--split", type=click.Choice(["train", "dev"]), default="dev", show_default=True)
@click.option("--data", type=click.Path(file_okay=False),
              help="The StateBench folder (train.jsonl, dev.jsonl); default statebench/ in the benchmark data "
                   "folder ($PYMEM_BENCH_DATA, else ../shared/bench beside the repository checkout).")
@click.option("--limit", type=click.IntRange(1), help="At most this many timelines, taken from the tracks in turn.")
@click.option("--option", "options", multiple=True, metavar="KEY=NUMBER",
              help="A retrieval option for every query (repeat), e.g. weight_temporal=0.3.")
@report
@pass_ctx
def bench_statebench(ctx: Context, split: str, data: str | None, limit: int | None, options: tuple[str, ...]) -> dict:
    """StateBench's supersession, supersession_detection, environmental_freshness and
    repair_propagation timelines through remember/ingest -> worker -> retrieve: current_first,
    stale_in_top10 and current_in_top10 per track, over all and over answerable queries."""
    from ..bench import statebench

    progress = Progress(prefix="pymem bench")
    try:
        parsed = {key: _number(value) for key, value in (o.split("=", 1) for o in options)}
        return statebench.run(split=split, data=data, home=ctx.home, dsn=ctx.dsn, limit=limit, progress=progress,
                              options=parsed or None)
    except (ServerError, client_mod.PymemError, psycopg.Error, ValueError, FileNotFoundError) as exc:
        fail(str(exc))


def _render_audit(result: dict) -> str:
    from ..bench.audit import render

    return render(result)


@bench.command("audit")
@click.option("--data", type=click.Path(exists=True, dir_okay=False),
              help="A conversation corpus in LoCoMo's JSON format (default: locomo/locomo10.json in the benchmark "
                   "data folder).")
@click.option("--statebench", "statebench_split", metavar="SPLIT|FILE",
              help="StateBench instead: a split (dev, train) or the path of its .jsonl; its four tracks about a "
                   "value that changes.")
@click.option("--conversations", type=click.IntRange(1), help="Only the first N conversations (timelines).")
@data_dir_option
@report(text=_render_audit)
@pass_ctx
def bench_audit(ctx: Context, data: str | None, statebench_split: str | None, data_dir: str | None,
                conversations: int | None) -> dict:
    """Ingest a real corpus through the worker and list every supersession and cessation it
    caused, with both texts and their turns, for a person to judge."""
    from ..bench import audit

    if data and statebench_split:
        fail("--data (LoCoMo format) and --statebench are separate runs", code=2)
    progress = Progress(prefix="pymem bench")
    try:
        return audit.run(data=data, statebench_split=statebench_split, data_dir=data_dir, conversations=conversations,
                         home=ctx.home, dsn=ctx.dsn, progress=progress)
    except (FileNotFoundError, ServerError, client_mod.PymemError, psycopg.Error, ValueError) as exc:
        fail(str(exc))
