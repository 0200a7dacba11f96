"""Agent integrations: `pymem mcp`, the MCP server."""

from __future__ import annotations

import os

import click
import psycopg

from .. import client as client_mod
from ..server import ServerError
from .base import Context, fail, main, pass_ctx


@main.command()
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True,
              help="stdio for a client that launches the server; http: streamable HTTP at /mcp.")
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP only.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="HTTP only.")
@click.option("--user", "user_id", help="Act for this user only (tools refuse any other). Without it, "
                                        "each tool takes a user_id of the key's tenant.")
@click.option("--embedder", type=click.Choice(["auto", "local", "none"]), default="auto", show_default=True,
              help="auto = PYMEM_EMBED_URL if set, else the local model; none = lexical only.")
@click.option("--key-cache-seconds", type=click.FloatRange(0), default=5.0, show_default=True,
              help="HTTP only: a revoked API key keeps working this long (as for pymem serve).")
@click.option("--extract/--no-extract", default=True, show_default=True,
              envvar=["PYMEM_MCP_EXTRACT", "PYMEM_EXTRACT"],
              help="Extract memories from ingested turns in this process (one worker loop). --no-extract "
                   "(or PYMEM_EXTRACT=0) when `pymem worker` processes do it.")
@pass_ctx
def mcp(ctx: Context, transport: str, host: str, port: int, user_id: str | None, embedder: str,
        key_cache_seconds: float, extract: bool) -> None:
    """Serve pymem's memory tools over MCP for the tenant of $PYMEM_API_KEY.

    Tools: remember, ingest, retrieve, update, forget, history, list_users, export_user. Over
    HTTP every request needs an active API key of that tenant as 'Authorization: Bearer <key>'
    (401 without one, 403 for another tenant's). The database is found as by every command
    (pymem --help); an embedded server this starts is stopped when it exits.
    """
    api_key = os.environ.get("PYMEM_API_KEY")
    if not api_key:
        fail("set PYMEM_API_KEY to a tenant's API key (pymem tenant key create TENANT)", code=2)
    try:
        from ..integrations import mcp as server
        from ..service.inprocess import extraction, load_embedder
    except ImportError as exc:
        fail(str(exc))
    try:
        model = load_embedder(embedder)
        with ctx.session(), client_mod.connect(ctx.dsn, home=ctx.home, embedder=model) as client:
            server.tenant_of_key(client, api_key)  # a bad key stops here, before the worker starts
            with extraction(client.dsn, extract, embedder=client.embedder):
                server.serve(client, api_key, user_id=user_id, transport=transport, host=host, port=port,
                             key_cache_seconds=key_cache_seconds, extracting=extract)
    except PermissionError as exc:
        fail(str(exc))
    except (ServerError, client_mod.PymemError, psycopg.Error) as exc:
        fail(str(exc))
