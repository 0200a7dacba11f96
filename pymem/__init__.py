"""pymem: a memory layer for AI agents that lives inside PostgreSQL."""

from .client import AsyncClient, AsyncTenantClient, Client, Memory, StoredMemory, TenantClient, connect, connect_async, format_context
from .errors import (AlreadyExists, Conflict, EmbedderMismatch, InvalidInput, LimitExceeded, NotFound, PermissionDenied,
                     PymemError, Unavailable)

__all__ = ["AlreadyExists", "AsyncClient", "AsyncTenantClient", "Client", "Conflict", "EmbedderMismatch",
           "InvalidInput", "LimitExceeded", "Memory", "NotFound", "PermissionDenied", "PymemError", "StoredMemory",
           "TenantClient", "Unavailable", "connect", "connect_async", "format_context"]
__version__ = "0.1.0"
