"""The HTTP service (`pymem serve`): routes over the thin client, Prometheus metrics.

  app.py       the Service (who is calling, limits, time bounds) and the FastAPI app
  routes/      one APIRouter per area: memory, users, admin, operations
  models.py    request and response bodies; errors.py: the one error shape
  metrics.py   Prometheus metrics; batching.py: concurrent query embeddings in one model call
  run.py       starting it: the client, the embedder, uvicorn
"""

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(f"pymem's HTTP service needs the 'service' extra ({exc.name} is missing): "
                      "pip install 'pymem-pg[service]'") from exc

from .app import Service, ServiceConfig, create_app
from .errors import ServiceError
from .metrics import DatabaseCollector, ServiceMetrics

__all__ = ["DatabaseCollector", "Service", "ServiceConfig", "ServiceError", "ServiceMetrics", "create_app"]
