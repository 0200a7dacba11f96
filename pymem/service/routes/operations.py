"""Health and metrics: /healthz and /metrics."""

from __future__ import annotations

import datetime as dt

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..errors import ServiceError, responses
from . import service

router = APIRouter(tags=["operations"])


@router.get("/healthz", responses=responses(503))
async def healthz(svc=Depends(service)):
    """200 when the database answers (it asks for the install's capabilities)."""
    try:
        capabilities = await svc.blocking(svc.client.capabilities)
    except ServiceError as exc:
        raise ServiceError(503, "unavailable", f"database check failed: {exc.message}") from None
    return {"status": "ok", "database": "ok", "server_version": capabilities.get("server_version"),
            "time": dt.datetime.now(dt.timezone.utc).isoformat()}


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
                       **responses(400, 401, 403)})
async def metrics(request: Request, svc=Depends(service)):
    """Prometheus metrics: the service's own and database-side figures (cached briefly).
    Needs `Authorization: Bearer <metrics token>` (or the admin token); without a metrics
    token configured, loopback callers only."""
    svc.check_metrics_access(request)
    payload = await anyio.to_thread.run_sync(generate_latest, svc.metrics.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
