"""The thin Python client: it calls SQL functions, nothing more.

One ``Client`` owns one connection pool. Every data call borrows a connection, opens a
transaction, ``SET LOCAL ROLE``s to the tenant's role and calls one function in schema
``pymem``; row-level security does the isolating. The client connects as the install's
service role, which may SET ROLE to any tenant but holds none of their rights itself.
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import datetime as dt
import functools
import hashlib
import inspect
import logging
import os
import random
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import (TYPE_CHECKING, Any, Callable, Concatenate, Coroutine, Generator, Generic, ParamSpec, Protocol,
                    Sequence, TypeVar, overload)

import numpy as np
import psycopg
from pgvector.psycopg import register_vector, register_vector_async
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from . import migrate as migrations
from .database import FORGET_CHANNEL, atransaction, listen, transaction, translated
from .embed import Embedder, default_embedder, embedder_from_env, embedder_mismatch
# The exceptions live in pymem.errors; they stay importable from here (a public surface).
from .errors import (AlreadyExists, Conflict, EmbedderMismatch, InvalidInput, LimitExceeded, NotFound,  # noqa: F401
                     PermissionDenied, PymemError, Unavailable)
from .pools import GROUP_SIZE, AsyncTenantPools, TenantPools
from .server import EmbeddedServer, locate
from .sql import query

log = logging.getLogger("pymem")


#: The metadata key that marks a memory as an item of an application's key-value store
#: (PymemStore, LangGraph's BaseStore); such memories stay out of ordinary retrieval.
STORE_ITEM_KEY = "langgraph"


def _number(value: Any) -> int | float | None:
    """A numeric from the database as the int or float JSON would read it (0.001, 100)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _check_text(name: str, value: Any, *, optional: bool = False) -> None:
    """Catch what cannot reach PostgreSQL at all (NUL bytes, non-strings) with a clear error."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise InvalidInput(f"{name} contains a NUL byte, which PostgreSQL text cannot store")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid UTF-8 (it holds unpaired surrogates)") from None


@dataclass(frozen=True)
class Memory:
    """One retrieved memory, with the components of its score."""

    id: str
    tenant_id: str
    user_id: str
    kind: str
    content: str
    score: float
    vector_score: float
    lexical_score: float
    recency_score: float
    graph_score: float
    importance: float
    created_at: dt.datetime
    observed_at: dt.datetime
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    token_count: int = 0
    context_score: float = 0.0
    #: A newer result of the same answer that announces a change ranks above this one: it
    #: says what this memory said earlier (a query about now; see docs/retrieval.md).
    earlier_than: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> "Memory":
        row = dict(row)
        row["id"] = str(row["id"])
        if row.get("earlier_than") is not None:
            row["earlier_than"] = str(row["earlier_than"])
        return cls(**row)

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat()
        data["observed_at"] = self.observed_at.isoformat()
        return data


@dataclass(frozen=True)
class StoredMemory:
    """One memory as stored (get, list): its state and validity instead of scores."""

    id: str
    tenant_id: str
    user_id: str
    kind: str
    content: str
    status: str
    importance: float
    confidence: float
    mention_count: int
    created_at: dt.datetime
    updated_at: dt.datetime
    observed_at: dt.datetime
    valid_from: dt.datetime
    valid_to: dt.datetime | None = None
    superseded_by: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    subject: str | None = None
    attribute: str | None = None
    value: str | None = None
    stale: bool = False
    metadata: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    token_count: int = 0

    @classmethod
    def from_row(cls, row: dict) -> "StoredMemory":
        row = dict(row)
        row["id"] = str(row["id"])
        if row.get("superseded_by") is not None:
            row["superseded_by"] = str(row["superseded_by"])
        return cls(**row)


def format_context(memories: Sequence[Memory], *, title: str = "What you know about this user",
                   empty: str = "Nothing is known about this user yet.", dates: bool = True) -> str:
    """Render retrieved memories as the block a prompt quotes, best first, one per line.

    Each line is ``- <content> (<kind>, <observed date>)``, and ``, earlier`` when a newer
    result above it updates what it says (``Memory.earlier_than``); line breaks inside a
    memory become spaces so one memory never looks like two.
    """
    if not memories:
        return f"{title}:\n{empty}"
    lines = [f"{title} (most relevant first):"]
    for memory in memories:
        text = " ".join(memory.content.split())
        about = memory.kind + (f", {memory.observed_at:%Y-%m-%d}" if dates and memory.observed_at else "")
        if memory.earlier_than:
            about += ", earlier"
        lines.append(f"- {text} ({about})")
    return "\n".join(lines)


class QueryEmbeddingCache:
    """A thread-safe LRU of (tenant, query text) -> embedding with a time to live, so a
    repeated query skips the model.

    Embedding one query locally costs more than retrieval itself, and real traffic repeats:
    an agent asks the same questions of every user ("what does the user prefer?"), so
    entries are shared by the users of one tenant, never across tenants (a hit must not tell
    one tenant what another asked). A query text is still the user's data: each entry
    remembers which users asked it, and erasing a user drops every entry that user asked.
    Bounded by ``max_size`` entries (least recently used go first) and ``ttl`` seconds.
    Vectors are stored read-only.

    ``generation`` moves on with every ``forget`` and ``clear``: a caller that read it before
    embedding passes it to ``put``, and a vector embedded across an erasure is not kept (it
    may be the erased user's query).
    """

    def __init__(self, max_size: int = 50_000, ttl: float = 24 * 3600, clock=time.monotonic):
        self.max_size = max_size
        self.ttl = ttl
        self.hits = 0
        self.misses = 0
        self.generation = 0
        self._clock = clock
        self._items: OrderedDict[tuple[str | None, str], tuple[np.ndarray, float, set]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_size > 0 and self.ttl > 0

    def get(self, tenant_id: str | None, user_id: str | None, text: str) -> np.ndarray | None:
        key = (tenant_id, text)
        with self._lock:
            entry = self._items.get(key)
            if entry is not None and entry[1] <= self._clock():
                del self._items[key]
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            entry[2].add(user_id)
            self._items.move_to_end(key)
            return entry[0]

    def put(self, tenant_id: str | None, user_id: str | None, text: str, vector: np.ndarray, *,
            generation: int | None = None) -> np.ndarray:
        """Keep ``vector`` (unless the cache was cleared or a user forgotten since
        ``generation`` was read); returns it, read-only, either way."""
        vector = np.array(vector, dtype=np.float32)
        vector.setflags(write=False)
        if self.enabled:
            with self._lock:
                if generation is not None and generation != self.generation:
                    return vector
                key = (tenant_id, text)
                previous = self._items.get(key)
                askers = previous[2] if previous else set()
                askers.add(user_id)
                self._items[key] = (vector, self._clock() + self.ttl, askers)
                self._items.move_to_end(key)
                while len(self._items) > self.max_size:
                    self._items.popitem(last=False)
        return vector

    def forget(self, tenant_id: str, user_id: str | None = None) -> int:
        """Drop the entries one user asked (or every entry of the tenant); returns how many."""
        with self._lock:
            self.generation += 1
            doomed = [k for k, (_, _, askers) in self._items.items()
                      if k[0] == tenant_id and (user_id is None or user_id in askers)]
            for key in doomed:
                del self._items[key]
        return len(doomed)

    def clear(self) -> None:
        """Forget every vector (the hit and miss counters keep counting)."""
        with self._lock:
            self.generation += 1
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class CacheForgetter:
    """Keeps a :class:`QueryEmbeddingCache` true to erasures made by any process.

    erase_user, drop_tenant and the embedding model's swap NOTIFY ``pymem_forget`` on commit
    (the payload names nobody); this thread LISTENs on a connection of its own and clears
    the whole cache on each (it refills from the model). Every client that caches query
    vectors runs one, started by its first query and stopped by ``close`` (the service
    starts its client's with the app), so services, ``pymem mcp`` and in-process clients
    forget together.

    A notification is only a hint that can be lost, so the cache is used (read or filled)
    only while ``listening`` is set:

    - a lost connection clears the cache and unsets ``listening`` until LISTEN is back
      (reconnecting with backoff and jitter); whatever happened meanwhile is covered by
      the clear made once listening again;
    - the SQL skips the NOTIFY while the server's notification queue is over half full (a
      login that LISTENs without reading can fill it; every listener then shares the
      backlog). Every ``POLL_SECONDS`` this thread reads the queue's usage; from
      ``QUEUE_WATERMARK`` on it clears the cache and keeps it unused until the queue drains,
      so a skipped notification finds nothing to forget. Filling a quarter of the queue
      (2 GB at the default max_notify_queue_pages) between two reads half a second apart is
      far beyond what a login can send.

    A standby cannot LISTEN and receives no notifications: a client reading from one turns
    its cache off, unless ``dsn`` names the primary (the service's ``--primary-dsn``).
    """

    QUEUE_WATERMARK = 0.25
    POLL_SECONDS = 0.5

    def __init__(self, dsn: str, cache: QueryEmbeddingCache):
        self.dsn = dsn
        self.cache = cache
        self.cleared = 0
        self.listening = threading.Event()
        self.settled = threading.Event()  # the first attempt ended: listening, refused or failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> bool:
        """Start the listener unless it runs (or gave up on a standby) or was closed; True
        when this call started it. Cheap enough to call before every cache use."""
        with self._lock:
            if self._closed or (self._thread is not None and not self._stop.is_set()):
                return False
            if self._thread is not None:
                self._thread.join(5)
            self._stop = threading.Event()
            self.settled.clear()
            self._thread = threading.Thread(target=self._run, args=(self._stop,), name="pymem-forget", daemon=True)
            self._thread.start()
            return True

    def stop(self) -> None:
        """Stop listening; the cache is unused until ``start`` again."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(5)
        self.listening.clear()

    def close(self) -> None:
        """Stop for good (the client is closing)."""
        with self._lock:
            self._closed = True
        self.stop()

    def _clear(self) -> None:
        self.cache.clear()
        self.cleared += 1

    def _run(self, stop: threading.Event) -> None:
        delay = 0.5
        try:
            while not stop.is_set():
                try:
                    with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
                        if conn.execute("select pg_is_in_recovery()").fetchone()[0]:
                            self.cache.max_size = 0
                            self._clear()
                            log.error("the client reads from a standby and has no primary to LISTEN on "
                                      "(the service's --primary-dsn): the query-embedding cache is off")
                            return
                        listen(conn, FORGET_CHANNEL)
                        delay = 0.5
                        while not stop.is_set():
                            usage = conn.execute("select pg_notification_queue_usage()").fetchone()[0]
                            if usage >= self.QUEUE_WATERMARK:
                                if self.listening.is_set():
                                    log.warning("the notification queue is %.0f%% full: erasures may go unannounced; "
                                                "the query-embedding cache is off until it drains", usage * 100)
                                self.listening.clear()
                                self._clear()
                            elif not self.listening.is_set():
                                self._clear()  # whatever happened while not listening
                                self.listening.set()
                            self.settled.set()
                            if any(True for _ in conn.notifies(timeout=self.POLL_SECONDS)):
                                self._clear()
                except psycopg.Error as exc:
                    self.listening.clear()
                    self._clear()
                    self.settled.set()
                    log.warning("query cache listener: %s; reconnecting in %.1fs", exc, delay)
                    stop.wait(delay * random.uniform(0.5, 1.0))
                    delay = min(delay * 2, 30)
        finally:
            self.listening.clear()
            self.settled.set()


def _configure(conn: psycopg.Connection) -> None:
    register_vector(conn)


async def _configure_async(conn: psycopg.AsyncConnection) -> None:
    await register_vector_async(conn)


# -- operations, written once for the sync and the async client --------------------------
#
# Each public method is a generator: it validates its arguments, then yields what it needs
# from the outside (a call of a named query as some role, embeddings) and gets the answer
# back. Client runs the generators with blocking I/O, AsyncClient awaits the same steps, so
# the two cannot differ in what they check, send or return. Errors raised by a step are
# thrown back into the generator (create_tenant's exist_ok catches AlreadyExists there).


@dataclass(frozen=True)
class _Call:
    name: str
    params: dict | None = None
    role: str | None = None


@dataclass(frozen=True)
class _Embed:
    texts: tuple[str, ...]


@dataclass(frozen=True)
class _EmbedQuery:
    text: str
    tenant_id: str | None
    user_id: str | None


_P = ParamSpec("_P")
_R = TypeVar("_R")
#: An operation: the steps it yields, then its result (what the client's method returns).
_Op = Generator[Any, Any, _R]


if TYPE_CHECKING:
    class _Blocking(Protocol):  # Client, TenantClient
        def _drive(self, gen: Any) -> Any: ...

    class _Awaiting(Protocol):  # AsyncClient, AsyncTenantClient
        async def _adrive(self, gen: Any) -> Any: ...

    class _Operation(Generic[_P, _R]):
        """What a type checker sees of an operation: on Client and TenantClient a method that
        returns its result, on AsyncClient and AsyncTenantClient a coroutine of it (what
        _bind makes of it at runtime)."""

        @overload
        def __get__(self, obj: None, owner: type) -> _Operation[_P, _R]: ...
        @overload
        def __get__(self, obj: _Blocking, owner: type) -> Callable[_P, _R]: ...
        @overload
        def __get__(self, obj: _Awaiting, owner: type) -> Callable[_P, Coroutine[Any, Any, _R]]: ...
        def __get__(self, obj: object, owner: type) -> Any: ...


def operation(fn: Callable[Concatenate[Any, _P], _Op[_R]]) -> _Operation[_P, _R]:
    """Marks a generator method as an operation both clients expose (see _bind)."""
    fn._pymem_operation = True  # type: ignore[attr-defined]
    return fn  # type: ignore[return-value]


def _bind(cls, *bases):
    """Give ``cls`` a method per operation of ``bases``: blocking for a client with ``_drive``,
    a coroutine for one with ``_adrive``. The wrapper keeps the operation's signature and doc."""
    asynchronous = hasattr(cls, "_adrive")
    for base in bases:
        for name, fn in vars(base).items():
            if not getattr(fn, "_pymem_operation", False):
                continue
            if asynchronous:
                async def method(self, *args, __fn=fn, **kwargs):
                    return await self._adrive(__fn(self, *args, **kwargs))
            else:
                def method(self, *args, __fn=fn, **kwargs):
                    return self._drive(__fn(self, *args, **kwargs))
            method = functools.wraps(fn)(method)
            # The signature shows the result, not the generator (_Op[X] -> X).
            signature = inspect.signature(fn)
            returns = signature.return_annotation
            if isinstance(returns, str) and returns.startswith("_Op[") and returns.endswith("]"):
                method.__signature__ = signature.replace(return_annotation=returns[4:-1])
                method.__annotations__ = {**fn.__annotations__, "return": returns[4:-1]}
            setattr(cls, name, method)
    return cls


class _ClientOperations:
    """Administration (the service role) and lookups; shared by Client and AsyncClient."""

    _roles: dict[str, str]
    _roles_lock: threading.Lock
    query_cache: QueryEmbeddingCache

    def _role(self, tenant_id: str):
        """The tenant's role, looked up once per client (NotFound for unknown tenants)."""
        _check_text("tenant_id", tenant_id)
        role = self.known_role(tenant_id)
        if role is None:
            role = (yield _Call("tenant_role", {"tenant_id": tenant_id}))[0]["role_name"]
            with self._roles_lock:
                self._roles[tenant_id] = role
        return role

    @operation
    def tenant_role(self, tenant_id: str) -> _Op[str]:
        return (yield from self._role(tenant_id))

    def known_role(self, tenant_id: str) -> str | None:
        """The tenant's role if this client has looked it up before; None otherwise. No I/O
        (a plain method on Client and AsyncClient alike)."""
        with self._roles_lock:
            return self._roles.get(tenant_id)

    @operation
    def embed(self, texts: Sequence[str]) -> _Op[list[np.ndarray | None]]:
        return (yield _Embed(tuple(texts)))

    @operation
    def embed_query(self, text: str, *, tenant_id: str | None = None,
                    user_id: str | None = None) -> _Op[np.ndarray | None]:
        """The embedding of a retrieval query, from the LRU cache when this user asked it before."""
        return (yield _EmbedQuery(text, tenant_id, user_id))

    @operation
    def capabilities(self) -> _Op[dict[str, Any]]:
        """Server version and the capabilities recorded at install (bm25 engine, age, ...)."""
        row = (yield _Call("install_capabilities"))[0]
        return {"server_version": row["server_version"], **row["capabilities"]}

    @operation
    def create_tenant(self, tenant_id: str, *, settings: dict | None = None,
                      exist_ok: bool = False) -> _Op[dict[str, Any]]:
        _check_text("tenant_id", tenant_id)
        try:
            return (yield _Call("create_tenant", {"tenant_id": tenant_id, "settings": Jsonb(settings or {})}))[0]
        except AlreadyExists:
            if not exist_ok:
                raise
        return next(t for t in (yield _Call("list_tenants")) if t["tenant_id"] == tenant_id)

    @operation
    def drop_tenant(self, tenant_id: str) -> _Op[dict[str, Any]]:
        _check_text("tenant_id", tenant_id)
        with self._roles_lock:
            self._roles.pop(tenant_id, None)
        report = (yield _Call("drop_tenant", {"tenant_id": tenant_id}))[0]["report"]
        self.query_cache.forget(tenant_id)
        return report

    @operation
    def list_tenants(self) -> _Op[list[dict[str, Any]]]:
        return (yield _Call("list_tenants"))

    @operation
    def update_tenant_settings(self, tenant_id: str, settings: dict) -> _Op[dict[str, Any]]:
        """Merge ``settings`` into the tenant's own (None removes a key); returns the effective
        settings. Index settings (hnsw_m, hnsw_ef_construction, bm25_k1, bm25_b) apply after
        ``pymem admin reindex``."""
        _check_text("tenant_id", tenant_id)
        rows = yield _Call("update_tenant_settings", {"tenant_id": tenant_id, "settings": Jsonb(settings)})
        return rows[0]["settings"]

    @operation
    def tenant_settings(self, tenant_id: str) -> _Op[dict[str, Any]]:
        """The tenant's effective settings (product defaults overlaid with its own)."""
        _check_text("tenant_id", tenant_id)
        return (yield _Call("tenant_settings", {"tenant_id": tenant_id}))[0]["settings"]

    @operation
    def setting_specs(self) -> _Op[list[dict[str, Any]]]:
        """Every setting a tenant may have or a retrieve call may pass: key, value_type,
        default_value, minimum, maximum, max_items, choices, per_tenant, per_call, about (the
        rows the database validates against)."""
        rows = yield _Call("setting_specs")
        return [{**row, "minimum": _number(row["minimum"]), "maximum": _number(row["maximum"])} for row in rows]

    @operation
    def decay_sweep(self, batch: int = 10000) -> _Op[dict[str, Any]]:
        """One batch of the decay sweep (the next memories in key order, at most 32 tenants):
        {scanned, updated, stale, archived, pass_done}."""
        return (yield _Call("decay_sweep", {"batch": batch}))[0]["report"]

    @operation
    def compact_all(self) -> _Op[dict[str, Any]]:
        return (yield _Call("compact_all"))[0]["report"]

    @operation
    def audit_log(self, tenant_id: str | None = None, limit: int = 100) -> _Op[list[dict[str, Any]]]:
        """Erasures, exports, imports, forgets, tenant and login changes, newest first."""
        return (yield _Call("audit_log", {"tenant_id": tenant_id, "limit": limit}))

    @operation
    def retention_sweep(self) -> _Op[dict[str, Any]]:
        return (yield _Call("retention_sweep"))[0]["report"]

    @operation
    def create_login(self, tenant_id: str, login: str | None = None,
                     password: str | None = None) -> _Op[dict[str, Any]]:
        """A LOGIN role that can act for ``tenant_id`` only through its public functions."""
        _check_text("tenant_id", tenant_id)
        return (yield _Call("create_login", {"tenant_id": tenant_id, "login": login, "password": password}))[0]

    @operation
    def drop_login(self, login: str) -> _Op[bool]:
        return (yield _Call("drop_login", {"login": login}))[0]["dropped"]

    @operation
    def queue_stats(self) -> _Op[list[dict[str, Any]]]:
        """Episodes pending, processing and dead per tenant."""
        return (yield _Call("queue_stats"))

    @operation
    def retry_dead(self, tenant_id: str | None = None) -> _Op[int]:
        """Re-queue dead-letter episodes (of one tenant, or all); returns how many."""
        return (yield _Call("retry_dead", {"tenant_id": tenant_id}))[0]["requeued"]

    @operation
    def memory_kinds(self, *, extracted: bool | None = None) -> _Op[list[str]]:
        """The kinds of memory the database accepts (``extracted``: only those an extractor
        may produce, or only those it may not)."""
        return [r["kind"] for r in (yield _Call("memory_kinds"))
                if extracted is None or r["extracted"] == extracted]

    @operation
    def gazetteer(self) -> _Op[list[tuple[str, str, str]]]:
        """(term, canonical, entity_type) rows: the typed entities extraction recognises."""
        return [(r["term"], r["canonical"], r["entity_type"]) for r in (yield _Call("gazetteer"))]

    # -- API keys (the HTTP service) ---------------------------------------------------

    @operation
    def create_api_key(self, tenant_id: str, *, name: str | None = None) -> _Op[dict[str, Any]]:
        """A new API key for ``tenant_id``: {key_id, tenant_id, api_key, key_prefix, created_at}.
        ``api_key`` is shown here only; the database keeps its SHA-256 digest."""
        _check_text("tenant_id", tenant_id)
        _check_text("name", name, optional=True)
        return (yield _Call("create_api_key", {"tenant_id": tenant_id, "name": name}))[0]

    @operation
    def revoke_api_key(self, key_id: str) -> _Op[bool]:
        return bool((yield _Call("revoke_api_key", {"key_id": _as_uuid(key_id)}))[0]["revoked"])

    @operation
    def list_api_keys(self, tenant_id: str | None = None) -> _Op[list[dict[str, Any]]]:
        _check_text("tenant_id", tenant_id, optional=True)
        return (yield _Call("list_api_keys", {"tenant_id": tenant_id}))

    @operation
    def authenticate_key(self, api_key: str) -> _Op[dict[str, Any] | None]:
        """{tenant_id, role_name, key_id} for an active key, else None. Only the key's
        SHA-256 digest is sent to the database."""
        _check_text("api_key", api_key)
        digest = hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).digest()
        rows = yield _Call("authenticate_key", {"key_hash": digest})
        return rows[0] if rows else None


class _TenantOperations:
    """One tenant's data calls; each runs as the tenant's role in its own transaction."""

    def __init__(self, client: "Client | AsyncClient", tenant_id: str):
        self.client = client
        self.tenant_id = tenant_id

    def _call(self, name: str, params: dict):
        role = yield from self.client._role(self.tenant_id)
        return (yield _Call(name, params, role))

    @operation
    def remember(self, user_id: str, content: str, *, kind: str = "fact",
                 embedding: Sequence[float] | np.ndarray | None = None, importance: float = 0.5,
                 metadata: dict | None = None, session_id: str | None = None,
                 agent_id: str | None = None, observed_at: dt.datetime | None = None,
                 source: dict | None = None, subject: str | None = None,
                 attribute: str | None = None, value: str | None = None) -> _Op[str]:
        """Store one memory now, through the consistency engine; returns the id of the memory
        that holds the statement (an existing one when it was a duplicate).

        ``subject`` + ``attribute`` name a slot ("user", "display_theme"): a later memory of
        the same slot with another ``value`` (default: the content) supersedes this one.
        Embeds ``content`` when no embedding is given.
        """
        _check_text("user_id", user_id)
        _check_text("content", content)
        for name, text in (("session_id", session_id), ("agent_id", agent_id),
                           ("subject", subject), ("attribute", attribute), ("value", value)):
            _check_text(name, text, optional=True)
        yield from self.client._role(self.tenant_id)  # an unknown tenant fails before any embedding work
        if embedding is None and content.strip():
            embedding = (yield _Embed((content,)))[0]
        rows = yield from self._call("remember", {
            "user_id": user_id, "content": content, "kind": kind,
            "embedding": None if embedding is None else np.asarray(embedding, dtype=np.float32),
            "importance": importance, "metadata": Jsonb(metadata or {}),
            "session_id": session_id, "agent_id": agent_id, "observed_at": observed_at,
            "source": Jsonb(source or {}), "subject": subject, "attribute": attribute, "value": value,
        })
        return str(rows[0]["id"])

    @operation
    def retrieve(self, user_id: str, query: str, *, top_k: int = 10, token_budget: int | None = None,
                 kinds: Sequence[str] | None = None, filters: dict | None = None,
                 as_of: dt.datetime | None = None, min_score: float | None = None,
                 query_embedding: Sequence[float] | np.ndarray | None = None,
                 options: dict | None = None, include_store_items: bool = False) -> _Op[list[Memory]]:
        """The user's top-k memories for ``query``, best first, each with its score components.

        The query is embedded with the client's embedder (through its LRU cache) unless
        ``query_embedding`` is given. ``min_score`` leaves out weaker matches (what "what
        pets?" should not return). ``options`` overrides retrieval settings for this call
        (weights, fusion, candidate_pool, context_weights, ...; see pymem/sql/idempotent/040_retrieve.sql).
        Items an application keeps in a key-value store (``PymemStore``, LangGraph's store) are
        not conversational memory and are left out unless ``include_store_items`` is true.
        """
        _check_text("user_id", user_id)
        _check_text("query", query)
        yield from self.client._role(self.tenant_id)
        if min_score is not None:
            options = {**(options or {}), "min_score": min_score}
        if query_embedding is None:
            query_embedding = yield _EmbedQuery(query, self.tenant_id, user_id)
        if include_store_items:
            filters = {**(filters or {}), "store_items": True}
        rows = yield from self._call("retrieve", {
            "user_id": user_id, "query": query,
            "query_embedding": None if query_embedding is None else np.asarray(query_embedding, dtype=np.float32),
            "top_k": top_k, "token_budget": token_budget,
            "kinds": list(kinds) if kinds is not None else None,
            "filters": Jsonb(filters) if filters is not None else None, "as_of": as_of,
            "options": Jsonb(options) if options is not None else None,
        })
        return [Memory.from_row(row) for row in rows]

    @operation
    def get(self, memory_id: str) -> _Op[StoredMemory | None]:
        """One memory as stored, whatever its status (superseded and forgotten ones too), or
        None when the tenant has no such memory."""
        rows = yield from self._call("get_memory", {"memory_id": _as_uuid(memory_id)})
        return StoredMemory.from_row(rows[0]) if rows else None

    @operation
    def list(self, user_id: str, *, kinds: Sequence[str] | None = None, filters: dict | None = None,
             as_of: dt.datetime | None = None, limit: int = 50, before: str | None = None) -> _Op[list[StoredMemory]]:
        """The user's memories, newest first: the current ones (or those valid at ``as_of``),
        narrowed by ``kinds`` and ``filters`` as in retrieve. For the next page pass the last
        id as ``before``."""
        _check_text("user_id", user_id)
        rows = yield from self._call("list_memories", {
            "user_id": user_id, "kinds": list(kinds) if kinds is not None else None,
            "filters": Jsonb(filters) if filters is not None else None, "as_of": as_of, "limit": limit,
            "before": None if before is None else _as_uuid(before)})
        return [StoredMemory.from_row(row) for row in rows]

    @operation
    def ingest(self, user_id: str, messages: str | Sequence[dict], *, session_id: str | None = None,
               metadata: dict | None = None, agent_id: str | None = None,
               observed_at: dt.datetime | None = None) -> _Op[str]:
        """Enqueue a conversation turn (or turns) for extraction; returns the episode id at once.

        ``messages`` is a list of {"role", "content", "name"?, "id"?} or a plain string (one
        user message). User turns are searchable lexically at once; workers add vectors and
        the extracted memories.
        """
        _check_text("user_id", user_id)
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        if not isinstance(messages, (list, tuple)):
            raise InvalidInput("messages must be a list of {role, content} objects or a string")
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                raise InvalidInput(f"message {index} is not an object")
            for key, value in message.items():
                if isinstance(value, str):
                    _check_text(f"message {index} {key}", value)
        for name, value in (("session_id", session_id), ("agent_id", agent_id)):
            _check_text(name, value, optional=True)
        rows = yield from self._call("ingest", {
            "user_id": user_id, "messages": Jsonb(list(messages)), "session_id": session_id,
            "metadata": Jsonb(metadata or {}), "agent_id": agent_id, "observed_at": observed_at,
        })
        return str(rows[0]["episode_id"])

    @operation
    def erase_user(self, user_id: str) -> _Op[dict[str, Any]]:
        """Erase the user everywhere in one transaction; returns counts per store and a
        verified ``residual`` of 0. Unknown users report zeros."""
        _check_text("user_id", user_id)
        report = (yield from self._call("erase_user", {"user_id": user_id}))[0]["report"]
        self.client.query_cache.forget(self.tenant_id, user_id)  # the user's queries, in this process
        return report

    @operation
    def export_user(self, user_id: str) -> _Op[dict[str, Any]]:
        _check_text("user_id", user_id)
        return (yield from self._call("export_user", {"user_id": user_id}))[0]["export"]

    @operation
    def import_user(self, export: dict, *, user_id: str | None = None) -> _Op[dict[str, Any]]:
        _check_text("user_id", user_id, optional=True)
        return (yield from self._call("import_user", {"export": Jsonb(export), "user_id": user_id}))[0]["report"]

    @operation
    def update(self, memory_id: str, content: str, *,
               embedding: Sequence[float] | np.ndarray | None = None) -> _Op[str]:
        """Correct one current memory: a new version with ``content`` (its user, kind and
        importance kept) supersedes it from now on, and the old one stays in its history.
        Returns the new memory's id. NotFound for no such memory; InvalidInput for a raw
        conversation turn or a memory already replaced (the message names the replacement).
        Embeds ``content`` when no embedding is given."""
        _check_text("content", content)
        memory_uuid = _as_uuid(memory_id)
        yield from self.client._role(self.tenant_id)
        if embedding is None and content.strip():
            embedding = (yield _Embed((content,)))[0]
        rows = yield from self._call("update_memory", {
            "memory_id": memory_uuid, "content": content,
            "embedding": None if embedding is None else np.asarray(embedding, dtype=np.float32)})
        return str(rows[0]["id"])

    @operation
    def list_users(self, *, limit: int = 100, after: str | None = None) -> _Op[builtins.list[dict[str, Any]]]:
        """The tenant's users in id order, ``limit`` (1-1000) at a time, each as {user_id,
        memories (current ones, raw turns not counted), created_at, last_seen_at}. For the next
        page pass the last user_id as ``after``."""
        _check_text("after", after, optional=True)
        return (yield from self._call("list_users", {"limit": limit, "after": after}))

    @operation
    def forget(self, memory_id: str, *, reason: str | None = None) -> _Op[bool]:
        _check_text("reason", reason, optional=True)
        rows = yield from self._call("forget", {"memory_id": _as_uuid(memory_id), "reason": reason})
        return bool(rows[0]["forgotten"])

    @operation
    def history(self, memory_id: str | None = None, *, user_id: str | None = None,
                as_of: dt.datetime | None = None) -> _Op[builtins.list[dict[str, Any]]]:
        """The version chain of one memory, or (``user_id`` + ``as_of``) what the agent knew
        about a user at that moment."""
        if memory_id is not None:
            return (yield from self._call("history", {"memory_id": _as_uuid(memory_id)}))
        if user_id is None or as_of is None:
            raise InvalidInput("history needs a memory id, or user_id and as_of")
        _check_text("user_id", user_id)
        return (yield from self._call("history_as_of", {"user_id": user_id, "as_of": as_of}))

    @operation
    def contradictions(self, status: str | None = "open") -> _Op[builtins.list[dict[str, Any]]]:
        """Slot conflicts: open ones wait for review (policy manual); others record decisions."""
        return (yield from self._call("contradictions", {"status": status}))

    @operation
    def resolve_contradiction(self, contradiction_id: str, resolution: str) -> _Op[dict[str, Any]]:
        """keep_existing, accept_new or keep_both."""
        rows = yield from self._call("resolve_contradiction", {"id": _as_uuid(contradiction_id),
                                                               "resolution": resolution})
        return rows[0]["result"]

    @operation
    def compact(self, user_id: str | None = None) -> _Op[dict[str, Any]]:
        """Merge near-duplicates and summarise old episodes (one user, or all)."""
        _check_text("user_id", user_id, optional=True)
        return (yield from self._call("compact", {"user_id": user_id}))[0]["report"]


def _drive_steps(gen, perform):
    """Run an operation, answering each step with ``perform(step)`` (blocking)."""
    answer, error = None, None
    while True:
        try:
            step = gen.throw(error) if error is not None else gen.send(answer)
        except StopIteration as stop:
            return stop.value
        answer, error = None, None
        try:
            answer = perform(step)
        except PymemError as exc:
            error = exc


async def _adrive_steps(gen, perform):
    """Run an operation, awaiting ``perform(step)`` for each step."""
    answer, error = None, None
    while True:
        try:
            step = gen.throw(error) if error is not None else gen.send(answer)
        except StopIteration as stop:
            return stop.value
        answer, error = None, None
        try:
            answer = await perform(step)
        except PymemError as exc:
            error = exc


class _ClientBase:
    """What Client and AsyncClient share, their constructor included: they differ in their
    pools and in how a pool prepares a new connection (the class attributes below)."""

    _pools_class: type[TenantPools] | type[AsyncTenantPools]
    _configure_connection: Callable

    def __init__(self, dsn: str, *, embedder: Embedder | None, server: EmbeddedServer | None = None,
                 min_size: int = 1, max_size: int = 10, statement_timeout_ms: int | None = None,
                 query_cache_size: int = 50_000, query_cache_ttl: float = 24 * 3600,
                 pool_group_size: int = GROUP_SIZE):
        self.dsn = dsn
        self.embedder = embedder
        self.server = server
        self.statement_timeout_ms = statement_timeout_ms
        self.query_cache = QueryEmbeddingCache(query_cache_size, query_cache_ttl)
        self.cache_forgetter = CacheForgetter(dsn, self.query_cache)  # started by the first query
        self._roles: dict[str, str] = {}
        self._roles_lock = threading.Lock()
        # Grouped by tenant, for retrieve's prepared statements; a connection the server
        # closed (a restart) is replaced on checkout (pymem/pools.py).
        self._pools = self._pools_class(dsn, min_size=min_size, max_size=max_size,
                                        configure=self._configure_connection, group_size=pool_group_size,
                                        reconnect_timeout=300)

    @property
    def pool_size(self) -> int:
        """The most connections this client opens at once."""
        return self._pools.max_size

    def _embed_now(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        if self.embedder is None:
            return [None] * len(texts)
        return list(self.embedder.embed(list(texts)))

    def _query_vector_wanted(self, step: _EmbedQuery) -> tuple[bool, bool]:
        """(whether the query needs a vector: not without an embedder nor for a blank query;
        whether this call started the cache's erasure listener, and so waits for it a moment)."""
        if self.embedder is None or not step.text.strip():
            return False, False
        return True, self.query_cache.enabled and self.cache_forgetter.start()

    def _cached_query_vector(self, step: _EmbedQuery) -> tuple[tuple | None, np.ndarray | None, int]:
        """(cache key, cached vector, cache generation); key None: the cache may not be used
        now, as it cannot hear erasures (CacheForgetter)."""
        if not (self.query_cache.enabled and self.cache_forgetter.listening.is_set()):
            return None, None, 0
        generation = self.query_cache.generation
        key = (step.tenant_id, step.user_id, step.text)
        return key, self.query_cache.get(*key), generation

    def _keep_query_vector(self, key: tuple | None, vector: np.ndarray, generation: int) -> np.ndarray:
        return vector if key is None else self.query_cache.put(*key, vector, generation=generation)

#: Blocking clients not closed yet; closed at interpreter exit (see _close_at_exit).
_open_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Close the clients a program left open while their pools' threads can still stop.

    atexit runs before the interpreter freezes daemon threads; a pool closed later, by its
    finaliser, waits 5 s for each worker thread in vain on Python 3.13 ("couldn't stop
    thread", 40 s for the README's snippet). A forked child leaves its parent's clients alone:
    closing their connections would end the parent's sessions."""
    for client in list(_open_clients):
        if client._opened_by == os.getpid():
            client.close()


class Client(_ClientBase, _ClientOperations):
    """A connection pool to one pymem database. Create it with :func:`connect`."""

    _pools_class, _configure_connection = TenantPools, staticmethod(_configure)

    def open(self) -> "Client":
        self._pools.open(timeout=30)
        # Vectors from two models never meet in one column: an embedder that is not the
        # database's model is refused here, before it writes or searches anything.
        if self.embedder is not None:
            with self._pools.connection() as conn:
                problem = embedder_mismatch(migrations.embedding_model(conn), self.embedder)
            if problem:
                self._pools.close()
                raise EmbedderMismatch(problem)
        self._opened_by = os.getpid()
        _open_clients.add(self)
        return self

    def close(self) -> None:
        _open_clients.discard(self)
        self.cache_forgetter.close()
        self._pools.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def tenant(self, tenant_id: str) -> "TenantClient":
        """A handle for one tenant's data calls. No I/O until the first call."""
        _check_text("tenant_id", tenant_id)
        return TenantClient(self, tenant_id)

    # -- running operations --------------------------------------------------------

    def _drive(self, gen):
        return _drive_steps(gen, self._perform)

    def _perform(self, step):
        if isinstance(step, _Call):
            return self._call(step.name, step.params, role=step.role)
        if isinstance(step, _Embed):
            return self._embed_now(step.texts)
        wanted, started = self._query_vector_wanted(step)
        if not wanted:
            return None
        if started:
            self.cache_forgetter.settled.wait(5)
        key, vector, generation = self._cached_query_vector(step)
        if vector is not None:
            return vector
        return self._keep_query_vector(key, self.embedder.embed([step.text])[0], generation)

    def _call(self, name: str, params: dict | None = None, *, role: str | None = None) -> list[dict]:
        with translated(), self._pools.connection(role) as conn:
            # Pipeline mode sends BEGIN, SET LOCAL ROLE and the call without waiting for
            # each answer: one round trip fewer per statement on the hot path.
            with conn.pipeline(), transaction(conn, role, statement_timeout_ms=self.statement_timeout_ms):
                with conn.cursor(row_factory=dict_row) as cur:
                    cur.execute(query(name), params or {})
                    return cur.fetchall()  # every named query is a select


class TenantClient(_TenantOperations):
    """Data calls for one tenant; each runs as the tenant's role in its own transaction."""

    client: Client

    @property
    def role(self) -> str:
        """The tenant's role (looked up once per client; raises NotFound for unknown tenants)."""
        return self.client.tenant_role(self.tenant_id)

    def _drive(self, gen):
        return self.client._drive(gen)


class AsyncClient(_ClientBase, _ClientOperations):
    """The asyncio twin of :class:`Client` (psycopg's async pool): the same methods, checks,
    results and errors, as coroutines. Create it with :func:`connect_async`. The local
    embedding model runs in a worker thread."""

    _pools_class, _configure_connection = AsyncTenantPools, staticmethod(_configure_async)

    async def open(self) -> "AsyncClient":
        await self._pools.open(timeout=30)
        if self.embedder is not None:
            async with self._pools.connection() as conn:
                cursor = await conn.execute(query("embedding_model"))
                recorded = tuple(await cursor.fetchone())
            problem = embedder_mismatch(recorded, self.embedder)
            if problem:
                await self._pools.close()
                raise EmbedderMismatch(problem)
        return self

    async def close(self) -> None:
        await asyncio.to_thread(self.cache_forgetter.close)
        await self._pools.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def tenant(self, tenant_id: str) -> "AsyncTenantClient":
        """A handle for one tenant's data calls. No I/O until the first call."""
        _check_text("tenant_id", tenant_id)
        return AsyncTenantClient(self, tenant_id)

    async def _adrive(self, gen):
        return await _adrive_steps(gen, self._aperform)

    async def _aperform(self, step):
        if isinstance(step, _Call):
            return await self._acall(step.name, step.params, role=step.role)
        if isinstance(step, _Embed):
            return await asyncio.to_thread(self._embed_now, step.texts)
        wanted, started = self._query_vector_wanted(step)
        if not wanted:
            return None
        if started:
            await asyncio.to_thread(self.cache_forgetter.settled.wait, 5)
        key, vector, generation = self._cached_query_vector(step)
        if vector is not None:
            return vector
        embedded = await asyncio.to_thread(self.embedder.embed, [step.text])
        return self._keep_query_vector(key, embedded[0], generation)

    async def _acall(self, name: str, params: dict | None = None, *, role: str | None = None) -> list[dict]:
        with translated():
            async with self._pools.connection(role) as conn, conn.pipeline(), \
                    atransaction(conn, role, statement_timeout_ms=self.statement_timeout_ms):
                async with conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute(query(name), params or {})
                    return await cur.fetchall()


class AsyncTenantClient(_TenantOperations):
    """Data calls for one tenant, as coroutines (see :class:`TenantClient`)."""

    client: AsyncClient

    async def _adrive(self, gen):
        return await self.client._adrive(gen)


_bind(Client, _ClientOperations)
_bind(TenantClient, _TenantOperations)
_bind(AsyncClient, _ClientOperations)
_bind(AsyncTenantClient, _TenantOperations)


def _as_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"not a memory id: {str(value)[:80]!r}") from None


def _resolve(dsn: str | None, home: str | os.PathLike | None, dbname: str,
             embedding: tuple[str, int] | None = None) -> tuple[str, EmbeddedServer | None]:
    """The service DSN to use, and the embedded server when pymem runs it (a database it
    creates is created for the ``embedding`` model: name, dimensions)."""
    location = locate(dsn, home)
    dsn, server = location.dsn, None
    if dsn is None:
        server = EmbeddedServer(location.home)
        server.start()
        admin_dsn = server.uri(dbname)
        with psycopg.connect(admin_dsn) as conn:
            outdated = migrations.needs_migration(conn)
            new = migrations.current_revision(conn) is None
        if outdated:
            migrations.migrate(admin_dsn, embedding=embedding if new else None)
        dsn = migrations.service_dsn(admin_dsn)
    else:
        with psycopg.connect(dsn) as conn:
            if migrations.needs_migration(conn):
                raise PymemError("the database is not migrated to this pymem version: run `pymem migrate`")
    return dsn, server


def _embedder(embedder: Embedder | str | None) -> Embedder | None:
    if embedder == "auto":
        return embedder_from_env()
    if embedder == "local":
        return default_embedder()
    if isinstance(embedder, str):
        raise InvalidInput(f"unknown embedder {embedder!r}; use 'auto', 'local', None or an Embedder object")
    return embedder


def _spec(embedder: Embedder | None) -> tuple[str, int] | None:
    model = getattr(embedder, "model", None)
    return (model, embedder.dimensions) if model else None


def connect(dsn: str | None = None, *, home: str | os.PathLike | None = None,
            embedder: Embedder | str | None = "auto", dbname: str = "postgres",
            max_size: int = 10, statement_timeout_ms: int | None = None,
            query_cache_size: int = 50_000, query_cache_ttl: float = 24 * 3600,
            pool_group_size: int = GROUP_SIZE) -> Client:
    """Open a client.

    The database (pymem.server.locate()): ``dsn``, else the embedded server under ``home``,
    else ``$PYMEM_DSN``, else the embedded server under ``$PYMEM_HOME``, an existing
    ``./.pymem`` (with a notice) or the per-user home (``~/.local/share/pymem``), started and
    migrated on demand.
    ``embedder`` "auto" is what the worker and the service use: the endpoint in
    ``$PYMEM_EMBED_URL`` when set, else the local model; "local" is all-MiniLM-L6-v2 from its
    wheel; None stores no vectors. ``pool_group_size``: connections per group of tenants
    (pymem/pools.py; 0: one pool for all).
    """
    embedder = _embedder(embedder)
    dsn, server = _resolve(dsn, home, dbname, _spec(embedder))
    return Client(dsn, embedder=embedder, server=server, max_size=max_size, statement_timeout_ms=statement_timeout_ms,
                  query_cache_size=query_cache_size, query_cache_ttl=query_cache_ttl,
                  pool_group_size=pool_group_size).open()


async def connect_async(dsn: str | None = None, *, home: str | os.PathLike | None = None,
                        embedder: Embedder | str | None = "auto", dbname: str = "postgres",
                        max_size: int = 10, statement_timeout_ms: int | None = None,
                        query_cache_size: int = 50_000, query_cache_ttl: float = 24 * 3600,
                        pool_group_size: int = GROUP_SIZE) -> AsyncClient:
    """Open an :class:`AsyncClient`; the same arguments as :func:`connect`. Starting the
    embedded server, migrating and loading the model run in a worker thread."""
    embedder = await asyncio.to_thread(_embedder, embedder)
    dsn, server = await asyncio.to_thread(_resolve, dsn, home, dbname, _spec(embedder))
    client = AsyncClient(dsn, embedder=embedder, server=server, max_size=max_size,
                         statement_timeout_ms=statement_timeout_ms, query_cache_size=query_cache_size,
                         query_cache_ttl=query_cache_ttl, pool_group_size=pool_group_size)
    return await client.open()
