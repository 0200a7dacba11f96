"""Starting the service: the client (pool), the embedder, the app, uvicorn."""

from __future__ import annotations

import logging
import os

from ..client import connect
from ..embed import embedder_from_env
from .app import ServiceConfig, create_app
from .batching import BatchingEmbedder

log = logging.getLogger("pymem.service")


def load_embedder(name: str):
    """"auto": PYMEM_EMBED_URL's endpoint if set, else the local model; "local"; "none"
    (lexical and recency ranking only). The model is loaded here, once, not on the first
    request (~10 s on 2 cores)."""
    if name == "none":
        return None
    if name == "local":
        from ..embed import default_embedder

        embedder = default_embedder()
    else:
        embedder = embedder_from_env()
    embedder.embed(["warm up"])
    return BatchingEmbedder(embedder)


def serve(*, dsn: str | None, home: str | None, host: str, port: int, embedder: str = "auto",
          config: ServiceConfig | None = None, pool_size: int = 20, statement_timeout_ms: int | None = None,
          log_level: str = "info") -> None:
    config = config or ServiceConfig()
    if statement_timeout_ms:
        # Every connection this process opens (the pool, the metrics reader) gets the limit.
        options = os.environ.get("PGOPTIONS", "")
        os.environ["PGOPTIONS"] = f"{options} -c statement_timeout={int(statement_timeout_ms)}".strip()
    model = load_embedder(embedder)
    client = connect(dsn, home=home, embedder=model, max_size=pool_size)
    try:
        import uvicorn

        app = create_app(client, config)
        log.info("pymem serve: http://%s:%d (embedder %s, gateway header %s)", host, port, embedder,
                 config.gateway_tenant_header or "off")
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                    timeout_keep_alive=30, server_header=False)
    finally:
        client.close()
