"""What every command shares: the context (embedded server or PYMEM_DSN), the root group,
and the helpers that print results and turn errors into exit codes.

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

from .. import __version__
from .. import client as client_mod
from ..server import EmbeddedServer, ServerError


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, default=str, sort_keys=True))
    elif human is not None:
        click.echo(human)


def fail(message: str, code: int = 1) -> None:
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
        return client_mod.connect(self.dsn, home=self.home, embedder="auto" if embed else None)


pass_ctx = click.make_pass_decorator(Context)


class Progress:
    """The ``progress`` callback of long operations, drawn on stderr: ``progress(phase, done,
    total)`` moves that phase's progress bar, ``progress(message)`` prints a line. Silent when
    ``quiet`` (--json output stays clean)."""

    def __init__(self, labels: dict[str, str] | None = None, *, prefix: str = "pymem", quiet: bool = False):
        self.labels = labels or {}
        self.prefix = prefix
        self.quiet = quiet
        self._bars: dict[str, Any] = {}

    def __call__(self, phase: str, done: int | None = None, total: int | None = None) -> None:
        if self.quiet:
            return
        if done is None:
            click.echo(f"{self.prefix}: {phase}", err=True)
            return
        bar = self._bars.get(phase)
        if bar is None:
            bar = self._bars[phase] = click.progressbar(length=max(total or 1, 1), label=self.labels.get(phase, phase),
                                                        show_pos=True, file=sys.stderr)
            bar.__enter__()
        bar.length = max(total or 1, 1)
        bar.update(max(done - bar.pos, 0))

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info) -> None:
        for bar in self._bars.values():
            bar.__exit__(None, None, None)
        self._bars.clear()


# Every option of every command also reads PYMEM_<COMMAND>_<OPTION> (PYMEM_SERVE_PORT,
# PYMEM_WORKER_CONCURRENCY, ...; subgroups add their name: PYMEM_ADMIN_REINDEX_TENANT), so a
# container or a unit file configures pymem by environment. The command line wins.
@click.group(context_settings={"auto_envvar_prefix": "PYMEM", "show_default": True})
@click.version_option(__version__, prog_name="pymem")
@click.option("--home", envvar="PYMEM_HOME", help="Embedded server home (default ./.pymem).")
@click.option("--dsn", help="Use this PostgreSQL instead of the embedded one (or set PYMEM_DSN).")
@click.pass_context
def main(ctx: click.Context, home: str | None, dsn: str | None) -> None:
    """pymem: a memory layer for AI agents that lives inside PostgreSQL."""
    ctx.obj = Context(home, dsn)


def open_client(ctx: Context, embed: bool) -> client_mod.Client:
    try:
        return ctx.client(embed=embed)
    except (ServerError, client_mod.PymemError, psycopg.Error) as exc:
        fail(str(exc))


def guard(fn):
    try:
        return fn()
    except client_mod.PymemError as exc:
        fail(str(exc))


def json_object(option: str, text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{option} is not valid JSON: {exc}", code=2)
    if not isinstance(value, dict):
        fail(f"{option} must be a JSON object", code=2)
    return value
