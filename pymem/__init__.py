"""pymem: a memory layer for AI agents that lives inside PostgreSQL."""

from .client import Client, Memory, PymemError, TenantClient, connect, format_context

__all__ = ["Client", "Memory", "PymemError", "TenantClient", "connect", "format_context"]
__version__ = "0.1.0"
