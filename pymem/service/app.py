"""The HTTP service: FastAPI routes over the thin client, each calling one SQL function.

The routes live in routes/ (one APIRouter per area: memory, users, admin, operations). A
handler does four things and nothing else: validate the body (pydantic, models.py), decide
the tenant (API key, or the gateway's header when enabled: ``Service.tenant_for``), call one
client method (one SQL function, as the tenant's role for data), and shape the answer.
Ranking, validation of content, isolation and the rest live in the database. Errors have
one shape everywhere (errors.py).

Blocking work (psycopg, the embedding model) runs in worker threads under a time limit;
the database side is bounded too (statement_timeout on the service's connections), so a
request that times out here does not keep running there for long.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Callable, TypeVar

import anyio

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(f"pymem's HTTP service needs the 'service' extra ({exc.name} is missing): "
                      "pip install 'pymem-pg[service]'") from exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..client import CacheForgetter, Client
from ..errors import PymemError
from .errors import STATUS_CODES, ServiceError, error_response, from_pymem
from .keys import KeyCache
from .metrics import DatabaseCollector, ServiceMetrics
from .routes import admin, memory, operations, users

log = logging.getLogger("pymem.service")
T = TypeVar("T")


@dataclass
class ServiceConfig:
    """What an operator may set (`pymem serve --help` names each)."""

    max_concurrent_per_tenant: int | None = None  # data calls of one tenant at once, per process; more
                                                  # -> 429. None: a quarter of the pool (at least 1)
    max_body_bytes: int = 2 * 1024 * 1024     # larger bodies -> 413 (ingest itself caps messages at 1 MiB)
    request_timeout: float = 10.0             # seconds for the blocking part of a request -> 504
    gateway_tenant_header: str | None = None  # trust this header for the tenant (gateway mode)
    auto_provision: bool = False              # gateway mode: create unknown tenants on first use
    admin_token: str | None = None            # bearer token for admin routes (all tenants)
    key_cache_seconds: float = 5.0            # a revoked key still works this long in this process
    metrics_cache_seconds: float = 10.0       # database-side metrics are re-read at most this often
    owner_dsn: str | None = None              # the tables' owner, for index rebuilds (none: route is 501)
    metrics_token: str | None = None          # bearer token for /metrics; none: loopback callers only
    primary_dsn: str | None = None            # a service reading from a standby: the primary, to LISTEN on


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
            response = error_response(413, "payload_too_large", f"request bodies are limited to {limit} bytes")
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
    """At most ``limit`` database calls of one tenant at once in this process; the next one
    is refused (429 + Retry-After) rather than queued. The limit is a share of the pool, so
    a tenant whose calls are slow (or made slow on purpose) holds that share and the other
    tenants keep the rest. A slot is given back when the call's thread ends, not when the
    request gives up on it (504): until then it still holds a connection."""

    def __init__(self, limit: int, metrics: ServiceMetrics):
        self.limit = limit
        self.metrics = metrics
        self.active: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, tenant_id: str, operation: str) -> None:
        with self._lock:
            current = self.active.get(tenant_id, 0)
            if current >= self.limit:
                self.metrics.tenant_rejected.labels(operation).inc()
                if operation == "retrieve":
                    self.metrics.retrieval_rejected.labels("tenant_concurrency").inc()
                raise ServiceError(429, "too_many_requests",
                                   f"tenant {tenant_id} has {current} calls running; the limit is {self.limit}",
                                   headers={"Retry-After": "1"})
            self.active[tenant_id] = current + 1

    def release(self, tenant_id: str) -> None:
        with self._lock:
            left = self.active[tenant_id] - 1
            if left:
                self.active[tenant_id] = left
            else:
                del self.active[tenant_id]


# -- the application -----------------------------------------------------------------------

class Service:
    """Holds the client, configuration, metrics and caches; builds the FastAPI app."""

    def __init__(self, client: Client, config: ServiceConfig | None = None,
                 metrics: ServiceMetrics | None = None, collect_database: bool = True,
                 close_client: bool = False):
        self.client = client
        self.close_client = close_client
        self.config = config or ServiceConfig()
        # The client's listener (one per process): it clears the query cache on every erasure.
        self.forgetter: CacheForgetter = client.cache_forgetter
        if self.config.primary_dsn:
            self.forgetter.dsn = self.config.primary_dsn
        self.metrics = metrics or ServiceMetrics()
        share = self.config.max_concurrent_per_tenant or max(1, client.pool_size // 4)
        self.limiter = TenantLimiter(share, self.metrics)
        self.keys = KeyCache(self.config.key_cache_seconds)
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
            raise from_pymem(exc) from exc

    async def for_tenant(self, tenant_id: str, operation: str, fn: Callable[[], T]) -> T:
        """``blocking(fn)`` within the tenant's share of the pool (429 beyond it). The slot
        goes back when ``fn`` ends, or at once if the request gave up before it started."""
        self.limiter.acquire(tenant_id, operation)
        state = {"started": False, "abandoned": False}
        guard = threading.Lock()

        def run() -> T:
            with guard:
                if state["abandoned"]:
                    raise RuntimeError("abandoned before it started")
                state["started"] = True
            try:
                return fn()
            finally:
                self.limiter.release(tenant_id)

        try:
            return await self.blocking(run)
        finally:
            with guard:
                if not state["started"]:
                    state["abandoned"] = True
                    self.limiter.release(tenant_id)

    # -- who is calling ----------------------------------------------------------------

    @staticmethod
    def _single(request: Request, name: str) -> str | None:
        """A header that decides who is calling, present at most once: with two, proxies
        and this service could each read a different one (400)."""
        values = request.headers.getlist(name)
        if len(values) > 1:
            raise ServiceError(400, "bad_request", f"the {name} header is given {len(values)} times; send it once")
        return values[0] if values else None

    @classmethod
    def _presented_key(cls, request: Request) -> str | None:
        header = cls._single(request, "authorization")
        if header:
            scheme, _, credentials = header.partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise ServiceError(401, "unauthorized", "use 'Authorization: Bearer <api key>'",
                                   headers={"WWW-Authenticate": "Bearer"})
            return credentials.strip()
        return cls._single(request, "x-api-key") or None

    async def _authenticate(self, key: str) -> dict | None:
        return await self.keys.authenticate(key, lambda k: self.blocking(lambda: self.client.authenticate_key(k)))

    def _bearer_is(self, request: Request, token: str | None) -> bool:
        header = self._single(request, "authorization") or ""
        scheme, _, credentials = header.partition(" ")
        return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), token.encode())

    def is_admin(self, request: Request) -> bool:
        return self._bearer_is(request, self.config.admin_token)

    def check_metrics_access(self, request: Request) -> None:
        """/metrics names every tenant: it needs the metrics (or admin) token; with no
        metrics token configured, only callers on the loopback interface get it."""
        if self._bearer_is(request, self.config.metrics_token) or self.is_admin(request):
            return
        if self.config.metrics_token is None:
            host = request.client.host if request.client else ""
            try:
                if ipaddress.ip_address(host).is_loopback:
                    return
            except ValueError:
                pass
            raise ServiceError(403, "forbidden", "/metrics answers loopback callers only; set a metrics token "
                                                 "(PYMEM_METRICS_TOKEN) to scrape it from elsewhere")
        raise ServiceError(401, "unauthorized", "/metrics needs 'Authorization: Bearer <metrics token>'",
                           headers={"WWW-Authenticate": "Bearer"})

    async def tenant_for(self, request: Request, claimed: str | None) -> str:
        """The tenant this request acts for. The API key decides; a body tenant_id that
        disagrees is refused (403). In gateway mode, without a key, the trusted header does,
        and without the header the body's tenant_id (clients of the gateway request contract
        send it there): the gateway vouches for the whole request. Outside gateway mode a body
        tenant_id never chooses the tenant."""
        key = self._presented_key(request)
        header = self.config.gateway_tenant_header
        gateway_tenant = self._single(request, header) if header else None
        if key is not None:
            auth = await self._authenticate(key)
            if auth is None:
                raise ServiceError(401, "unauthorized", "unknown or revoked API key",
                                   headers={"WWW-Authenticate": "Bearer"})
            tenant_id = auth["tenant_id"]
            if gateway_tenant is not None and gateway_tenant != tenant_id:
                raise ServiceError(403, "tenant_mismatch", "the gateway's tenant header and the API key disagree")
        elif header and (gateway_tenant or claimed):
            tenant_id = gateway_tenant or claimed
            await self._ensure_tenant(tenant_id)
        else:
            raise ServiceError(401, "unauthorized", "an API key is required ('Authorization: Bearer <key>')",
                               headers={"WWW-Authenticate": "Bearer"})
        if claimed is not None and claimed != tenant_id:
            raise ServiceError(403, "tenant_mismatch", "tenant_id in the body is not the API key's tenant")
        return tenant_id

    async def _ensure_tenant(self, tenant_id: str) -> None:
        if self.client.known_role(tenant_id) is not None:
            return  # looked up before: no worker thread for a dictionary read
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
        @asynccontextmanager
        async def lifespan(app: FastAPI):
            self.forgetter.start()
            yield
            self.forgetter.stop()
            if self.collector is not None:
                self.collector.close()
            if self.close_client:
                self.client.close()

        app = FastAPI(title="pymem", version=__version__, lifespan=lifespan,
                      description="Memory layer for AI agents: every route calls one SQL function. "
                                  "Authenticate with 'Authorization: Bearer <tenant API key>'.")
        app.state.service = self
        for router in (memory.router, users.router, admin.router, operations.router):
            app.include_router(router)

        @app.exception_handler(ServiceError)
        async def _service_error(request: Request, exc: ServiceError):
            return error_response(exc.status, exc.code, exc.message, headers=exc.headers)

        @app.exception_handler(PymemError)
        async def _pymem_error(request: Request, exc: PymemError):
            mapped = from_pymem(exc)
            return error_response(mapped.status, mapped.code, mapped.message)

        @app.exception_handler(StarletteHTTPException)
        async def _http_error(request: Request, exc: StarletteHTTPException):
            code = STATUS_CODES.get(exc.status_code, "error")
            return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

        @app.exception_handler(RequestValidationError)
        async def _invalid(request: Request, exc: RequestValidationError):
            details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))[:500]}
                       for e in exc.errors()[:20]]
            return error_response(422, "invalid_request", "the request does not match the API schema",
                                  details=details)

        @app.exception_handler(Exception)
        async def _unexpected(request: Request, exc: Exception):
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return error_response(500, "internal_error", "internal error")

        app.add_middleware(ServiceMiddleware, max_body_bytes=self.config.max_body_bytes, metrics=self.metrics)
        return app


def create_app(client: Client, config: ServiceConfig | None = None, **kwargs) -> FastAPI:
    return Service(client, config, **kwargs).app()
