"""The HTTP service: FastAPI routes over the thin client, each calling one SQL function.

A handler does four things and nothing else: validate the body (pydantic), decide the
tenant (API key, or the gateway's header when enabled), call one client method (one SQL
function, as the tenant's role for data), and shape the answer. Ranking, validation of
content, isolation and the rest live in the database.

Errors have one shape everywhere, 404/405/413/422/429/500 included:
``{"error": {"code": "...", "message": "..."}}`` (plus ``details`` for invalid bodies).

Blocking work (psycopg, the embedding model) runs in worker threads under a time limit;
the database side is bounded too (statement_timeout on the service's connections), so a
request that times out here does not keep running there for long.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Callable, Literal, TypeVar

import anyio
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import client as client_mod
from ..admin import reindex_tenant
from ..client import Client, PymemError
from .metrics import DatabaseCollector, ServiceMetrics

log = logging.getLogger("pymem.service")
T = TypeVar("T")

KIND = Literal["fact", "preference", "event", "procedural", "episode"]


@dataclass
class ServiceConfig:
    """What an operator may set (`pymem serve --help` names each)."""

    max_concurrent_retrievals: int = 20       # per tenant, per service process; more -> 429
    max_body_bytes: int = 2 * 1024 * 1024     # larger bodies -> 413 (ingest itself caps messages at 1 MiB)
    request_timeout: float = 10.0             # seconds for the blocking part of a request -> 504
    gateway_tenant_header: str | None = None  # trust this header for the tenant (gateway mode)
    auto_provision: bool = False              # gateway mode: create unknown tenants on first use
    admin_token: str | None = None            # bearer token for admin routes (all tenants)
    key_cache_seconds: float = 5.0            # a revoked key still works this long in this process
    metrics_cache_seconds: float = 10.0       # database-side metrics are re-read at most this often
    owner_dsn: str | None = None              # the tables' owner, for index rebuilds (none: route is 501)


# -- request and response bodies ---------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(_Body):
    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field(min_length=1, max_length=32000)
    name: str | None = Field(None, min_length=1, max_length=100)
    id: str | None = Field(None, min_length=1, max_length=200)


class IngestRequest(_Body):
    tenant_id: str | None = Field(None, description="Must match the API key's tenant when given.",
                                  min_length=1, max_length=63)
    user_id: str = Field(min_length=1, max_length=256)
    content: str | None = Field(None, min_length=1, max_length=100000,
                                description="One user message (or, with `type`, one memory stored now).")
    messages: list[Message] | None = Field(None, min_length=1, max_length=200)
    type: KIND | None = Field(None, description="With `content`: store one memory of this kind synchronously "
                                                "(remember) instead of enqueueing an episode.")
    session_id: str | None = Field(None, min_length=1, max_length=256)
    agent_id: str | None = Field(None, min_length=1, max_length=256)
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> "IngestRequest":
        if (self.content is None) == (self.messages is None):
            raise ValueError("give exactly one of content and messages")
        if self.type is not None and self.messages is not None:
            raise ValueError("type applies to content, not to messages")
        return self


class IngestResponse(BaseModel):
    ids: list[str] = Field(description="The episode id, or the memory id when `type` stored a memory.")
    kind: str
    tenant_id: str
    user_id: str


class RetrieveRequest(_Body):
    tenant_id: str | None = Field(None, min_length=1, max_length=63)
    user_id: str = Field(min_length=1, max_length=256)
    query: str = Field(max_length=10000)
    top_k: int = Field(10, ge=1, le=1000)
    token_budget: int | None = Field(None, ge=1, le=10_000_000)
    kinds: list[KIND] | None = Field(None, max_length=5)


class MemoryOut(BaseModel):
    id: str
    tenant_id: str
    user_id: str
    kind: str
    content: str
    score: float
    vector_score: float
    lexical_score: float
    recency_score: float
    graph_score: float = 0.0
    context_score: float = 0.0
    importance: float
    created_at: str
    observed_at: str
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict[str, Any] = {}
    source: dict[str, Any] = {}
    token_count: int = 0


class RetrieveResponse(BaseModel):
    results: list[MemoryOut]


class UserRequest(_Body):
    tenant_id: str | None = Field(None, min_length=1, max_length=63)
    user_id: str = Field(min_length=1, max_length=256)


class RebuildRequest(_Body):
    tenant: str = Field(min_length=1, max_length=63, description='"all" or one tenant id.')


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- errors -------------------------------------------------------------------------------

class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def _error(status: int, code: str, message: str, *, headers: dict | None = None,
           details: list | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
                 422: "invalid_request", 429: "too_many_requests", 500: "internal_error",
                 501: "not_implemented", 503: "unavailable", 504: "timeout"}


def _from_pymem(exc: PymemError) -> ServiceError:
    """The client's exceptions (SQLSTATE classes) as HTTP answers."""
    state = exc.sqlstate or ""
    message = str(exc).removeprefix("pymem: ")
    if isinstance(exc, client_mod.InvalidInput):
        return ServiceError(422, "invalid_input", message)
    if isinstance(exc, client_mod.PermissionDenied):
        return ServiceError(403, "forbidden", message)
    if isinstance(exc, client_mod.NotFound):
        return ServiceError(404, "not_found", message)
    if isinstance(exc, client_mod.AlreadyExists):
        return ServiceError(409, "already_exists", message)
    if state == "42883":  # undefined_function: the module that provides it is not installed
        return ServiceError(501, "not_implemented", f"this database has no such function yet: {message}")
    if state == "57014":  # query_canceled: statement_timeout
        return ServiceError(504, "timeout", "the database did not answer in time")
    cause = exc.__cause__
    if not state and isinstance(cause, psycopg.DataError):  # refused before sending (NUL bytes, encoding)
        return ServiceError(422, "invalid_input", message)
    if state.startswith(("08", "53", "57")) or isinstance(cause, psycopg.OperationalError):
        return ServiceError(503, "unavailable", "the database is unavailable; retry later")
    return ServiceError(500, "internal_error", f"database error {state or type(cause).__name__}")


