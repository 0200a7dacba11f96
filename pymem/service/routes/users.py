"""/api/users: list a tenant's users; erase and export one user."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from ..errors import COMMON, ServiceError, responses
from ..models import UserRequest, UsersResponse
from . import service

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", response_model=UsersResponse, responses=COMMON)
async def list_users(request: Request, svc=Depends(service), limit: int = Query(100, ge=1, le=1000),
                     after: str | None = Query(None, min_length=1, max_length=256)):
    """The tenant's users in id order (`pymem.list_users`), each with its count of current
    memories. Page with `after` = the previous answer's `next_after`."""
    tenant_id = await svc.tenant_for(request, None)
    tenant = svc.client.tenant(tenant_id)
    page = await svc.for_tenant(tenant_id, "list_users", lambda: tenant.list_users(limit=limit, after=after))
    return {"users": page, "next_after": page[-1]["user_id"] if len(page) == limit else None}


@router.post("/erase", responses={**COMMON, **responses(404, 409)})
async def erase_user(body: UserRequest, request: Request, svc=Depends(service)):
    """Erase everything stored about one user (`pymem.erase_user`): every store, verified
    in the same transaction (the report's `residual` is 0)."""
    tenant_id = await svc.tenant_for(request, body.tenant_id)
    tenant = svc.client.tenant(tenant_id)
    try:
        report = await svc.for_tenant(tenant_id, "erase_user", lambda: tenant.erase_user(body.user_id))
    except ServiceError:
        svc.metrics.deletions.labels("erase", "failed").inc()
        raise
    svc.metrics.deletions.labels("erase", "completed").inc()
    return {"tenant_id": tenant_id, "user_id": body.user_id, "report": report}


@router.post("/export", responses={**COMMON, **responses(404)})
async def export_user(body: UserRequest, request: Request, svc=Depends(service)):
    """Everything stored about one user, as one JSON document (`pymem.export_user`)."""
    tenant_id = await svc.tenant_for(request, body.tenant_id)
    tenant = svc.client.tenant(tenant_id)
    export = await svc.for_tenant(tenant_id, "export_user", lambda: tenant.export_user(body.user_id))
    return {"tenant_id": tenant_id, "user_id": body.user_id, "export": export}
