"""The ``pymem`` command line.

Exit codes: 0 success, 1 a check failed or the database said no (the message says why),
2 bad usage (click's own).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
import psycopg

from . import client as client_mod
from . import migrate as migrations
from .queries import query
from .server import EmbeddedServer, ServerError

REQUIRED_SERVER_VERSION = 160000


def _emit(data: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, default=str, sort_keys=True))
    elif human is not None:
        click.echo(human)


def _fail(message: str, code: int = 1) -> None:
    message = message.removeprefix("pymem: ")
    click.echo(f"pymem: {message}", err=True)
    sys.exit(code)


class Context:
    def __init__(self, home: str | None, dsn: str | None):
        self.home = home
        self.dsn = dsn or os.environ.get("PYMEM_DSN")

    def server(self) -> EmbeddedServer:
        return EmbeddedServer(self.home)

    def admin_dsn(self, start: bool = True) -> str:
        """The DSN migrations and checks run with: PYMEM_DSN, or the embedded superuser."""
        if self.dsn:
            return self.dsn
        server = self.server()
        if start:
            server.start()
        return server.uri()

    def client(self, embed: bool = True) -> client_mod.Client:
        return client_mod.connect(self.dsn, home=self.home, embedder="local" if embed else None)


pass_ctx = click.make_pass_decorator(Context)


@click.group()
@click.option("--home", envvar="PYMEM_HOME", help="Embedded server home (default ./.pymem).")
@click.option("--dsn", help="Use this PostgreSQL instead of the embedded one (or set PYMEM_DSN).")
@click.pass_context
def main(ctx: click.Context, home: str | None, dsn: str | None) -> None:
    """pymem: a memory layer for AI agents that lives inside PostgreSQL."""
    ctx.obj = Context(home, dsn)


# -- server ------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def up(ctx: Context, as_json: bool) -> None:
    """Start the embedded PostgreSQL (initialising it on first use) and migrate it."""
    if ctx.dsn:
        _fail("PYMEM_DSN is set: pymem manages only the embedded server")
    try:
        status = ctx.server().start()
        result = migrations.migrate(status.uri)
    except (ServerError, migrations.MigrationError) as exc:
        _fail(str(exc))
    _emit({**status.as_dict(), "migration": result}, as_json, f"pymem: running, {status.uri}")


@main.command()
@click.option("--purge", is_flag=True, help="Also delete the data directory.")
@pass_ctx
def down(ctx: Context, purge: bool) -> None:
    """Stop the embedded PostgreSQL."""
    server = ctx.server()
    try:
        if purge:
            server.destroy()
        else:
            server.stop()
    except ServerError as exc:
        _fail(str(exc))
    click.echo("pymem: stopped" + (" and purged" if purge else ""))


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Show whether the embedded server runs, its data directory and connection URI."""
    state = ctx.server().status().as_dict()
    human = (f"running (pid {state['pid']})\nuri: {state['uri']}\ndata: {state['data_dir']}"
             if state["running"] else f"stopped\ndata: {state['data_dir']}")
    _emit(state, as_json, human)


