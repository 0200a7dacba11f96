"""The MCP server: remember, ingest, retrieve, forget, history and export as tools for any
agent that speaks the Model Context Protocol (`pymem mcp`, stdio or streamable HTTP).

One server acts for one tenant, the one its API key belongs to (``PYMEM_API_KEY``); no tool
takes a tenant. The user is either fixed by the server's configuration (``--user``: the
tools act for that user only and refuse any other, and a memory id of another user is "no
memory", the safe choice for a single-user agent), or a ``user_id`` argument of each tool
(a multi-user agent; the model then picks among the tenant's users, never beyond the
tenant).

Over HTTP every request carries an API key as ``Authorization: Bearer``, checked against
the database as ``pymem serve`` checks it (the same KeyCache: a revoked key stops working
within ``key_cache_seconds``). Any active key of the server's tenant is accepted; a key of
another tenant is refused with 403 rather than served: the tools, and ``--user``, are
bound to the tenant the server started for. The server listens on 127.0.0.1 unless told
otherwise.
"""

from __future__ import annotations

import datetime as dt

import json
from typing import Any, Literal

from ..client import Client, format_context
from ..errors import InvalidInput, PymemError

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("pymem's MCP server needs the mcp extra: pip install 'pymem-pg[mcp]'") from exc

Kind = Literal["fact", "preference", "event", "procedural"]

INSTRUCTIONS = (
    "Long-term memory about the user. Call retrieve before answering anything that may depend on "
    "what the user said before (preferences, facts, plans); call ingest with each user turn worth "
    "keeping, or remember for one explicit fact. Memories belong to this server's tenant only.")


def build_server(client: Client, tenant_id: str, *, user_id: str | None = None) -> MCPServer:
    """The MCP server for one tenant; ``user_id`` fixes the user every tool acts for."""
    tenant = client.tenant(tenant_id)
    server = MCPServer("pymem", instructions=INSTRUCTIONS)

    def user(given: str | None) -> str:
        if user_id is not None:
            if given not in (None, user_id):
                raise ToolError(f"this memory server acts for user {user_id!r} only")
            return user_id
        if not given:
            raise ToolError("user_id is required: this memory server serves several users")
        return given

    def call(fn):
        try:
            return fn()
        except PymemError as exc:
            raise ToolError(str(exc).removeprefix("pymem: ")) from None

    def check_owner(memory_id: str) -> None:
        """With ``--user``, a memory of another user is no memory at all: the same error as an
        id nobody has. Checking before the call is safe: a memory's user never changes, and an
        id names another memory only after an erasure and an import, which no tool does."""
        if user_id is None:
            return
        memory = call(lambda: tenant.get(memory_id))
        if memory is None or memory.user_id != user_id:
            raise ToolError(f"no memory {memory_id}")

    @server.tool()
    def remember(content: str, kind: Kind = "fact", importance: float = 0.5,
                 user_id: str | None = None) -> dict[str, Any]:
        """Store one memory about the user now (a fact, preference, event or instruction).
        A newer statement of the same thing replaces the older one; history is kept."""
        memory_id = call(lambda: tenant.remember(user(user_id), content, kind=kind, importance=importance))
        return {"id": memory_id}

    @server.tool()
    def ingest(content: str | None = None, messages: list[dict[str, str]] | None = None,
               session_id: str | None = None, user_id: str | None = None) -> dict[str, Any]:
        """Hand conversation turns to memory: `content` (one user message) or `messages`
        ([{role, content}]). Returns at once; memories are extracted in the background."""
        if (content is None) == (messages is None):
            raise ToolError("give exactly one of content and messages")
        episode = call(lambda: tenant.ingest(user(user_id), content if messages is None else messages,
                                             session_id=session_id))
        return {"episode_id": episode}

    @server.tool()
    def retrieve(query: str, top_k: int = 10, token_budget: int | None = None, kinds: list[str] | None = None,
                 min_score: float | None = None, user_id: str | None = None,
                 as_of: dt.datetime | None = None, recorded_before: dt.datetime | None = None) -> dict[str, Any]:
        """What memory holds about the user for `query`, best first, as a context block and as
        results with scores. `min_score` drops weak matches; `token_budget` caps the size.
        `as_of`: what was true as of when things were said by then; `recorded_before`: only what
        had been stored before that time."""
        filters = {"recorded_before": recorded_before.isoformat()} if recorded_before else None
        memories = call(lambda: tenant.retrieve(user(user_id), query, top_k=top_k, token_budget=token_budget,
                                                kinds=kinds, min_score=min_score, as_of=as_of, filters=filters))
        return {"context": format_context(memories),
                "results": [{"id": m.id, "kind": m.kind, "content": m.content, "score": round(m.score, 4),
                             "observed_at": m.observed_at.isoformat()} for m in memories]}

    @server.tool()
    def forget(memory_id: str) -> dict[str, Any]:
        """Forget one memory (by id from retrieve): it is never returned again."""
        check_owner(memory_id)
        if not call(lambda: tenant.forget(memory_id, reason="mcp")):
            raise ToolError(f"no memory {memory_id}")
        return {"id": memory_id, "forgotten": True}

    @server.tool()
    def history(memory_id: str) -> dict[str, Any]:
        """Every version of one memory: when it was stored, replaced or forgotten, and why."""
        check_owner(memory_id)
        versions = call(lambda: tenant.history(memory_id))
        if not versions:
            raise ToolError(f"no memory {memory_id}")
        return {"id": memory_id, "versions": [{**v, "recorded_at": v["recorded_at"].isoformat()} for v in versions]}

    @server.tool()
    def export_user(user_id: str | None = None) -> dict[str, Any]:
        """Everything memory holds about the user, as one JSON document."""
        return call(lambda: tenant.export_user(user(user_id)))

    return server


