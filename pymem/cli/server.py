"""Running the database: up, down, status, doctor, migrate."""

from __future__ import annotations

import os
import sys

import click
import psycopg

from .. import admin
from .. import migrate as migrations
from ..embed import MAX_DIMENSIONS, local_model_problem, spec_from_env
from ..server import ServerError
from ..sql import query
from ..worker.schedule import plan as schedule_plan
from .base import Context, emit, fail, main, pass_ctx

REQUIRED_SERVER_VERSION = 160000


def embedding_options(fn):
    fn = click.option("--embed-dim", type=click.IntRange(1, MAX_DIMENSIONS),
                      help="Its dimension count (with --embed-model).")(fn)
    return click.option("--embed-model", help="The embedding model the database holds: chosen when it is "
                        "created (default: what PYMEM_EMBED_URL/PYMEM_EMBED_MODEL/PYMEM_EMBED_DIMENSIONS "
                        "or the local model give); naming the current one is a no-op.")(fn)


def _embedding_choice(dsn: str, model: str | None, dimensions: int | None) -> tuple[str, int] | None:
    """The model to record: the one named, or for a database never migrated the environment's."""
    if (model is None) != (dimensions is None):
        fail("--embed-model and --embed-dim go together", code=2)
    if model is not None:
        return model, dimensions
    with psycopg.connect(dsn) as conn:
        new = migrations.current_revision(conn) is None
    return spec_from_env() if new else None


@main.command()
@embedding_options
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def up(ctx: Context, embed_model: str | None, embed_dim: int | None, as_json: bool) -> None:
    """Start the embedded PostgreSQL (initialising it on first use) and migrate it."""
    if ctx.dsn:
        fail("PYMEM_DSN is set: pymem manages only the embedded server")
    try:
        server = ctx.server()
        status = server.start()
        server.adopt()  # up until `pymem down`, even when a `pymem mcp` or `serve` started it
        result = migrations.migrate(status.uri, embedding=_embedding_choice(status.uri, embed_model, embed_dim))
        admin.restrict_connect(status.uri)  # its service role and logins only (start() did the rest)
    except (ServerError, migrations.MigrationError, psycopg.Error) as exc:
        fail(str(exc))
    emit({**status.as_dict(), "migration": result}, as_json, f"pymem: running, {status.uri}")


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
        fail(str(exc))
    click.echo("pymem: stopped" + (" and purged" if purge else ""))


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Show whether the embedded server runs, its data directory and connection URI."""
    state = {**ctx.server().status().as_dict(), "found_by": ctx.location.source}  # which rule of locate()
    human = (f"running (pid {state['pid']})\nuri: {state['uri']}\ndata: {state['data_dir']}"
             if state["running"] else f"stopped\ndata: {state['data_dir']}") + f"\nfound by: {state['found_by']}"
    emit(state, as_json, human)


def _doctor_report(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query("capabilities")).fetchone()
        version, version_num, preload, extensions = row
        revision = migrations.current_revision(conn)
        functions = migrations.applied_idempotent_sha256(conn)
        model = (migrations.embedding_model(conn)
                 if conn.execute("select to_regclass('_pymem.embedding_model')").fetchone()[0] else None)
        planned = conn.execute("select to_regprocedure('_pymem.schedule_plan()')").fetchone()[0]
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
        "embedding_model": {"model": model[0], "dimensions": model[1]} if model else None,
        # Who runs each maintenance job: pg_cron where migrate could register it, else `pymem worker`.
        "schedules": {row["job"]: f"{row['runner']} ({row['schedule']})" for row in schedule_plan(dsn)}
                     if planned else None,
    }
    # A login that can connect to another database is outside pymem's lockdown there.
    report["databases_open_to_logins"] = admin.databases_open_to_logins(dsn)
    report["index_health"] = _index_health_report(dsn)
    report["ok"] = (report["server_version_ok"] and report["vector"] and report["age"]
                    and not report["databases_open_to_logins"])
    report["ok"] = report["ok"] and not (report["index_health"] or {}).get("unhealthy")
    # The local model, where this environment embeds with it (no PYMEM_EMBED_URL): loaded and
    # run once, so a missing extra, missing weights or a damaged cache file shows here.
    used = not os.environ.get("PYMEM_EMBED_URL")
    problem = local_model_problem() if used else None
    report["local_model"] = {"used": used, "problem": problem}
    report["ok"] = report["ok"] and problem is None
    return report


def _index_health_report(dsn: str) -> dict | None:
    """Every tenant's rows against what its lexical (GIN) and vector (HNSW) indexes return
    (pymem.index_health()), with the command that repairs a short one; None before migrate."""
    with psycopg.connect(dsn) as conn:
        if not conn.execute("select to_regprocedure('pymem.index_health(text)')").fetchone()[0]:
            return None
    tenants = admin.index_health(dsn)
    return {"tenants": len(tenants),
            "unhealthy": {t["tenant_id"]: {k: t[k] for k in ("rows", "lexical_indexed", "vector_rows",
                                                               "vector_indexed", "repair")}
                          for t in tenants if not t["healthy"]}}


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def doctor(ctx: Context, as_json: bool) -> None:
    """Check the server version and capabilities and the local model; exit 1 if one is missing or unusable."""
    try:
        report = _doctor_report(ctx.admin_dsn())
    except (ServerError, psycopg.Error) as exc:
        fail(f"cannot reach PostgreSQL: {exc}")
    lines = [f"{key}: {value}" for key, value in report.items()]
    emit(report, as_json, "\n".join(lines))
    if not report["ok"]:
        missing = [k for k in ("server_version_ok", "vector", "age") if not report[k]]
        if missing:
            click.echo(f"pymem: required capability missing: {', '.join(missing)}", err=True)
        if report["local_model"]["problem"]:
            click.echo(f"pymem: the local embedding model is not usable: {report['local_model']['problem']}", err=True)
        for tenant_id, health in ((report.get("index_health") or {}).get("unhealthy") or {}).items():
            click.echo(f"pymem: tenant {tenant_id}: {health['rows']} rows, the lexical index returns "
                       f"{health['lexical_indexed']}, the vector index {health['vector_indexed']} of "
                       f"{health['vector_rows']}; repair: {health['repair']}", err=True)
        open_databases = report.get("databases_open_to_logins") or {}
        if open_databases:
            click.echo(f"pymem: every role, pymem's logins included, may connect to {', '.join(open_databases)}, "
                       "where pymem's lockdown and login limits do not apply. As a superuser or the "
                       "databases' owner run:\n  " + "\n  ".join(open_databases.values())
                       + "\n(then grant CONNECT to the roles that need those databases; the embedded "
                       "server does this at each start)", err=True)
        sys.exit(1)


@main.command()
@embedding_options
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def migrate(ctx: Context, embed_model: str | None, embed_dim: int | None, as_json: bool) -> None:
    """Bring the database to the current schema (a no-op when it is current)."""
    try:
        dsn = ctx.admin_dsn()
        result = migrations.migrate(dsn, embedding=_embedding_choice(dsn, embed_model, embed_dim))
    except (ServerError, migrations.MigrationError, psycopg.Error) as exc:
        fail(str(exc))
    emit(result, as_json, f"pymem: migrated {result['from'] or 'empty database'} -> {result['to']}")