def _doctor_report(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query("capabilities")).fetchone()
        version, version_num, preload, extensions = row
        revision = migrations.current_revision(conn)
        functions = migrations.applied_idempotent_sha256(conn)
    extensions = extensions or {}
    preloaded = {lib.strip() for lib in preload.split(",") if lib.strip()}

    def present(name: str) -> bool:
        return name in extensions and extensions[name]["available"] is not None

    report = {
        "server_version": version,
        "server_version_ok": version_num >= REQUIRED_SERVER_VERSION,
        "vector": present("vector"),
        "age": present("age") and "age" in preloaded,
        "bm25": "pg_textsearch" if present("pg_textsearch") and "pg_textsearch" in preloaded else "tsvector",
        "pg_cron": present("pg_cron"),
        "vectorscale": present("vectorscale"),
        "shared_preload_libraries": sorted(preloaded),
        "migrated_revision": revision,
        "head_revision": migrations.head_revision(),
        # The functions in the database are the installed package's (else: pymem migrate).
        "functions_current": functions == migrations.idempotent_sha256(),
    }
    report["ok"] = report["server_version_ok"] and report["vector"] and report["age"]
    return report


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def doctor(ctx: Context, as_json: bool) -> None:
    """Check the server version and capabilities; exit 1 if a required one is missing."""
    try:
        report = _doctor_report(ctx.admin_dsn())
    except (ServerError, psycopg.Error) as exc:
        _fail(f"cannot reach PostgreSQL: {exc}")
    lines = [f"{key}: {value}" for key, value in report.items()]
    _emit(report, as_json, "\n".join(lines))
    if not report["ok"]:
        missing = [k for k in ("server_version_ok", "vector", "age") if not report[k]]
        click.echo(f"pymem: required capability missing: {', '.join(missing)}", err=True)
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def migrate(ctx: Context, as_json: bool) -> None:
    """Bring the database to the current schema (a no-op when it is current)."""
    try:
        result = migrations.migrate(ctx.admin_dsn())
    except (ServerError, migrations.MigrationError, psycopg.Error) as exc:
        _fail(str(exc))
    _emit(result, as_json, f"pymem: migrated {result['from'] or 'empty database'} -> {result['to']}")


# -- tenants -------------------------------------------------------------------------


@main.group()
def tenant() -> None:
    """Create, list and drop tenants."""


