"""/api/admin: rebuilding a tenant's retrieval indexes."""

from __future__ import annotations

import anyio
import psycopg
from fastapi import APIRouter, Depends, Request

from ...admin import reindex_tenant
from ...errors import PymemError, translate
from ..errors import COMMON, ServiceError, from_pymem, responses
from ..models import RebuildRequest
from . import service

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.post("/index/rebuild", responses={**COMMON, **responses(404, 409, 501)})
async def rebuild_indexes(body: RebuildRequest, request: Request, svc=Depends(service)):
    """Rebuild a tenant's retrieval indexes concurrently from its current settings (the
    statements of `pymem.reindex_plan`, as `pymem admin reindex` runs them). `"all"`
    needs the admin token; a tenant's API key may rebuild its own tenant. Reads go on
    meanwhile; the answer comes when the builds are done (not bound by the request time
    limit). 501 when the service was started without the owner's DSN."""
    if not svc.is_admin(request):
        tenant_id = await svc.tenant_for(request, None)
        if body.tenant != tenant_id:
            raise ServiceError(403, "forbidden", "a tenant key may rebuild its own tenant only; "
                                                 "'all' and other tenants need the admin token")
    if not svc.config.owner_dsn:
        raise ServiceError(501, "not_implemented", "index rebuilds need the tables' owner: start the "
                                                   "service with owner_dsn (pymem serve does)")

    def rebuild() -> list[dict]:
        tenants = [t["tenant_id"] for t in svc.client.list_tenants()] if body.tenant == "all" else [body.tenant]
        try:
            return [reindex_tenant(svc.config.owner_dsn, t) for t in tenants]
        except psycopg.Error as exc:
            raise translate(exc) from exc

    try:
        reports = await anyio.to_thread.run_sync(rebuild)
    except PymemError as exc:
        raise from_pymem(exc) from exc
    return {"tenant": body.tenant, "report": reports}