def tenant_of_key(client: Client, api_key: str) -> str:
    """The tenant an API key acts for, or PermissionError."""
    auth = client.authenticate_key(api_key)
    if auth is None:
        raise PermissionError("unknown or revoked API key")
    return auth["tenant_id"]


class RequireKey:
    """ASGI middleware for the HTTP transport: every request's API key is checked against the
    database, through the KeyCache ``pymem serve`` uses (``key_cache_seconds``: how long a
    revoked key keeps working here), and must belong to ``tenant_id``: 401 without an active
    key, 403 for a key of another tenant."""

    def __init__(self, app, client: Client, tenant_id: str, *, key_cache_seconds: float = 5.0):
        from ..service.keys import KeyCache

        self.app = app
        self.client = client
        self.tenant_id = tenant_id
        self.keys = KeyCache(key_cache_seconds)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":  # MCP speaks plain HTTP; nothing else gets past unchecked
            return await send({"type": "websocket.close", "code": 1008})
        given = [v for k, v in scope.get("headers") or [] if k == b"authorization"]
        scheme, _, credentials = (given[0].decode("latin-1") if len(given) == 1 else "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return await self._refuse(send, 401, "unauthorized", "send the API key as 'Authorization: Bearer <key>'")
        try:
            auth = await self.keys.authenticate(credentials.strip(), self._lookup)
        except InvalidInput:
            auth = None
        except (PymemError, TimeoutError):
            return await self._refuse(send, 503, "unavailable", "the database cannot check the key now; retry")
        if auth is None:
            return await self._refuse(send, 401, "unauthorized", "unknown or revoked API key")
        if auth["tenant_id"] != self.tenant_id:
            return await self._refuse(send, 403, "forbidden", "this API key belongs to another tenant than this "
                                                              "server's")
        await self.app(scope, receive, send)

    async def _lookup(self, key: str) -> dict | None:
        import anyio

        with anyio.fail_after(10):
            return await anyio.to_thread.run_sync(self.client.authenticate_key, key, abandon_on_cancel=True)

    @staticmethod
    async def _refuse(send, status: int, code: str, message: str) -> None:
        headers = [(b"content-type", b"application/json")]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body",
                    "body": json.dumps({"error": {"code": code, "message": message}}).encode()})


def serve(client: Client, api_key: str, *, user_id: str | None, transport: str, host: str, port: int,
          key_cache_seconds: float = 5.0) -> None:
    tenant_id = tenant_of_key(client, api_key)
    server = build_server(client, tenant_id, user_id=user_id)
    if transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = RequireKey(server.streamable_http_app(host=host), client, tenant_id, key_cache_seconds=key_cache_seconds)
    uvicorn.run(app, host=host, port=port, log_level="warning")
