"""What every command shares: the context (embedded server or PYMEM_DSN), the root group,
the text arguments read from stdin or a file, and the helpers that print results and turn
errors into exit codes.

Exit codes: 0 success, 1 a check failed, the database said no or something else went wrong
(one line says why; --debug shows the traceback instead), 2 bad usage (click's own, and
input the CLI refuses before it writes anything).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import psycopg

from .. import __version__
from .. import client as client_mod
from ..embed import EmbeddingError
from ..errors import NotFound, PymemError
from ..server import EmbeddedServer, Location, ServerError, locate


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, default=str, sort_keys=True))
    elif human is not None:
        click.echo(human)


def fail(message: str, code: int = 1) -> None:
    # One line: psycopg's connection errors carry their hint on a second, tab-indented line.
    message = " ".join(line.strip() for line in message.splitlines() if line.strip()).removeprefix("pymem: ")
    click.echo(f"pymem: {message}", err=True)
    sys.exit(code)


# Failures a user can act on from their message alone (the database, the embedded server, the
# embedder, a file): one line. Anything else is a bug, named by its type, with the way to see it.
_EXPECTED = (PymemError, ServerError, psycopg.Error, EmbeddingError, OSError, RuntimeError, ValueError)


class RootGroup(click.Group):
    """The ``pymem`` group: an exception escaping any command becomes one line on stderr and
    exit 1 (an embedder that cannot load, an unwritable --output, a home that cannot be
    created ...), not a traceback; ``--debug`` (or PYMEM_DEBUG=1) lets the traceback through."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, EOFError):
            raise  # click's own: usage errors (exit 2), --help, Ctrl-C, a closed stdin
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            message = describe(exc) or type(exc).__name__
            if not isinstance(exc, _EXPECTED):
                message = f"{message} ({type(exc).__name__}; --debug shows the traceback)"
            fail(message)


class TextSource(click.ParamType):
    """A text argument as typed, or read: ``-`` from stdin, ``@PATH`` from a UTF-8 file (past
    the 128 KB a single argument may have on Linux); ``@@...`` is the literal text ``@...``.
    Text read loses its final line break. A missing file, bytes that are not UTF-8, a NUL byte
    or empty text is bad usage (exit 2), refused before anything is written."""

    name = "text"

    def __init__(self, what: str, empty: str | None = None):
        self.what = what
        self.empty = empty or f"{what} is empty"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not isinstance(value, str):
            return value
        source = None
        if value == "-":
            source = "stdin"
            if sys.stdin.isatty():
                click.echo(f"pymem: reading {self.what} from stdin (end it with Ctrl-D)", err=True)
            data = sys.stdin.buffer.read()
        elif value.startswith("@@"):
            text = value[1:]
        elif value.startswith("@"):
            source = value[1:]
            try:
                with open(source, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                self.fail(f"cannot read {source}: {exc.strerror or exc}", param, ctx)
        else:
            text = value
        if source is not None:
            try:
                text = data.decode("utf-8-sig").removesuffix("\n").removesuffix("\r")
            except UnicodeDecodeError as exc:
                self.fail(f"{source} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}); "
                          "nothing was stored", param, ctx)
        if "\x00" in text:
            self.fail(f"{self.what} contains a NUL byte, which PostgreSQL text cannot store", param, ctx)
        if not text.strip():
            self.fail(self.empty, param, ctx)
        return text


class Context:
    """Where the database is (server.locate(): --dsn, --home, PYMEM_DSN, PYMEM_HOME, an
    existing ./.pymem, the per-user home), found once, when a command first asks."""

    def __init__(self, home: str | None, dsn: str | None):
        self._given = (dsn, home)
        self._location: Location | None = None

    @property
    def location(self) -> Location:
        if self._location is None:
            self._location = locate(*self._given)
        return self._location

    @property
    def dsn(self) -> str | None:
        return self.location.dsn

    @property
    def home(self) -> Path | None:
        return self.location.home

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

    @contextmanager
    def session(self) -> Iterator[None]:
        """For a long-running command (serve, mcp): the embedded server, started if need be and
        then stopped when the command ends (EmbeddedServer.session()); nothing with a DSN.
        SIGTERM ends the command as Ctrl-C does, so that the server is stopped then too; one
        that arrives while the server starts waits until the session can stop it."""
        _sigterm.update(defer=True, pending=None)
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            with contextlib.nullcontext() if self.dsn else self.server().session():
                _sigterm["defer"] = False
                if _sigterm["pending"] is not None:
                    raise SystemExit(128 + _sigterm["pending"])
                yield
        finally:
            _sigterm["defer"] = False


_sigterm: dict[str, Any] = {"defer": False, "pending": None}


def _exit_on_sigterm(signum, frame) -> None:
    if _sigterm["defer"]:
        _sigterm["pending"] = signum
        return
    raise SystemExit(128 + signum)


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
@click.group(cls=RootGroup, context_settings={"auto_envvar_prefix": "PYMEM", "show_default": True})
@click.version_option(__version__, prog_name="pymem")
@click.option("--home", envvar=None, allow_from_autoenv=False,
              help="Embedded server home. Without --dsn and --home: $PYMEM_DSN, else $PYMEM_HOME, else ./.pymem "
                   "where this folder has one (with a notice), else $XDG_DATA_HOME/pymem or ~/.local/share/pymem.")
@click.option("--dsn", envvar=None, allow_from_autoenv=False,
              help="Use this PostgreSQL instead of the embedded one (or set PYMEM_DSN).")
@click.option("--debug", is_flag=True, help="On an error, show its traceback instead of one line (or PYMEM_DEBUG=1).")
@click.pass_context
def main(ctx: click.Context, home: str | None, dsn: str | None, debug: bool) -> None:
    """pymem: a memory layer for AI agents that lives inside PostgreSQL.

    The database, for every command: --dsn or --home, else $PYMEM_DSN, else $PYMEM_HOME, else
    the per-user home (~/.local/share/pymem; ./.pymem where this folder already has one).

    Text arguments (remember's and ingest's CONTENT, search's QUERY_TEXT, ingest --messages)
    read stdin when given as -, and a UTF-8 file when given as @PATH; write @@ for a text
    that starts with @."""
    ctx.obj = Context(home, dsn)


def open_client(ctx: Context, embed: bool) -> client_mod.Client:
    try:
        return ctx.client(embed=embed)
    except (ServerError, PymemError, psycopg.Error) as exc:
        if debugging():
            raise
        fail(describe(exc))


def guard(fn):
    try:
        return fn()
    except PymemError as exc:
        if debugging():
            raise
        fail(describe(exc))


def debugging() -> bool:
    """Whether --debug (or PYMEM_DEBUG=1) asked for tracebacks: then open_client and guard
    re-raise instead of printing one line."""
    context = click.get_current_context(silent=True)
    return bool(context and context.find_root().params.get("debug"))


def describe(exc: BaseException) -> str:
    """The error's message, with the command that fixes it where the database's hint names a
    SQL call (``pymem.create_tenant(tenant_id)`` is SQL; here it is ``pymem tenant create``)."""
    message = str(exc).strip()
    unknown = re.match(r"(?:pymem: )?unknown tenant '([^']*)'", message)
    if isinstance(exc, NotFound) and unknown:
        return f"unknown tenant {unknown.group(1)!r}: create it first with `pymem tenant create {unknown.group(1)}`"
    return message


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
