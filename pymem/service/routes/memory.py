"""/api/memory: ingest (or remember), retrieve, forget."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Depends, Request

from ..errors import COMMON, ServiceError, responses
from ..models import IngestRequest, IngestResponse, RetrieveRequest, RetrieveResponse
from . import service

router = APIRouter(prefix="/api/memory", tags=["memory"])


@router.post("/ingest", status_code=201, response_model=IngestResponse, responses={**COMMON, **responses(404, 409)})
async def ingest(body: IngestRequest, request: Request, svc=Depends(service)):
    """Enqueue a conversation episode (`pymem.ingest`), or with `type` store one memory now
    (`pymem.remember`)."""
    tenant_id = await svc.tenant_for(request, body.tenant_id)
    tenant = svc.client.tenant(tenant_id)
    if body.type is not None and body.type != "episode":
        memory_id = await svc.for_tenant(tenant_id, "remember", lambda: tenant.remember(
            body.user_id, body.content, kind=body.type, metadata=body.metadata,
            session_id=body.session_id, agent_id=body.agent_id))
        ids, kind = [memory_id], body.type
    else:
        messages = ([m.model_dump(exclude_none=True) for m in body.messages] if body.messages is not None
                    else body.content)
        episode_id = await svc.for_tenant(tenant_id, "ingest", lambda: tenant.ingest(
            body.user_id, messages, session_id=body.session_id, metadata=body.metadata,
            agent_id=body.agent_id))
        ids, kind = [episode_id], "episode"
    return {"ids": ids, "kind": kind, "tenant_id": tenant_id, "user_id": body.user_id}


@router.post("/retrieve", response_model=RetrieveResponse, responses={**COMMON, **responses(404)})
async def retrieve(body: RetrieveRequest, request: Request, svc=Depends(service)):
    """The user's top-k memories for a query (`pymem.retrieve`), best first, with score components."""
    tenant_id = await svc.tenant_for(request, body.tenant_id)
    tenant = svc.client.tenant(tenant_id)
    started = time.perf_counter()
    memories = await svc.for_tenant(tenant_id, "retrieve", lambda: tenant.retrieve(
        body.user_id, body.query, top_k=body.top_k, token_budget=body.token_budget, kinds=body.kinds))
    svc.metrics.retrieved(time.perf_counter() - started, [m.score for m in memories])
    return {"results": memories}


@router.delete("/{memory_id}", responses={**COMMON, **responses(404)})
async def forget(memory_id: uuid.UUID, request: Request, svc=Depends(service)):
    """Forget one memory of the caller's tenant (`pymem.forget`); 404 when none is visible."""
    tenant_id = await svc.tenant_for(request, None)
    tenant = svc.client.tenant(tenant_id)
    try:
        forgotten = await svc.for_tenant(tenant_id, "forget", lambda: tenant.forget(str(memory_id), reason="api"))
    except ServiceError:
        svc.metrics.deletions.labels("forget", "failed").inc()
        raise
    svc.metrics.deletions.labels("forget", "completed" if forgotten else "not_found").inc()
    if not forgotten:
        raise ServiceError(404, "memory_not_found", f"no memory {memory_id} for this tenant")
    return {"id": str(memory_id), "forgotten": True}
