"""The HTTP routes, one APIRouter per area. Each handler gets the ``Service`` (client,
configuration, metrics, who is calling) from ``service()``."""

from fastapi import Request


async def service(request: Request):
    """The application's Service (a FastAPI dependency). A coroutine on purpose: FastAPI runs
    a plain function dependency in a worker thread, a thread round trip on every request."""
    return request.app.state.service
