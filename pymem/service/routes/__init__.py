"""The HTTP routes, one APIRouter per area. Each handler gets the ``Service`` (client,
configuration, metrics, who is calling) from ``service()``."""

from fastapi import Request


def service(request: Request):
    """The application's Service (a FastAPI dependency)."""
    return request.app.state.service
