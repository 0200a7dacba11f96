"""The HTTP service (`pymem serve`): routes over the thin client, Prometheus metrics.

  app.py       the Service (who is calling, limits, time bounds) and the FastAPI app
  routes/      one APIRouter per area: memory, users, admin, operations
  models.py    request and response bodies; errors.py: the one error shape
  metrics.py   Prometheus metrics; batching.py: concurrent query embeddings in one model call
  run.py       starting it: the client, the embedder, uvicorn
"""

from .app import Service, ServiceConfig, create_app
from .errors import ServiceError
from .metrics import DatabaseCollector, ServiceMetrics

__all__ = ["DatabaseCollector", "Service", "ServiceConfig", "ServiceError", "ServiceMetrics", "create_app"]
