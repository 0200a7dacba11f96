"""pymem: a memory layer for AI agents that lives inside PostgreSQL."""

from .client import (AlreadyExists, AsyncClient, AsyncTenantClient, Client, Conflict, EmbedderMismatch, InvalidInput,
                     LimitExceeded, Memory, NotFound, PermissionDenied, PymemError, StoredMemory, TenantClient,
                     Unavailable, connect, connect_async, format_context)

__all__ = ["AlreadyExists", "AsyncClient", "AsyncTenantClient", "Client", "Conflict", "EmbedderMismatch",
           "InvalidInput", "LimitExceeded", "Memory", "NotFound", "PermissionDenied", "PymemError", "StoredMemory",
           "TenantClient", "Unavailable", "connect", "connect_async", "format_context"]
__version__ = "0.1.0"
