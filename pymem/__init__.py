"""pymem: a memory layer for AI agents that lives inside PostgreSQL."""

from .client import Client, Memory, PymemError, TenantClient, connect

__all__ = ["Client", "Memory", "PymemError", "TenantClient", "connect"]
__version__ = "0.1.0"
