"""A stand-alone OpenAI-compatible server for protocol tests, run as its own process:

    python tests/openai_server.py FIXTURES.json

It prints its port on the first line of stdout, then serves
  POST /v1/chat/completions  the reply of the first fixture whose "when" text appears in the
                             request's last user message ({"when": ..., "memories": [...]}),
                             as a JSON string in choices[0].message.content; {"memories": []}
                             when none matches. Requests are checked for the fields the
                             extractor must send (model, messages, response_format json_schema).
  POST /v1/embeddings        hashed bag-of-words vectors (tests/embedding_server.py's).
The answers are fixtures: this tests the protocol and the path, not a model.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.embedding_server import hashed_vector  # noqa: E402


def main() -> None:
    fixtures = json.loads(Path(sys.argv[1]).read_text())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path.endswith("/embeddings"):
                data = [{"index": i, "embedding": hashed_vector(t)} for i, t in enumerate(body["input"])]
                return self._reply(200, {"object": "list", "data": data, "model": body["model"]})
            if not self.path.endswith("/chat/completions"):
                return self._reply(404, {"error": {"message": f"no route {self.path}"}})
            schema = (body.get("response_format") or {}).get("json_schema") or {}
            if not body.get("model") or not body.get("messages") or not schema.get("strict"):
                return self._reply(400, {"error": {"message": "model, messages and a strict json_schema are required"}})
            transcript = body["messages"][-1]["content"]
            reply = next(({"memories": f["memories"]} for f in fixtures if f["when"] in transcript), {"memories": []})
            self._reply(200, {"id": "chatcmpl-fixture", "object": "chat.completion", "model": body["model"],
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": json.dumps(reply)}}]})

        def _reply(self, status, payload):
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