@tenant.command("create")
@click.argument("tenant_id")
@click.option("--exist-ok", is_flag=True, help="Succeed if the tenant exists already.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_create(ctx: Context, tenant_id: str, exist_ok: bool, as_json: bool) -> None:
    """Create TENANT_ID with its role, partition, indexes and graph."""
    with _client(ctx, embed=False) as client:
        row = _guard(lambda: client.create_tenant(tenant_id, exist_ok=exist_ok))
    _emit(row, as_json, f"tenant {row['tenant_id']}: role {row['role_name']}, graph {row['graph_name']}")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_list(ctx: Context, as_json: bool) -> None:
    """List tenants with their memory counts."""
    with _client(ctx, embed=False) as client:
        rows = _guard(client.list_tenants)
    human = "\n".join(f"{r['tenant_id']}\t{r['memories']} memories\t{r['role_name']}" for r in rows)
    _emit(rows, as_json, human or "no tenants")


@tenant.command("drop")
@click.argument("tenant_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_drop(ctx: Context, tenant_id: str, yes: bool, as_json: bool) -> None:
    """Drop TENANT_ID and everything stored for it."""
    if not yes:
        click.confirm(f"Drop tenant {tenant_id} and all its memories?", abort=True)
    with _client(ctx, embed=False) as client:
        report = _guard(lambda: client.drop_tenant(tenant_id))
    _emit(report, as_json, json.dumps(report))


@tenant.group("login")
def tenant_login() -> None:
    """LOGIN roles for psql and other languages (one tenant, public functions only)."""


@tenant_login.command("create")
@click.argument("tenant_id")
@click.option("--name", "login", help="Role name (default: generated).")
@click.option("--password-env", help="Read the password from this environment variable.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_login_create(ctx: Context, tenant_id: str, login: str | None, password_env: str | None,
                        as_json: bool) -> None:
    password = os.environ.get(password_env) if password_env else None
    if password_env and password is None:
        _fail(f"environment variable {password_env} is not set", code=2)
    with _client(ctx, embed=False) as client:
        row = _guard(lambda: client.create_login(tenant_id, login, password))
    _emit(row, as_json, f"login {row['login']} acts for tenant {row['tenant_id']} (search_path {row['api_schema']})")


@tenant_login.command("drop")
@click.argument("login")
@pass_ctx
def tenant_login_drop(ctx: Context, login: str) -> None:
    with _client(ctx, embed=False) as client:
        dropped = _guard(lambda: client.drop_login(login))
    if not dropped:
        _fail(f"no pymem login named {login}")
    click.echo(f"dropped {login}")


@tenant.group("key")
def tenant_key() -> None:
    """API keys for the HTTP service (a key decides the tenant of each request)."""


@tenant_key.command("create")
@click.argument("tenant_id")
@click.option("--name", help="A label to tell keys apart.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_key_create(ctx: Context, tenant_id: str, name: str | None, as_json: bool) -> None:
    """Create an API key for TENANT_ID and print it (shown once: only its hash is stored)."""
    with _client(ctx, embed=False) as client:
        row = _guard(lambda: client.create_api_key(tenant_id, name=name))
    _emit(row, as_json, f"{row['api_key']}\n(key id {row['key_id']}; store the key now, it is not shown again)")


@tenant_key.command("revoke")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_key_revoke(ctx: Context, key_id: str, as_json: bool) -> None:
    """Revoke the API key KEY_ID (exit 1 when no such active key exists)."""
    with _client(ctx, embed=False) as client:
        revoked = _guard(lambda: client.revoke_api_key(key_id))
    _emit({"key_id": key_id, "revoked": revoked}, as_json, f"key {key_id}: {'revoked' if revoked else 'not found'}")
    if not revoked:
        sys.exit(1)


@tenant_key.command("list")
@click.argument("tenant_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_key_list(ctx: Context, tenant_id: str | None, as_json: bool) -> None:
    """List API keys (of TENANT_ID, or all) without the keys themselves."""
    with _client(ctx, embed=False) as client:
        rows = _guard(lambda: client.list_api_keys(tenant_id))
    human = "\n".join(f"{r['key_id']}\t{r['tenant_id']}\t{r['key_prefix']}...\t{r['name'] or ''}\t"
                      f"{'revoked' if r['revoked_at'] else 'active'}" for r in rows)
    _emit(rows, as_json, human or "no keys")


# -- data --------------------------------------------------------------------------


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--kind", type=click.Choice(client_mod.KINDS), default="fact", show_default=True)
@click.option("--importance", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--session", "session_id")
@click.option("--metadata", help="A JSON object.")
@click.option("--no-embed", is_flag=True, help="Store without a vector (lexical search only).")
@click.option("--json", "as_json", is_flag=True)
@click.argument("content")
@pass_ctx
def remember(ctx: Context, tenant_id: str, user_id: str, kind: str, importance: float,
             session_id: str | None, metadata: str | None, no_embed: bool, as_json: bool,
             content: str) -> None:
    """Store one memory for a user, now."""
    meta = _json_object("--metadata", metadata)
    with _client(ctx, embed=not no_embed) as client:
        memory_id = _guard(lambda: client.tenant(tenant_id).remember(
            user_id, content, kind=kind, importance=importance, session_id=session_id, metadata=meta))
    _emit({"id": memory_id, "tenant_id": tenant_id, "user_id": user_id}, as_json, memory_id)


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--top-k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--token-budget", type=click.IntRange(1))
@click.option("--kind", "kinds", multiple=True, type=click.Choice(client_mod.KINDS))
@click.option("--no-embed", is_flag=True, help="Lexical and recency only.")
@click.option("--json", "as_json", is_flag=True)
@click.argument("query_text")
@pass_ctx
def search(ctx: Context, tenant_id: str, user_id: str, top_k: int, token_budget: int | None,
           kinds: tuple[str, ...], no_embed: bool, as_json: bool, query_text: str) -> None:
    """Retrieve a user's memories for QUERY_TEXT, best first, with score components."""
    with _client(ctx, embed=not no_embed) as client:
        results = _guard(lambda: client.tenant(tenant_id).retrieve(
            user_id, query_text, top_k=top_k, token_budget=token_budget, kinds=kinds or None))
    if as_json:
        _emit({"results": [m.as_dict() for m in results]}, True)
        return
    for m in results:
        click.echo(f"{m.score:.3f}  (vec {m.vector_score:.2f} lex {m.lexical_score:.2f} "
                   f"rec {m.recency_score:.2f})  [{m.kind}] {m.content}")
    if not results:
        click.echo("no memories match")


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--session", "session_id")
@click.option("--role", type=click.Choice(["user", "assistant", "system", "tool"]), default="user",
              show_default=True, help="Role of CONTENT (ignored with --messages).")
@click.option("--messages", "messages_json", help="A JSON array of {role, content} instead of CONTENT.")
@click.option("--json", "as_json", is_flag=True)
@click.argument("content", required=False)
@pass_ctx
def ingest(ctx: Context, tenant_id: str, user_id: str, session_id: str | None, role: str,
           messages_json: str | None, as_json: bool, content: str | None) -> None:
    """Enqueue a conversation turn for asynchronous extraction; prints the episode id."""
    if (content is None) == (messages_json is None):
        _fail("give either CONTENT or --messages", code=2)
    if messages_json is not None:
        try:
            messages = json.loads(messages_json)
        except json.JSONDecodeError as exc:
            _fail(f"--messages is not valid JSON: {exc}", code=2)
    else:
        messages = [{"role": role, "content": content}]
    with _client(ctx, embed=False) as client:
        episode_id = _guard(lambda: client.tenant(tenant_id).ingest(user_id, messages, session_id=session_id))
    _emit({"episode_id": episode_id, "tenant_id": tenant_id, "user_id": user_id}, as_json, episode_id)


@main.command()
@click.option("--once", is_flag=True, help="Process what is due, then exit (for tests and cron).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--poll-interval", type=click.FloatRange(0.05), default=1.0, show_default=True,
              help="Seconds between polls when no NOTIFY arrives.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=16, show_default=True)
@click.option("--lease-seconds", type=click.IntRange(1), default=60, show_default=True)
@click.option("--max-attempts", type=click.IntRange(1), default=5, show_default=True)
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="Serve Prometheus metrics here.")
@click.option("--retry-dead", is_flag=True, help="Re-queue dead-letter episodes, then exit.")
@click.option("--tenant", "tenant_id", help="With --retry-dead: only this tenant.")
@click.option("--schedule/--no-schedule", default=None,
              help="Run the decay sweep and consolidation schedules (default: when pg_cron is absent).")
@click.option("--embed-threads", type=click.IntRange(1, 256),
              help="CPU threads of the local embedding model (default: one fewer than the CPUs, at least 1, "
                   "so a core stays free for PostgreSQL and the callers of ingest).")
@pass_ctx
def worker(ctx: Context, once: bool, concurrency: int, poll_interval: float, batch_size: int,
           lease_seconds: int, max_attempts: int, metrics_port: int | None, retry_dead: bool,
           tenant_id: str | None, schedule: bool | None, embed_threads: int | None) -> None:
    """Run extraction workers: LISTEN for new episodes, extract, embed, apply."""
    import logging
    import signal
    import threading

    from workers.cli_support import build_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    with _client(ctx, embed=False) as client:
        if retry_dead:
            count = _guard(lambda: client.retry_dead(tenant_id))
            click.echo(f"pymem: re-queued {count} dead-letter episodes")
            return
        dsn = client.dsn
        gazetteer = client.gazetteer()
        has_cron = bool(client.capabilities().get("pg_cron"))
    # pymem bench ingest, 60 s at 50 turns/s on 2 cores, runs alternated: with the local model
    # on both cores ingest calls took p95 12.5-14.9 ms, with one 8.5-8.9 ms; the lag p95
    # stayed 0.1-0.2 s either way.
    runner, metrics = build_worker(dsn, gazetteer, concurrency=concurrency, poll_interval=poll_interval,
                                   batch_size=batch_size, lease_seconds=lease_seconds,
                                   max_attempts=max_attempts,
                                   embed_threads=embed_threads or max(1, (os.cpu_count() or 1) - 1))
    stop_metrics = threading.Event()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from workers.worker import refresh_queue_metrics

        start_http_server(metrics_port, registry=metrics.registry)
        threading.Thread(target=refresh_queue_metrics, args=(dsn, metrics, stop_metrics), daemon=True).start()

    def on_signal(signum, frame):
        click.echo(f"pymem: signal {signum}: finishing the current batch, then stopping", err=True)
        runner.stop()

    if schedule or (schedule is None and not has_cron and not once):
        from workers.schedule import scheduler

        threading.Thread(target=scheduler, args=(dsn, stop_metrics), daemon=True, name="pymem-schedule").start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    totals = runner.run(once=once)
    stop_metrics.set()
    click.echo(json.dumps({"worker": runner.name, **totals}))


@main.command("erase-user")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def erase_user(ctx: Context, tenant_id: str, user_id: str, yes: bool) -> None:
    """Erase a user everywhere; prints the verified report (residual must be 0)."""
    if not yes:
        click.confirm(f"Erase everything stored about user {user_id!r} of tenant {tenant_id}?", abort=True)
    with _client(ctx, embed=False) as client:
        report = _guard(lambda: client.tenant(tenant_id).erase_user(user_id))
    click.echo(json.dumps(report, default=str))


@main.command("export-user")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (default: stdout).")
@pass_ctx
def export_user(ctx: Context, tenant_id: str, user_id: str, output: str | None) -> None:
    """Write everything stored about a user as JSON (importable with import-user)."""
    with _client(ctx, embed=False) as client:
        data = _guard(lambda: client.tenant(tenant_id).export_user(user_id))
    text = json.dumps(data, default=str, indent=1)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"exported {len(data['memories'])} memories to {output}")
    else:
        click.echo(text)


@main.command("import-user")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", help="Import under this user id (default: the exported one).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def import_user(ctx: Context, tenant_id: str, user_id: str | None, path: str) -> None:
    """Restore an export-user file into a tenant."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}", code=2)
    with _client(ctx, embed=False) as client:
        report = _guard(lambda: client.tenant(tenant_id).import_user(data, user_id=user_id))
    click.echo(json.dumps(report))


@main.command()
@click.option("--tenant", "tenant_id")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def audit(ctx: Context, tenant_id: str | None, limit: int, as_json: bool) -> None:
    """The audit trail, newest first."""
    with _client(ctx, embed=False) as client:
        rows = _guard(lambda: client.audit_log(tenant_id, limit))
    human = "\n".join(f"{r['recorded_at']:%Y-%m-%d %H:%M:%S}  {r['tenant_id'] or '-'}  {r['action']}  "
                      f"{r['actor']}  {json.dumps(r['details'])}" for r in rows)
    _emit(rows, as_json, human or "no audit entries")


@main.command()
@click.option("--decay/--no-decay", default=True, show_default=True)
@click.option("--compact/--no-compact", default=False, show_default=True)
@click.option("--batch", type=click.IntRange(1), default=10000, show_default=True)
@pass_ctx
def sweep(ctx: Context, decay: bool, compact: bool, batch: int) -> None:
    """Run the decay sweep (and consolidation) now, for every tenant; prints JSON reports."""
    from workers.schedule import run_job

    with _client(ctx, embed=False) as client:
        dsn = client.dsn
    out = {}
    if decay:
        out["decay"] = run_job(dsn, "decay", batch)
    if compact:
        out["compact"] = run_job(dsn, "compact", batch)
    click.echo(json.dumps(out))


@main.group()
def contradictions() -> None:
    """Review slot conflicts (policy manual queues them here)."""


@contradictions.command("list")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--status", type=click.Choice(["open", "kept_existing", "accepted_new", "kept_both", "all"]),
              default="open", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def contradictions_list(ctx: Context, tenant_id: str, status: str, as_json: bool) -> None:
    with _client(ctx, embed=False) as client:
        rows = _guard(lambda: client.tenant(tenant_id).contradictions(None if status == "all" else status))
    human = "\n".join(f"{r['id']}  {r['user_id']}  {r['subject']}/{r['attribute']}: "
                      f"{r['existing_content']!r} vs {r['candidate_content']!r}  [{r['status']}]" for r in rows)
    _emit(rows, as_json, human or "no contradictions")


@contradictions.command("resolve")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--keep", type=click.Choice(["existing", "new", "both"]), required=True)
@click.argument("contradiction_id")
@pass_ctx
def contradictions_resolve(ctx: Context, tenant_id: str, keep: str, contradiction_id: str) -> None:
    resolution = {"existing": "keep_existing", "new": "accept_new", "both": "keep_both"}[keep]
    with _client(ctx, embed=False) as client:
        result = _guard(lambda: client.tenant(tenant_id).resolve_contradiction(contradiction_id, resolution))
    click.echo(json.dumps(result, default=str))


@main.group()
def bench() -> None:
    """Benchmarks: each prints one JSON line."""


@bench.command("ingest")
@click.option("--rate", type=click.FloatRange(0.1), default=50.0, show_default=True, help="Turns per second.")
@click.option("--duration", type=click.FloatRange(1), default=60.0, show_default=True, help="Seconds of load.")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option("--users", type=click.IntRange(1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON line (the default output too).")
@pass_ctx
def bench_ingest(ctx: Context, rate: float, duration: float, workers: int, users: int, as_json: bool) -> None:
    """Sustained ingest through real worker processes: call latency, lag, lost, duplicated."""
    from .ingest_bench import run

    result = run(rate=rate, duration=duration, workers=workers, users=users, home=ctx.home, dsn=ctx.dsn)
    click.echo(json.dumps(result))


@bench.command("retrieval")
@click.option("--small-tenants", type=click.IntRange(0), default=100, show_default=True)
@click.option("--small-users", type=click.IntRange(1), default=10, show_default=True, help="Users per small tenant.")
@click.option("--small-memories", type=click.IntRange(1), default=100, show_default=True, help="Memories per small user.")
@click.option("--big-users", type=click.IntRange(0), default=100, show_default=True, help="Users of the big tenant.")
@click.option("--big-memories", type=click.IntRange(1), default=1000, show_default=True, help="Memories per big-tenant user.")
@click.option("--huge-memories", type=click.IntRange(0), default=50_000, show_default=True,
              help="Memories of the one huge user (0: none).")
@click.option("--queries", type=click.IntRange(1), default=200, show_default=True, help="Queries per class.")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="Timed rounds (after one warm-up); percentiles are medians over rounds.")
@click.option("--client-queries", type=click.IntRange(1), default=100, show_default=True)
@click.option("--no-client", is_flag=True, help="Skip the end-to-end client timing (loads the model).")
@click.option("--ef-search", type=click.IntRange(1, 1000), help="Per-call hnsw_ef_search override.")
@click.option("--rebuild", is_flag=True, help="Build the corpus again even when the stored one matches.")
@click.option("--scale", is_flag=True, help="Build 10k / 100k / 1M-memory tenants and report how p95 grows.")
@click.option("--scale-sizes", default="10000,100000,1000000", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON line (the default output too).")
@pass_ctx
def bench_retrieval(ctx: Context, small_tenants: int, small_users: int, small_memories: int, big_users: int,
                    big_memories: int, huge_memories: int, queries: int, rounds: int, client_queries: int,
                    no_client: bool, ef_search: int | None, rebuild: bool, scale: bool, scale_sizes: str,
                    as_json: bool) -> None:
    """Latency (p50/p95/p99) and vector recall@10 of pymem.retrieve per class of user."""
    from .bench import retrieval

    options = {"hnsw_ef_search": ef_search} if ef_search else None
    progress = lambda message: click.echo(f"pymem bench: {message}", err=True)  # noqa: E731
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
                                   options=options, progress=progress)
    except (ServerError, client_mod.PymemError, psycopg.Error, RuntimeError) as exc:
        _fail(str(exc))
    click.echo(json.dumps(result, default=str))


@bench.command("locomo")
@click.option("--data", type=click.Path(exists=True, dir_okay=False),
              help="locomo10.json (default: ../shared/bench/locomo/ beside the repository, or $PYMEM_SHARED_BENCH).")
@click.option("--shared", type=click.Path(file_okay=False), help="The shared bench folder (holds recall_eval.py).")
@click.option("--out", "out_dir", default="bench-out/locomo", show_default=True, help="Where run files go.")
@click.option("--top-k", type=click.IntRange(10, 1000), default=20, show_default=True)
@click.option("--conversations", type=click.IntRange(1, 10), help="Only the first N conversations.")
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON line (the default output too).")
@pass_ctx
def bench_locomo(ctx: Context, data: str | None, shared: str | None, out_dir: str, top_k: int,
                 conversations: int | None, as_json: bool) -> None:
    """Recall@5/@10 on LoCoMo for pymem, pure-vector and BM25-only retrieval, same run."""
    from .bench import locomo

    progress = lambda message: click.echo(f"pymem bench: {message}", err=True)  # noqa: E731
    try:
        result = locomo.run(data=data, shared=shared, home=ctx.home, dsn=ctx.dsn, out_dir=out_dir, top_k=top_k,
                            conversations=conversations, progress=progress)
    except (FileNotFoundError, ServerError, client_mod.PymemError, psycopg.Error) as exc:
        _fail(str(exc))
    click.echo(json.dumps(result, default=str))


# -- admin -------------------------------------------------------------------------


# -- HTTP service ------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--embedder", type=click.Choice(["auto", "local", "none"]), default="auto", show_default=True,
              help="Query embeddings: auto = PYMEM_EMBED_URL if set, else the local model; none = lexical only.")
@click.option("--max-concurrent-retrievals", type=click.IntRange(1), default=20, show_default=True,
              help="Per tenant; more at once are refused with 429 + Retry-After.")
@click.option("--max-body-bytes", type=click.IntRange(1024), default=2 * 1024 * 1024, show_default=True)
@click.option("--request-timeout", type=click.FloatRange(0.1), default=10.0, show_default=True,
              help="Seconds; also the database statement_timeout of the service's connections.")
@click.option("--pool-size", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--gateway-tenant-header", metavar="HEADER",
              help="Gateway mode: trust this header (e.g. X-Pymem-Tenant) to name the tenant when no API key "
                   "is sent. Enable only behind a gateway that authenticates callers and sets the header.")
@click.option("--auto-provision", is_flag=True, help="Gateway mode: create unknown tenants on first use.")
@click.option("--key-cache-seconds", type=click.FloatRange(0), default=5.0, show_default=True,
              help="How long a verified API key is trusted without asking the database (revocation delay).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True)
@pass_ctx
def serve(ctx: Context, host: str, port: int, embedder: str, max_concurrent_retrievals: int,
          max_body_bytes: int, request_timeout: float, pool_size: int, gateway_tenant_header: str | None,
          auto_provision: bool, key_cache_seconds: float, log_level: str) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, Prometheus at /metrics, health at /healthz).

    Admin routes accept the token in $PYMEM_ADMIN_TOKEN (Authorization: Bearer ...).
    """
    import logging

    from .service import ServiceConfig
    from .service.run import serve as run_service

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if auto_provision and not gateway_tenant_header:
        _fail("--auto-provision needs --gateway-tenant-header (API keys always name an existing tenant)", code=2)
    config = ServiceConfig(max_concurrent_retrievals=max_concurrent_retrievals, max_body_bytes=max_body_bytes,
                           request_timeout=request_timeout, gateway_tenant_header=gateway_tenant_header,
                           auto_provision=auto_provision, admin_token=os.environ.get("PYMEM_ADMIN_TOKEN") or None,
                           key_cache_seconds=key_cache_seconds, owner_dsn=ctx.admin_dsn())
    try:
        run_service(dsn=ctx.dsn, home=ctx.home, host=host, port=port, embedder=embedder, config=config,
                    pool_size=pool_size, statement_timeout_ms=int(request_timeout * 1000), log_level=log_level)
    except (ServerError, client_mod.PymemError, psycopg.Error) as exc:
        _fail(str(exc))


@main.group()
def admin() -> None:
    """Maintenance: rebuild a tenant's indexes."""


@admin.command("reindex")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--hnsw-m", type=click.IntRange(2, 100), help="Set the tenant's HNSW m first.")
@click.option("--hnsw-ef-construction", type=click.IntRange(4, 1000), help="Set the tenant's ef_construction first.")
@click.option("--hnsw-ef-search", type=click.IntRange(1, 1000), help="Set the tenant's ef_search (no rebuild needed).")
@click.option("--bm25-k1", type=click.FloatRange(0, 10), help="Set the tenant's BM25 k1 first.")
@click.option("--bm25-b", type=click.FloatRange(0, 1), help="Set the tenant's BM25 b first.")
@click.option("--maintenance-work-mem", default="1GB", show_default=True, help="For the index builds.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def admin_reindex(ctx: Context, tenant_id: str, hnsw_m: int | None, hnsw_ef_construction: int | None,
                  hnsw_ef_search: int | None, bm25_k1: float | None, bm25_b: float | None,
                  maintenance_work_mem: str, as_json: bool) -> None:
    """Rebuild one tenant's HNSW and BM25 indexes concurrently, without blocking reads.

    Runs the statements of pymem.reindex_plan(tenant) as the owning role (the one migrate
    uses): build each index anew with CREATE INDEX CONCURRENTLY from the tenant's settings,
    swap the names in one transaction, drop the old one concurrently.
    """
    from .admin import reindex_tenant

    changes = {key: value for key, value in (("hnsw_m", hnsw_m), ("hnsw_ef_construction", hnsw_ef_construction),
                                             ("hnsw_ef_search", hnsw_ef_search), ("bm25_k1", bm25_k1),
                                             ("bm25_b", bm25_b)) if value is not None}
    settings = None
    if changes:
        with _client(ctx, embed=False) as client:
            settings = _guard(lambda: client.update_tenant_settings(tenant_id, changes))
    progress = None if as_json else (lambda message: click.echo(f"pymem: {message}"))
    try:
        report = reindex_tenant(ctx.admin_dsn(), tenant_id, maintenance_work_mem=maintenance_work_mem,
                                progress=progress)
    except (ServerError, psycopg.Error) as exc:
        _fail(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
    if settings is not None:
        report["settings"] = {k: settings[k] for k in ("hnsw_m", "hnsw_ef_construction", "hnsw_ef_search",
                                                       "bm25_k1", "bm25_b")}
    _emit(report, as_json, f"pymem: rebuilt the indexes of {tenant_id} in {report['seconds']:.2f} s")


    """Operator tasks."""


@admin.group("index")
def admin_index() -> None:
    """Retrieval indexes."""


@admin_index.command("rebuild")
@click.argument("tenant", default="all")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def admin_index_rebuild(ctx: Context, tenant: str, as_json: bool) -> None:
    """Rebuild the retrieval indexes of TENANT (default: all) through pymem.rebuild_indexes()."""
    with _client(ctx, embed=False) as client:
        try:
            rows = client._call("rebuild_indexes", {"tenant_id": None if tenant == "all" else tenant})
        except client_mod.PymemError as exc:
            if exc.sqlstate == "42883":
                _fail("this database has no pymem.rebuild_indexes() yet (the index-maintenance module "
                      "is not installed)")
            _fail(str(exc))
    report = rows[0]["report"]
    _emit(report, as_json, json.dumps(report, default=str))


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
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Service port (default: a free one).")
@click.option("--out", type=click.Path(file_okay=False), help="Keep k6's summary and the logs here.")
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON line (the default output too).")
@pass_ctx
def bench_load(ctx: Context, tenants: int, users: int, memories_per_user: int, stages: str, think_time: float,
               ingest_ratio: float, embedder: str, worker: bool, port: int, out: str | None,
               as_json: bool) -> None:
    """HTTP load test: service + worker on the embedded database, seeded, driven by k6."""
    from .load_bench import LoadBenchError, run

    try:
        result = run(tenants=tenants, users=users, memories_per_user=memories_per_user, stages=stages,
                     think_time=think_time, ingest_ratio=ingest_ratio, embedder=embedder, worker=worker,
                     port=port, out=out, home=ctx.home, dsn=ctx.dsn)
    except LoadBenchError as exc:
        _fail(str(exc))
    click.echo(json.dumps(result))


# -- helpers -----------------------------------------------------------------------


def _client(ctx: Context, embed: bool) -> client_mod.Client:
    try:
        return ctx.client(embed=embed)
    except (ServerError, client_mod.PymemError, psycopg.Error) as exc:
        _fail(str(exc))


def _guard(fn):
    try:
        return fn()
    except client_mod.PymemError as exc:
        _fail(str(exc))


def _json_object(option: str, text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{option} is not valid JSON: {exc}", code=2)
    if not isinstance(value, dict):
        _fail(f"{option} must be a JSON object", code=2)
    return value


if __name__ == "__main__":  # pragma: no cover
    main()
