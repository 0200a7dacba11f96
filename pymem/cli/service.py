"""The HTTP service."""

from __future__ import annotations

import ipaddress
import os

import click
import psycopg

from .. import client as client_mod
from ..server import ServerError
from .base import Context, fail, main, pass_ctx


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--embedder", type=click.Choice(["auto", "local", "none"]), default="auto", show_default=True,
              help="Query embeddings: auto = PYMEM_EMBED_URL if set, else the local model; none = lexical only.")
@click.option("--max-concurrent-per-tenant", "--max-concurrent-retrievals", "max_concurrent_per_tenant",
              type=click.IntRange(1), default=None,
              help="Database calls of one tenant at once; more are refused with 429 + Retry-After. "
                   "Default: a quarter of --pool-size (at least 1), so one tenant never holds the pool.")
@click.option("--max-body-bytes", type=click.IntRange(1024), default=2 * 1024 * 1024, show_default=True)
@click.option("--request-timeout", type=click.FloatRange(0.1), default=10.0, show_default=True,
              help="Seconds; also the database statement_timeout of the service's connections.")
@click.option("--pool-size", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--pool-group-size", type=click.IntRange(0, 200), default=5, show_default=True,
              help="Connections per group of tenants: each tenant uses its group's connections first, so a "
                   "connection keeps retrieve's prepared statements for fewer tenants. 0: one pool for all.")
@click.option("--gateway-tenant-header", metavar="HEADER",
              help="Gateway mode: trust this header (e.g. X-Pymem-Tenant) to name the tenant when no API key "
                   "is sent. Enable only behind a gateway that authenticates callers and sets the header.")
@click.option("--gateway-trusted-network", is_flag=True,
              help="Allow gateway mode on a non-loopback --host: only when nothing but the gateway can reach "
                   "this address (a private network, a sidecar), since the header or the body then names the tenant.")
@click.option("--auto-provision", is_flag=True, help="Gateway mode: create unknown tenants on first use.")
@click.option("--primary-dsn", envvar="PYMEM_PRIMARY_DSN", metavar="DSN",
              help="When --dsn is a read replica: the primary's service DSN, where this service LISTENs for "
                   "erasures (a standby receives no notifications). Route only reads to such a service.")
@click.option("--owner-dsn", envvar="PYMEM_OWNER_DSN", metavar="DSN",
              help="The role that owns the tables, for index rebuilds (POST /admin/reindex). "
                   "Default: --dsn (PYMEM_DSN), or the embedded server's superuser.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes on one socket, each with its own pool and model; "
                   "workers x (pool size + 2) + 10 must fit the server's max_connections.")
@click.option("--key-cache-seconds", type=click.FloatRange(0), default=5.0, show_default=True,
              help="How long a verified API key is trusted without asking the database (revocation delay).")
@click.option("--extract/--no-extract", default=True, show_default=True,
              envvar=["PYMEM_SERVE_EXTRACT", "PYMEM_EXTRACT"],
              help="Extract memories from ingested turns in this process (one worker loop). --no-extract "
                   "(or PYMEM_EXTRACT=0) when `pymem worker` processes do it (scale-out).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True)
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one object per line (time, level, logger, pid, message) for log collectors.")
@pass_ctx
def serve(ctx: Context, host: str, port: int, embedder: str, max_concurrent_per_tenant: int | None,
          max_body_bytes: int, request_timeout: float, pool_size: int, pool_group_size: int,
          gateway_tenant_header: str | None,
          gateway_trusted_network: bool, auto_provision: bool, primary_dsn: str | None, owner_dsn: str | None,
          workers: int,
          key_cache_seconds: float, extract: bool, log_level: str, log_format: str) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, Prometheus at /metrics, health at /healthz).

    Admin routes accept the token in $PYMEM_ADMIN_TOKEN (Authorization: Bearer ...); /metrics the one
    in $PYMEM_METRICS_TOKEN (without it, loopback callers only).
    """
    from ..logs import configure as configure_logging

    try:
        from ..service import ServiceConfig
        from ..service.run import serve as run_service
    except ImportError as exc:
        fail(str(exc))

    configure_logging(log_level, log_format)
    if auto_provision and not gateway_tenant_header:
        fail("--auto-provision needs --gateway-tenant-header (API keys always name an existing tenant)", code=2)
    if gateway_tenant_header and not gateway_trusted_network and not _loopback(host):
        fail(f"gateway mode on {host}: without an API key the tenant header, or the body's tenant_id, names the "
             "tenant, so anyone who can reach this address can act as any tenant. Bind to 127.0.0.1 behind the "
             "gateway, or add --gateway-trusted-network if only the gateway can reach it", code=2)
    with ctx.session():  # an embedded server started here stops with the service
        config = ServiceConfig(max_concurrent_per_tenant=max_concurrent_per_tenant, max_body_bytes=max_body_bytes,
                               request_timeout=request_timeout, gateway_tenant_header=gateway_tenant_header,
                               auto_provision=auto_provision, admin_token=os.environ.get("PYMEM_ADMIN_TOKEN") or None,
                               metrics_token=os.environ.get("PYMEM_METRICS_TOKEN") or None,
                               key_cache_seconds=key_cache_seconds, owner_dsn=owner_dsn or ctx.admin_dsn(),
                               primary_dsn=primary_dsn)
        try:
            run_service(dsn=ctx.dsn, home=ctx.home, host=host, port=port, embedder=embedder, config=config,
                        pool_size=pool_size, statement_timeout_ms=int(request_timeout * 1000), log_level=log_level,
                        workers=workers, pool_group_size=pool_group_size, extract=extract)
        except (ServerError, client_mod.PymemError, psycopg.Error) as exc:
            fail(str(exc))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