# -- the middleware: body size limit and HTTP metrics --------------------------------------

class _BodyTooLarge(StarletteHTTPException):
    """Raised while the body streams in. An HTTPException, because FastAPI turns any other
    error raised while reading the body into a 400."""

    def __init__(self, limit: int):
        super().__init__(413, f"request bodies are limited to {limit} bytes")


class ServiceMiddleware:
    """Pure ASGI (no buffering): refuses bodies over the limit with 413, and counts every
    request by route template (bounded label values), method and status."""

    def __init__(self, app, *, max_body_bytes: int, metrics: ServiceMetrics):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status_holder = {"status": 500, "sent": False}
        limit = self.max_body_bytes

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["sent"] = True
            await send(message)

        async def refuse():
            response = _error(413, "payload_too_large", f"request bodies are limited to {limit} bytes")
            await response(scope, receive, send_wrapper)

        self.metrics.in_flight.inc()
        try:
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                await refuse()
                return
            received = 0

            async def receive_wrapper():
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise _BodyTooLarge(limit)
                return message

            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            except _BodyTooLarge:
                if not status_holder["sent"]:
                    await refuse()
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.http_requests.labels(template, scope["method"], str(status_holder["status"])).inc()
            self.metrics.http_duration.labels(template).observe(time.perf_counter() - started)


# -- per-tenant concurrency --------------------------------------------------------------

class TenantLimiter:
    """At most ``limit`` retrievals of one tenant at once in this process; the next one is
    refused (429 + Retry-After) rather than queued, so a noisy tenant cannot take every
    worker thread and database connection from the others. Runs on the event loop only."""

    def __init__(self, limit: int, metrics: ServiceMetrics):
        self.limit = limit
        self.metrics = metrics
        self.active: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, tenant_id: str):
        current = self.active.get(tenant_id, 0)
        if current >= self.limit:
            self.metrics.retrieval_rejected.labels("tenant_concurrency").inc()
            raise ServiceError(429, "too_many_requests",
                               f"tenant {tenant_id} has {current} retrievals running; the limit is {self.limit}",
                               headers={"Retry-After": "1"})
        self.active[tenant_id] = current + 1
        try:
            yield
        finally:
            left = self.active[tenant_id] - 1
            if left:
                self.active[tenant_id] = left
            else:
                del self.active[tenant_id]


