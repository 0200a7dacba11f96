"""pymem: a memory layer for AI agents that lives inside PostgreSQL."""

from .client import (AlreadyExists, Client, InvalidInput, LimitExceeded, Memory, NotFound, PermissionDenied,
                     PymemError, TenantClient, Unavailable, connect, format_context)

__all__ = ["AlreadyExists", "Client", "InvalidInput", "LimitExceeded", "Memory", "NotFound", "PermissionDenied",
           "PymemError", "TenantClient", "Unavailable", "connect", "format_context"]
__version__ = "0.1.0"
