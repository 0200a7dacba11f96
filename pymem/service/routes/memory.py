"""/api/memory: ingest (or remember), retrieve, list, get, history, forget."""

from __future__ import annotations

import time
import uuid

import datetime as dt

from fastapi import APIRouter, Depends, Query, Request

from ...client import StoredMemory
from ..errors import COMMON, ServiceError, responses
from ..models import (Filters, HistoryResponse, IngestRequest, IngestResponse, Kind, ListResponse, RetrieveRequest,
                      RetrieveResponse, UpdateRequest, UpdateResponse)
from . import service

router = APIRouter(prefix="/api/memory", tags=["memory"])


@router.post("/ingest", status_code=201, response_model=IngestResponse, responses={**COMMON, **responses(404, 409)})
async def ingest(body: IngestRequest, request: Request, svc=Depends(service)):
    """Enqueue a conversation episode (`pymem.ingest`), or with `type` store one memory now
    (`pymem.remember`)."""
    tenant_id = await svc.tenant_for(request, body.tenant_id)
    tenant = svc.client.tenant(tenant_id)
    if body.type not in (None, "episode", "observation"):
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
        body.user_id, body.query, top_k=body.top_k, token_budget=body.token_budget, kinds=body.kinds,
        filters=body.filters.as_sql() if body.filters else None, as_of=body.as_of, min_score=body.min_score))
    svc.metrics.retrieved(time.perf_counter() - started, [m.score for m in memories])
    return {"results": memories}


@router.get("", response_model=ListResponse, responses=COMMON)
async def list_memories(request: Request, svc=Depends(service),
                        user_id: str = Query(min_length=1, max_length=256),
                        kinds: list[Kind] | None = Query(None, max_length=5),
                        session_id: str | None = Query(None, min_length=1, max_length=256),
                        agent_id: str | None = Query(None, min_length=1, max_length=256),
                        observed_after: dt.datetime | None = None, observed_before: dt.datetime | None = None,
                        as_of: dt.datetime | None = None, limit: int = Query(50, ge=1, le=1000),
                        before: uuid.UUID | None = None):
    """A user's memories, newest first (`pymem.list_memories`): the current ones, or those
    valid at `as_of`, narrowed like retrieve. Page with `before` = the previous answer's
    `next_before`."""
    tenant_id = await svc.tenant_for(request, None)
    tenant = svc.client.tenant(tenant_id)
    filters = Filters(session_id=session_id, agent_id=agent_id, observed_after=observed_after,
                      observed_before=observed_before).as_sql()
    page = await svc.for_tenant(tenant_id, "list", lambda: tenant.list(
        user_id, kinds=kinds, filters=filters, as_of=as_of, limit=limit,
        before=str(before) if before else None))
    return {"results": page, "next_before": page[-1].id if len(page) == limit else None}


@router.get("/{memory_id}", response_model=StoredMemory, responses={**COMMON, **responses(404)})
async def get_memory(memory_id: uuid.UUID, request: Request, svc=Depends(service)):
    """One memory as stored, whatever its status (`pymem.get_memory`); 404 when the caller's
    tenant has none with this id."""
    tenant_id = await svc.tenant_for(request, None)
    tenant = svc.client.tenant(tenant_id)
    memory = await svc.for_tenant(tenant_id, "get", lambda: tenant.get(str(memory_id)))
    if memory is None:
        raise ServiceError(404, "memory_not_found", f"no memory {memory_id} for this tenant")
    return memory


@router.get("/{memory_id}/history", response_model=HistoryResponse, responses={**COMMON, **responses(404)})
async def memory_history(memory_id: uuid.UUID, request: Request, svc=Depends(service)):
    """Every version of one memory, oldest first (`pymem.history`): what changed it, when, why."""
    tenant_id = await svc.tenant_for(request, None)
    tenant = svc.client.tenant(tenant_id)
    versions = await svc.for_tenant(tenant_id, "history", lambda: tenant.history(str(memory_id)))
    if not versions:
        raise ServiceError(404, "memory_not_found", f"no memory {memory_id} for this tenant")
    return {"memory_id": str(memory_id), "versions": versions}


@router.put("/{memory_id}", response_model=UpdateResponse, responses={**COMMON, **responses(404)})
async def update_memory(memory_id: uuid.UUID, body: UpdateRequest, request: Request, svc=Depends(service)):
    """Correct one current memory (`pymem.update_memory`): a new version with `content`
    supersedes it, and the old one stays in its history. 404 when the caller's tenant has no
    such memory; 422 for a raw conversation turn or a memory already replaced."""
    tenant_id = await svc.tenant_for(request, None)
    tenant = svc.client.tenant(tenant_id)
    new_id = await svc.for_tenant(tenant_id, "update", lambda: tenant.update(str(memory_id), body.content))
    return {"id": new_id, "supersedes": str(memory_id), "tenant_id": tenant_id}


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
