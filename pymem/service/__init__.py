"""The HTTP service (`pymem serve`): routes over the thin client, Prometheus metrics.

  app.py       the Service (who is calling, limits, time bounds) and the FastAPI app
  routes/      one APIRouter per area: memory, users, admin, operations
  models.py    request and response bodies; errors.py: the one error shape
  metrics.py   Prometheus metrics; batching.py: concurrent query embeddings in one model call
  run.py       starting it: the client, the embedder, uvicorn
  inprocess.py what serve and mcp both run in their process: the model, the extraction worker
"""

import importlib

# Imported on first use: pymem mcp runs this package's plain modules (inprocess, batching,
# keys) with the `mcp` extra alone; app.py names the `service` extra when fastapi is missing.
_EXPORTS = {"Service": ".app", "ServiceConfig": ".app", "create_app": ".app", "ServiceError": ".errors",
            "DatabaseCollector": ".metrics", "ServiceMetrics": ".metrics"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
