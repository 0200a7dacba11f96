"""Maintenance: rebuild a tenant's indexes; the superuser's steps for a non-superuser owner."""

from __future__ import annotations

import click
import psycopg

from ..errors import PymemError
from ..server import ServerError
from .base import Context, Progress, emit, fail, guard, main, open_client, pass_ctx


@main.group()
def admin() -> None:
    """Maintenance: rebuild a tenant's indexes; the superuser's steps for a non-superuser owner."""


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
    from ..admin import reindex_tenant

    changes = {key: value for key, value in (("hnsw_m", hnsw_m), ("hnsw_ef_construction", hnsw_ef_construction),
                                             ("hnsw_ef_search", hnsw_ef_search), ("bm25_k1", bm25_k1),
                                             ("bm25_b", bm25_b)) if value is not None}
    settings = None
    if changes:
        with open_client(ctx, embed=False) as client:
            settings = guard(lambda: client.update_tenant_settings(tenant_id, changes))
    with Progress({"reindex": f"rebuilding {tenant_id}'s indexes"}, quiet=as_json) as progress:
        try:
            report = reindex_tenant(ctx.admin_dsn(), tenant_id, maintenance_work_mem=maintenance_work_mem,
                                    progress=progress)
        except (ServerError, psycopg.Error, PymemError) as exc:
            fail(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
    if settings is not None:
        report["settings"] = {k: settings[k] for k in ("hnsw_m", "hnsw_ef_construction", "hnsw_ef_search",
                                                       "bm25_k1", "bm25_b")}
    emit(report, as_json, f"pymem: rebuilt the indexes of {tenant_id} in {report['seconds']:.2f} s")


@admin.command("prepare-owner")
@click.argument("owner")
@pass_ctx
def admin_prepare_owner(ctx: Context, owner: str) -> None:
    """As a superuser (PYMEM_DSN), before the first migrate: let OWNER, a LOGIN role with
    CREATEROLE that is not a superuser, install and own pymem in this database. Creates the
    extensions and grants what the migrations need (pymem/sql/owner_prelude.sql). Then run
    `pymem migrate` as OWNER, and `pymem admin lockdown` as the superuser."""
    from ..admin import prepare_owner

    try:
        prepare_owner(ctx.admin_dsn(), owner)
    except (ServerError, psycopg.Error) as exc:
        fail(str(exc).strip().splitlines()[0])
    click.echo(f"pymem: {owner} may now run pymem migrate; afterwards run pymem admin lockdown as a superuser")


@admin.command("lockdown")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def admin_lockdown(ctx: Context, as_json: bool) -> None:
    """As a superuser (PYMEM_DSN), after every migrate of an install a non-superuser owns:
    revoke PUBLIC's EXECUTE on the extension and core functions that let one tenant reach
    another or take a shared resource (BM25 index readers, advisory locks, large objects),
    and TEMP on the database. `pymem migrate` does this itself when it runs as a superuser."""
    from ..admin import lockdown

    try:
        report = lockdown(ctx.admin_dsn())
    except (ServerError, psycopg.Error) as exc:
        fail(str(exc).strip().splitlines()[0])
    emit(report, as_json, f"pymem: revoked {report['revoked']} functions from PUBLIC; {report['open']} remain open")