# -- the application -----------------------------------------------------------------------

class Service:
    """Holds the client, configuration, metrics and caches; builds the FastAPI app."""

    def __init__(self, client: Client, config: ServiceConfig | None = None,
                 metrics: ServiceMetrics | None = None, collect_database: bool = True):
        self.client = client
        self.config = config or ServiceConfig()
        self.metrics = metrics or ServiceMetrics()
        self.limiter = TenantLimiter(self.config.max_concurrent_retrievals, self.metrics)
        self._keys: dict[bytes, tuple[float, dict]] = {}
        self.collector = None
        if collect_database:
            self.collector = DatabaseCollector(client.dsn, ttl=self.config.metrics_cache_seconds)
            self.metrics.registry.register(self.collector)

    async def blocking(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a worker thread, under the request time limit."""
        try:
            with anyio.fail_after(self.config.request_timeout):
                return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
        except TimeoutError:
            raise ServiceError(504, "timeout", f"the request took longer than {self.config.request_timeout:g} s")
        except PymemError as exc:
            raise _from_pymem(exc) from exc

    # -- who is calling ----------------------------------------------------------------

    @staticmethod
    def _presented_key(request: Request) -> str | None:
        header = request.headers.get("authorization")
        if header:
            scheme, _, credentials = header.partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise ServiceError(401, "unauthorized", "use 'Authorization: Bearer <api key>'",
                                   headers={"WWW-Authenticate": "Bearer"})
            return credentials.strip()
        return request.headers.get("x-api-key") or None

    async def _authenticate(self, key: str) -> dict | None:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        auth = await self.blocking(lambda: self.client.authenticate_key(key))
        if auth is not None and self.config.key_cache_seconds > 0:
            if len(self._keys) > 10000:
                self._keys.clear()
            self._keys[digest] = (now + self.config.key_cache_seconds, auth)
        return auth

    def is_admin(self, request: Request) -> bool:
        token = self.config.admin_token
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), token.encode())

    async def tenant_for(self, request: Request, claimed: str | None) -> str:
        """The tenant this request acts for. The API key decides; a body tenant_id that
        disagrees is refused (403). In gateway mode, without a key, the trusted header does."""
        key = self._presented_key(request)
        header = self.config.gateway_tenant_header
        gateway_tenant = request.headers.get(header) if header else None
        if key is not None:
            auth = await self._authenticate(key)
            if auth is None:
                raise ServiceError(401, "unauthorized", "unknown or revoked API key",
                                   headers={"WWW-Authenticate": "Bearer"})
            tenant_id = auth["tenant_id"]
            if gateway_tenant is not None and gateway_tenant != tenant_id:
                raise ServiceError(403, "tenant_mismatch", "the gateway's tenant header and the API key disagree")
        elif gateway_tenant:
            tenant_id = gateway_tenant
            await self._ensure_tenant(tenant_id)
        else:
            raise ServiceError(401, "unauthorized", "an API key is required ('Authorization: Bearer <key>')",
                               headers={"WWW-Authenticate": "Bearer"})
        if claimed is not None and claimed != tenant_id:
            raise ServiceError(403, "tenant_mismatch", "tenant_id in the body is not the API key's tenant")
        return tenant_id

    async def _ensure_tenant(self, tenant_id: str) -> None:
        try:
            await self.blocking(lambda: self.client.tenant_role(tenant_id))
        except ServiceError as exc:
            if exc.status != 404:
                raise
            if not self.config.auto_provision:
                raise ServiceError(404, "unknown_tenant",
                                   f"no tenant {tenant_id!r}; create it (pymem tenant create) or start "
                                   "the service with --auto-provision") from None
            await self.blocking(lambda: self.client.create_tenant(tenant_id, exist_ok=True))
            log.info("auto-provisioned tenant %s", tenant_id)

    # -- app ---------------------------------------------------------------------------

    def app(self) -> FastAPI:
        errors = {status: {"model": ErrorBody, "description": _STATUS_CODES[status]}
                  for status in (401, 403, 413, 422, 500, 503, 504)}
        @asynccontextmanager
        async def lifespan(app: FastAPI):
            yield
            if self.collector is not None:
                self.collector.close()

        app = FastAPI(title="pymem", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan,
                      description="Memory layer for AI agents: every route calls one SQL function. "
                                  "Authenticate with 'Authorization: Bearer <tenant API key>'.")
        service = self
        client = self.client
        metrics = self.metrics

        @app.exception_handler(ServiceError)
        async def _service_error(request: Request, exc: ServiceError):
            return _error(exc.status, exc.code, exc.message, headers=exc.headers)

        @app.exception_handler(PymemError)
        async def _pymem_error(request: Request, exc: PymemError):
            mapped = _from_pymem(exc)
            return _error(mapped.status, mapped.code, mapped.message)

        @app.exception_handler(StarletteHTTPException)
        async def _http_error(request: Request, exc: StarletteHTTPException):
            code = _STATUS_CODES.get(exc.status_code, "error")
            return _error(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

        @app.exception_handler(RequestValidationError)
        async def _invalid(request: Request, exc: RequestValidationError):
            details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))[:500]}
                       for e in exc.errors()[:20]]
            return _error(422, "invalid_request", "the request does not match the API schema", details=details)

        @app.exception_handler(Exception)
        async def _unexpected(request: Request, exc: Exception):
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return _error(500, "internal_error", "internal error")

        app.add_middleware(ServiceMiddleware, max_body_bytes=self.config.max_body_bytes, metrics=metrics)

        @app.post("/api/memory/ingest", status_code=201, response_model=IngestResponse,
                  responses={**errors, 404: {"model": ErrorBody}}, tags=["memory"])
        async def ingest(body: IngestRequest, request: Request):
            """Enqueue a conversation episode (`pymem.ingest`), or with `type` store one memory now
            (`pymem.remember`)."""
            tenant_id = await service.tenant_for(request, body.tenant_id)
            tenant = client.tenant(tenant_id)
            if body.type is not None and body.type != "episode":
                memory_id = await service.blocking(lambda: tenant.remember(
                    body.user_id, body.content, kind=body.type, metadata=body.metadata,
                    session_id=body.session_id, agent_id=body.agent_id))
                ids, kind = [memory_id], body.type
            else:
                messages = ([m.model_dump(exclude_none=True) for m in body.messages] if body.messages is not None
                            else body.content)
                episode_id = await service.blocking(lambda: tenant.ingest(
                    body.user_id, messages, session_id=body.session_id, metadata=body.metadata,
                    agent_id=body.agent_id))
                ids, kind = [episode_id], "episode"
            return {"ids": ids, "kind": kind, "tenant_id": tenant_id, "user_id": body.user_id}

        @app.post("/api/memory/retrieve", response_model=RetrieveResponse,
                  responses={**errors, 404: {"model": ErrorBody}, 429: {"model": ErrorBody}}, tags=["memory"])
        async def retrieve(body: RetrieveRequest, request: Request):
            """The user's top-k memories for a query (`pymem.retrieve`), best first, with score components."""
            tenant_id = await service.tenant_for(request, body.tenant_id)
            tenant = client.tenant(tenant_id)
            async with service.limiter.slot(tenant_id):
                started = time.perf_counter()
                memories = await service.blocking(lambda: tenant.retrieve(
                    body.user_id, body.query, top_k=body.top_k, token_budget=body.token_budget,
                    kinds=body.kinds))
                metrics.retrieved(time.perf_counter() - started, [m.score for m in memories])
            return {"results": [m.as_dict() for m in memories]}

        @app.delete("/api/memory/{memory_id}", responses={**errors, 404: {"model": ErrorBody}}, tags=["memory"])
        async def forget(memory_id: uuid.UUID, request: Request):
            """Forget one memory of the caller's tenant (`pymem.forget`); 404 when none is visible."""
            tenant_id = await service.tenant_for(request, None)
            tenant = client.tenant(tenant_id)
            try:
                forgotten = await service.blocking(lambda: tenant.forget(str(memory_id), reason="api"))
            except ServiceError:
                metrics.deletions.labels("forget", "failed").inc()
                raise
            metrics.deletions.labels("forget", "completed" if forgotten else "not_found").inc()
            if not forgotten:
                raise ServiceError(404, "memory_not_found", f"no memory {memory_id} for this tenant")
            return {"id": str(memory_id), "forgotten": True}

        @app.post("/api/users/erase", responses={**errors, 404: {"model": ErrorBody}},
                  tags=["users"])
        async def erase_user(body: UserRequest, request: Request):
            """Erase everything stored about one user (`pymem.erase_user`): every store, verified
            in the same transaction (the report's `residual` is 0)."""
            tenant_id = await service.tenant_for(request, body.tenant_id)
            tenant = client.tenant(tenant_id)
            try:
                report = await service.blocking(lambda: tenant.erase_user(body.user_id))
            except ServiceError:
                metrics.deletions.labels("erase", "failed").inc()
                raise
            metrics.deletions.labels("erase", "completed").inc()
            return {"tenant_id": tenant_id, "user_id": body.user_id, "report": report}

        @app.post("/api/users/export", responses={**errors, 404: {"model": ErrorBody}},
                  tags=["users"])
        async def export_user(body: UserRequest, request: Request):
            """Everything stored about one user, as one JSON document (`pymem.export_user`)."""
            tenant_id = await service.tenant_for(request, body.tenant_id)
            tenant = client.tenant(tenant_id)
            export = await service.blocking(lambda: tenant.export_user(body.user_id))
            return {"tenant_id": tenant_id, "user_id": body.user_id, "export": export}

        @app.post("/api/admin/index/rebuild",
                  responses={**errors, 404: {"model": ErrorBody}, 501: {"model": ErrorBody}}, tags=["admin"])
        async def rebuild_indexes(body: RebuildRequest, request: Request):
            """Rebuild a tenant's retrieval indexes concurrently from its current settings (the
            statements of `pymem.reindex_plan`, as `pymem admin reindex` runs them). `"all"`
            needs the admin token; a tenant's API key may rebuild its own tenant. Reads go on
            meanwhile; the answer comes when the builds are done (not bound by the request time
            limit). 501 when the service was started without the owner's DSN."""
            if not service.is_admin(request):
                tenant_id = await service.tenant_for(request, None)
                if body.tenant != tenant_id:
                    raise ServiceError(403, "forbidden", "a tenant key may rebuild its own tenant only; "
                                                         "'all' and other tenants need the admin token")
            if not service.config.owner_dsn:
                raise ServiceError(501, "not_implemented", "index rebuilds need the tables' owner: start the "
                                                           "service with owner_dsn (pymem serve does)")

            def rebuild() -> list[dict]:
                tenants = ([t["tenant_id"] for t in client.list_tenants()] if body.tenant == "all"
                           else [body.tenant])
                try:
                    return [reindex_tenant(service.config.owner_dsn, t) for t in tenants]
                except psycopg.Error as exc:
                    raise client_mod._translate(exc) from exc

            try:
                reports = await anyio.to_thread.run_sync(rebuild)
            except PymemError as exc:
                raise _from_pymem(exc) from exc
            return {"tenant": body.tenant, "report": reports}

        @app.get("/healthz", responses={503: {"model": ErrorBody}}, tags=["operations"])
        async def healthz():
            """200 when the database answers (it asks for the install's capabilities)."""
            try:
                capabilities = await service.blocking(client.capabilities)
            except ServiceError as exc:
                raise ServiceError(503, "unavailable", f"database check failed: {exc.message}") from None
            return {"status": "ok", "database": "ok", "server_version": capabilities.get("server_version"),
                    "time": dt.datetime.now(dt.timezone.utc).isoformat()}

        @app.get("/metrics", response_class=Response, tags=["operations"],
                 responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
        async def metrics_endpoint():
            """Prometheus metrics: the service's own and database-side figures (cached briefly)."""
            payload = await anyio.to_thread.run_sync(generate_latest, metrics.registry)
            return Response(payload, media_type=CONTENT_TYPE_LATEST)

        return app


def create_app(client: Client, config: ServiceConfig | None = None, **kwargs) -> FastAPI:
    return Service(client, config, **kwargs).app()
