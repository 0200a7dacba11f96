"""An OpenAI-compatible /v1/embeddings endpoint on 127.0.0.1 for the worker tests.

It is a real HTTP server (the worker's real HTTP client talks to it); its vectors are
hashed bags of words, so texts that share words are similar. Behaviour can be scripted:
answer 429 for the next N requests, fail permanently, or be slow.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def hashed_vector(text: str, dims: int = 384) -> list[float]:
    v = np.zeros(dims, dtype=np.float32)
    for token in re.findall(r"\w+", text.lower()):
        h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        v[h % dims] += 1.0 if (h >> 32) & 1 else -1.0
    if not v.any():
        v[0] = 1.0
    return (v / np.linalg.norm(v)).tolist()


class EmbeddingEndpoint:
    def __init__(self):
        self.rate_limit_next = 0
        self.permanent_failure = False
        self.garbage = False  # answer 200 with a body that is not JSON
        self.delay = 0.0
        self.requests = 0
        self.connections: set[tuple] = set()  # distinct client (host, port) pairs seen
        self.statuses: list[int] = []
        self.bodies: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints: clients may reuse connections

            def log_message(self, *args):
                pass

            def do_POST(self):
                endpoint.requests += 1
                endpoint.connections.add(self.client_address)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if endpoint.delay:
                    time.sleep(endpoint.delay)
                if endpoint.garbage:
                    raw = b"<html>gateway error</html>"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                if endpoint.permanent_failure:
                    return self._reply(400, {"error": {"message": "model not found"}})
                if endpoint.rate_limit_next > 0:
                    endpoint.rate_limit_next -= 1
                    return self._reply(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"})
                endpoint.bodies.append(body)
                # As OpenAI's text-embedding-3 models: 1536 dimensions unless `dimensions` asks fewer.
                dims = body.get("dimensions") or (1536 if body["model"].startswith("text-embedding-3") else 384)
                data = [{"index": i, "embedding": hashed_vector(t, dims)} for i, t in enumerate(body["input"])]
                self._reply(200, {"data": data, "model": body["model"]})

            def _reply(self, status, payload, headers=None):
                endpoint.statuses.append(status)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    # `python -m tests.embedding_server`: serve in this process and print the base URL, for
    # tests that want the endpoint in a process of its own (stopped with SIGTERM).
    import signal
    import sys

    endpoint = EmbeddingEndpoint()
    with endpoint:
        print(endpoint.url, flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.pause()
