"""Starting the service: the client (pool), the embedder, the app, uvicorn.

One process by default. ``workers > 1`` starts that many uvicorn worker processes on one
listening socket, each with its own pool and model (the GIL lets one process use about one
core; the local model runs on one thread in each). They share what must be shared through the database: the query-embedding caches
are cleared on every erasure or tenant drop (LISTEN pymem_forget), and Prometheus
counters are summed across processes (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile

import psycopg

from ..client import _resolve, connect
from ..errors import PymemError
from ..pools import GROUP_SIZE
from ..embed import spec_from_env
from ..logs import configure as configure_logging
from .app import ServiceConfig, create_app
from .inprocess import extraction, load_embedder

log = logging.getLogger("pymem.service")

# Connections left for everything else (the worker, psql, migrations, the metrics readers).
RESERVED_CONNECTIONS = 10
_SPEC = "PYMEM_SERVE_SPEC"  # how the parent hands its settings to worker processes
# The local model's CPU threads per service process. Query batches are small: one thread
# encodes a short query as fast as two (6.5 vs 7.4 ms p50 on the 2-core machine) for less CPU
# (6.5 vs 7.6 ms a call), and a busy service needs the other core for PostgreSQL.
EMBED_THREADS = 1


def check_connection_budget(dsn: str, workers: int, pool_size: int) -> None:
    """Refuse a configuration whose pools could exhaust the server's max_connections."""
    with psycopg.connect(dsn) as conn:
        limit = int(conn.execute("show max_connections").fetchone()[0])
    # Each process: its pool, the metrics reader and the cache listener.
    needed = workers * (pool_size + 2) + RESERVED_CONNECTIONS
    if needed > limit:
        raise PymemError(f"{workers} workers x (pool {pool_size} + 2) + {RESERVED_CONNECTIONS} reserved = {needed} "
                         f"connections, over the server's max_connections of {limit}: lower --pool-size or --workers")


def serve(*, dsn: str | None, home: str | None, host: str, port: int, embedder: str = "auto",
          config: ServiceConfig | None = None, pool_size: int = 20, statement_timeout_ms: int | None = None,
          log_level: str = "info", workers: int = 1, pool_group_size: int = GROUP_SIZE,
          extract: bool = True) -> None:
    """``extract``: run the extraction worker in this process too (one claim loop; the
    parent process's when ``workers > 1``)."""
    import uvicorn

    config = config or ServiceConfig()
    if statement_timeout_ms:
        # Every connection this process (and its workers) opens gets the limit.
        options = os.environ.get("PGOPTIONS", "")
        os.environ["PGOPTIONS"] = f"{options} -c statement_timeout={int(statement_timeout_ms)}".strip()
    # log_config None: uvicorn's loggers go through the root handler (pymem.logs: text or JSON).
    options = dict(host=host, port=port, log_level=log_level, access_log=False, timeout_keep_alive=30,
                   server_header=False, log_config=None)
    if workers == 1:
        client = connect(dsn, home=home, embedder=load_embedder(embedder, EMBED_THREADS), max_size=pool_size,
                         pool_group_size=pool_group_size)
        try:
            log.info("pymem serve: http://%s:%d (embedder %s, gateway header %s, extraction %s)", host, port,
                     embedder, config.gateway_tenant_header or "off", "in this process" if extract else "elsewhere")
            with extraction(client.dsn, extract, embedder=client.embedder):
                uvicorn.run(create_app(client, config), **options)
        finally:
            client.close()
        return

    # Starts and migrates the embedded server once (a new database is made for the model).
    resolved, _server = _resolve(dsn, home, "postgres", None if embedder == "none" else
                                 spec_from_env(local=embedder == "local"))
    check_connection_budget(resolved, workers, pool_size)
    os.environ[_SPEC] = json.dumps({"dsn": resolved, "embedder": embedder, "pool_size": pool_size,
                                    "pool_group_size": pool_group_size,
                                    "threads": EMBED_THREADS, "log_level": log_level,
                                    "config": dataclasses.asdict(config)})
    metrics_dir = tempfile.mkdtemp(prefix="pymem-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    log.info("pymem serve: http://%s:%d, %d worker processes x pool %d", host, port, workers, pool_size)
    try:
        with extraction(resolved, extract):
            uvicorn.run("pymem.service.run:worker_app", factory=True, workers=workers, **options)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def worker_app():
    """The app of one worker process (uvicorn calls this in each, with the parent's settings)."""
    spec = json.loads(os.environ[_SPEC])
    configure_logging(spec["log_level"], os.environ.get("PYMEM_LOG_FORMAT", "text"))
    client = connect(spec["dsn"], embedder=load_embedder(spec["embedder"], spec["threads"]),
                     max_size=spec["pool_size"], pool_group_size=spec["pool_group_size"])
    return create_app(client, ServiceConfig(**spec["config"]), close_client=True)
