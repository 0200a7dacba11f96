"""The HTTP service (`pymem serve`): routes over the thin client, Prometheus metrics."""

from .app import Service, ServiceConfig, ServiceError, create_app
from .metrics import DatabaseCollector, ServiceMetrics

__all__ = ["DatabaseCollector", "Service", "ServiceConfig", "ServiceError", "ServiceMetrics", "create_app"]
