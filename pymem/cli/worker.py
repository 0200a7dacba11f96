"""The extraction worker and the maintenance sweeps."""

from __future__ import annotations

import json
import os

import click

from .base import Context, guard, main, open_client, pass_ctx


@main.command()
@click.option("--once", is_flag=True, help="Process what is due, then exit (for tests and cron).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--poll-interval", type=click.FloatRange(0.05), default=1.0, show_default=True,
              help="Seconds between polls when no NOTIFY arrives.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=16, show_default=True)
@click.option("--batch-window", type=click.FloatRange(0.01, 10), default=0.2, show_default=True,
              help="Seconds an idle worker waits after a new episode's notice before claiming, so that "
                   "episodes arriving together are extracted and embedded as one batch: less CPU per "
                   "turn, that much more time before a turn's vector and memories are searchable.")
@click.option("--lease-seconds", type=click.IntRange(1), default=60, show_default=True)
@click.option("--max-attempts", type=click.IntRange(1), default=5, show_default=True)
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="Serve Prometheus metrics here.")
@click.option("--retry-dead", is_flag=True, help="Re-queue dead-letter episodes, then exit.")
@click.option("--tenant", "tenant_id", help="With --retry-dead: only this tenant.")
@click.option("--schedule/--no-schedule", default=None,
              help="Run the maintenance jobs pg_cron does not (decay, retention, consolidation, login limits; "
                   "`pymem doctor` lists who runs each). Default: on, except with --once.")
@click.option("--embed-threads", type=click.IntRange(1, 256),
              help="CPU threads of the local embedding model (default: one fewer than the CPUs, at least 1, "
                   "so a core stays free for PostgreSQL and the callers of ingest).")
@click.option("--nice", "niceness", type=click.IntRange(0, 19), default=10, show_default=True,
              help="Lower this process's CPU priority by this much: extraction is background work, so "
                   "the ingest and retrieve calls of a service on the same machine get the CPU first. "
                   "0 keeps the priority it was started with.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one object per line (time, level, logger, pid, message) for log collectors.")
@pass_ctx
def worker(ctx: Context, once: bool, concurrency: int, poll_interval: float, batch_size: int,
           batch_window: float, lease_seconds: int, max_attempts: int, metrics_port: int | None, retry_dead: bool,
           tenant_id: str | None, schedule: bool | None, embed_threads: int | None,
           niceness: int, log_format: str) -> None:
    """Run extraction workers: LISTEN for new episodes, extract, embed, apply."""
    import signal
    import threading

    from ..logs import configure as configure_logging
    from ..worker.build import build_worker

    configure_logging("info", log_format)
    if niceness:
        os.nice(niceness)  # the PostgreSQL backends it talks to keep theirs
    with open_client(ctx, embed=False) as client:
        if retry_dead:
            count = guard(lambda: client.retry_dead(tenant_id))
            click.echo(f"pymem: re-queued {count} dead-letter episodes")
            return
        dsn = client.dsn
        kinds = client.memory_kinds(extracted=True)
    # pymem bench ingest, 60 s at 50 turns/s on 2 cores, runs alternated: with the local model
    # on both cores ingest calls took p95 12.5-14.9 ms, with one 8.5-8.9 ms; the lag p95
    # stayed 0.1-0.2 s either way.
    runner, metrics = build_worker(dsn, kinds, concurrency=concurrency, poll_interval=poll_interval,
                                   batch_size=batch_size, batch_window=batch_window, lease_seconds=lease_seconds,
                                   max_attempts=max_attempts,
                                   embed_threads=embed_threads or max(1, (os.cpu_count() or 1) - 1))
    guard(runner.check_embedder)  # another model than the database's: exit 1, naming both
    if not once:  # reads every row through both indexes: in the background, a log line when done
        import logging

        from ..admin import log_index_health

        threading.Thread(target=log_index_health, args=(dsn, logging.getLogger("pymem.worker")), daemon=True,
                         name="pymem-index-health").start()
    stop_metrics = threading.Event()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from ..worker.worker import refresh_queue_metrics

        start_http_server(metrics_port, registry=metrics.registry)
        threading.Thread(target=refresh_queue_metrics, args=(dsn, metrics, stop_metrics), daemon=True).start()

    def on_signal(signum, frame):
        click.echo(f"pymem: signal {signum}: finishing the current batch, then stopping", err=True)
        runner.stop()

    if schedule or (schedule is None and not once):
        from ..worker.schedule import scheduler

        threading.Thread(target=scheduler, args=(dsn, stop_metrics), daemon=True, name="pymem-schedule").start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    totals = runner.run(once=once)
    stop_metrics.set()
    click.echo(json.dumps({"worker": runner.name, **totals}))


@main.command()
@click.option("--decay/--no-decay", default=True, show_default=True)
@click.option("--compact/--no-compact", default=False, show_default=True)
@click.option("--batch", type=click.IntRange(1), default=10000, show_default=True)
@pass_ctx
def sweep(ctx: Context, decay: bool, compact: bool, batch: int) -> None:
    """Run the decay and retention sweeps (and consolidation) now, for every tenant; prints JSON reports."""
    from ..worker.schedule import run_job

    with open_client(ctx, embed=False) as client:
        dsn = client.dsn
    out = {}
    if decay:
        out["decay"] = run_job(dsn, "decay", batch)
        out["retention"] = run_job(dsn, "retention")
    if compact:
        out["compact"] = run_job(dsn, "compact", batch)
    click.echo(json.dumps(out))
