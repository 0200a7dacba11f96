"""The ``pymem`` command line: one module per command group.

  server.py    up, down, status, doctor, migrate
  tenants.py   tenant create|list|drop, tenant settings get|set|describe, tenant login ..., tenant key ...
  memories.py  remember, search, list, get, history, forget, ingest, erase-user, export-user,
               import-user, audit, contradictions
  worker.py    worker, sweep
  service.py   serve
  agents.py    mcp (the MCP server)
  admin.py     admin reindex, admin prepare-owner, admin lockdown
  embeddings.py  embeddings show|reembed|abort (the database's embedding model)
  bench.py     bench retrieval|locomo|ingest|load

Exit codes: 0 success, 1 a check failed or the database said no, 2 bad usage. An error is one
line on stderr; --debug shows its traceback (base.RootGroup).
"""

from . import (  # noqa: F401  (they register their commands)
    admin,
    agents,
    bench,
    embeddings,
    memories,
    server,
    service,
    tenants,
    worker,
)
from .base import main

__all__ = ["main"]
