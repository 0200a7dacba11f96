"""The MCP server: remember, ingest, retrieve, update, forget, history, list_users and
export_user as tools for any agent that speaks the Model Context Protocol (`pymem mcp`, stdio
or streamable HTTP).

Every tool describes its parameters, bounds and enums in its input schema, its result in an
output schema, and whether it only reads or replaces what retrieve returns (annotations), so
a model can use it without guessing.

One server acts for one tenant, the one its API key belongs to (``PYMEM_API_KEY``); no tool
takes a tenant. The user is either fixed by the server's configuration (``--user``: the
tools have no user_id parameter and act for that user only, and a memory id of another user
is "no memory", the safe choice for a single-user agent), or a required ``user_id`` argument
of each tool (a multi-user agent; the model then picks among the tenant's users, which
list_users names, never beyond the tenant).

Over HTTP every request carries an API key as ``Authorization: Bearer``, checked against
the database as ``pymem serve`` checks it (the same KeyCache: a revoked key stops working
within ``key_cache_seconds``). Any active key of the server's tenant is accepted; a key of
another tenant is refused with 403 rather than served: the tools, and ``--user``, are
bound to the tenant the server started for. The server listens on 127.0.0.1 unless told
otherwise.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ..client import Client
from ..errors import InvalidInput, PymemError

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("pymem's MCP server needs the mcp extra: pip install 'pymem-pg[mcp]'") from exc

# The kinds as the database lists them (pymem.memory_kinds(); a test checks they agree), as
# enums in the tools' schemas: a model picks from the list instead of guessing a word.
Kind = Literal["fact", "preference", "event", "procedural"]
AnyKind = Literal["fact", "preference", "event", "procedural", "episode"]

INSTRUCTIONS = (
    "Long-term memory about the user. Call retrieve before answering anything that may depend on "
    "what the user said before (preferences, facts, plans); call ingest with each user turn worth "
    "keeping (memories are extracted from it in the background), remember for one explicit fact, "
    "update when the user corrects a memory retrieve returned. Memories belong to this server's "
    "tenant only.")

UserId = Annotated[str, Field(min_length=1, max_length=256,
                              description="The user the memories are about (list_users names the known ones).")]
MemoryId = Annotated[str, Field(min_length=36, max_length=36, description="A memory's id, as retrieve returns it.")]
Content = Annotated[str, Field(min_length=1, max_length=100000)]

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
# update and forget end a memory's current life (history keeps it): destructive to what
# retrieve returns, so a client may ask the user first.
REPLACE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
FORGET = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


class Stored(BaseModel):
    id: str = Field(description="The memory's id (for update, forget, history).")


class Queued(BaseModel):
    episode_id: str = Field(description="The stored turns' episode; its memories are extracted in the background.")


class Result(BaseModel):
    id: str
    kind: str
    content: str
    score: float = Field(description="Relevance, higher is better; compare within one answer only.")
    observed_at: dt.datetime = Field(description="When it was said.")
    earlier_than: str | None = Field(None, description="A newer result here (this id) updates what this one says.")


class Retrieved(BaseModel):
    results: list[Result] = Field(description="Best first; each memory once.")


class Updated(BaseModel):
    id: str = Field(description="The new version's id.")
    supersedes: str = Field(description="The memory it replaced; history(id) of that one still shows it.")


class Forgotten(BaseModel):
    id: str
    forgotten: bool


class Version(BaseModel):
    version: int
    operation: str = Field(description="create, update (mentioned again), supersede, forget, restore ...")
    reason: str | None
    recorded_at: dt.datetime
    content: str | None
    status: str | None = Field(description="active, superseded, forgotten or contested after this change.")
    superseded_by: str | None = Field(None, description="The memory that replaced this one, once one did.")


class History(BaseModel):
    id: str
    versions: list[Version] = Field(description="Oldest first.")


class UserSummary(BaseModel):
    user_id: str
    memories: int = Field(description="Current memories (raw conversation turns not counted).")
    last_seen_at: dt.datetime


class Users(BaseModel):
    users: list[UserSummary]
    next_after: str | None = Field(None, description="Pass as `after` for the next page; null on the last.")


def build_server(client: Client, tenant_id: str, *, user_id: str | None = None, extracting: bool = True) -> MCPServer:
    """The MCP server for one tenant. ``user_id`` fixes the user every tool acts for: the tools
    then have no user_id parameter (one sent anyway is dropped by the SDK, as any argument a
    tool does not define), and list_users is not offered. ``extracting``: whether this
    process extracts what ingest stores (what the ingest tool tells the model)."""
    tenant = client.tenant(tenant_id)
    server = MCPServer("pymem", instructions=INSTRUCTIONS)

    def tool(annotations: ToolAnnotations, *, multi_user_only: bool = False, description: str | None = None):
        """Register a tool; with a fixed user, without its user_id parameter."""
        def register(fn):
            if description:
                fn.__doc__ = description
            if user_id is not None and multi_user_only:
                return fn
            if user_id is not None and "user_id" in inspect.signature(fn).parameters:
                signature = inspect.signature(fn, eval_str=True)

                @functools.wraps(fn)
                def bound(**arguments):
                    return fn(user_id=user_id, **arguments)

                bound.__signature__ = signature.replace(
                    parameters=[p for p in signature.parameters.values() if p.name != "user_id"])
                server.add_tool(bound, annotations=annotations)
            else:
                server.add_tool(fn, annotations=annotations)
            return fn
        return register

    def call(fn):
        try:
            return fn()
        except PymemError as exc:
            raise ToolError(str(exc).removeprefix("pymem: ")) from None

    def check_owner(memory_id: str) -> None:
        """With a fixed user, a memory of another user is no memory at all: the same error as
        an id nobody has. Checking before the call is safe: a memory's user never changes, and
        an id names another memory only after an erasure and an import, which no tool does."""
        if user_id is None:
            return
        memory = call(lambda: tenant.get(memory_id))
        if memory is None or memory.user_id != user_id:
            raise ToolError(f"no memory {memory_id}")

    @tool(WRITE)
    def remember(user_id: UserId, content: Annotated[Content, Field(description="One statement about the user, "
                                                                    "in the third person or the user's words.")],
                 kind: Annotated[Kind, Field(description="fact: true about the user; preference: what they like "
                                                         "or want; event: something at a time; procedural: a "
                                                         "standing instruction for the agent.")] = "fact",
                 importance: Annotated[float, Field(ge=0, le=1, description="0 trivial .. 1 vital.")] = 0.5) -> Stored:
        """Store one memory about the user now. A newer statement of the same thing (the same
        slot, e.g. their home city) replaces the older one; history is kept."""
        return Stored(id=call(lambda: tenant.remember(user_id, content, kind=kind, importance=importance)))

    ingest_doc = ("Hand conversation turns to memory: `content` (one user message) or `messages` ([{role, "
                  "content}]). Returns at once; memories are extracted from the user's turns "
                  + ("by this server within seconds." if extracting else "by the deployment's workers."))

    @tool(WRITE, description=ingest_doc)
    def ingest(user_id: UserId,
               content: Annotated[Content | None, Field(description="One user message.")] = None,
               messages: Annotated[list[dict[str, str]] | None,
                                   Field(min_length=1, max_length=200,
                                         description="Turns as [{role: user|assistant, content}].")] = None,
               session_id: Annotated[str | None, Field(min_length=1, max_length=256,
                                                       description="Groups the turns of one conversation.")] = None
               ) -> Queued:
        if (content is None) == (messages is None):
            raise ToolError("give exactly one of content and messages")
        episode = call(lambda: tenant.ingest(user_id, content if messages is None else messages,
                                             session_id=session_id))
        return Queued(episode_id=episode)

    @tool(READ)
    def retrieve(user_id: UserId,
                 query: Annotated[str, Field(min_length=1, max_length=10000,
                                             description="What to look for, in words (the user's question).")],
                 top_k: Annotated[int, Field(ge=1, le=100, description="At most this many results.")] = 10,
                 token_budget: Annotated[int | None, Field(ge=1, le=100000, description="Cap the results' total "
                                                           "size in tokens.")] = None,
                 kinds: Annotated[list[AnyKind] | None, Field(min_length=1, max_length=5, description="Only these "
                                                             "kinds (episode: raw conversation turns).")] = None,
                 min_score: Annotated[float | None, Field(ge=0, le=1000, description="Leave out results scoring "
                                                          "below this (about 0.3 keeps only strong matches).")] = None,
                 as_of: Annotated[dt.datetime | None, Field(description="Answer from what was true as of this "
                                                            "time (by when things were said).")] = None,
                 recorded_before: Annotated[dt.datetime | None, Field(description="Only what had been stored before "
                                                                      "this time.")] = None) -> Retrieved:
        """What memory holds about the user for `query`, best first, with scores."""
        filters = {"recorded_before": recorded_before.isoformat()} if recorded_before else None
        memories = call(lambda: tenant.retrieve(user_id, query, top_k=top_k, token_budget=token_budget,
                                                kinds=kinds, min_score=min_score, as_of=as_of, filters=filters))
        seen: set[str] = set()
        results = []
        for m in memories:
            if m.id not in seen:
                seen.add(m.id)
                results.append(Result(id=m.id, kind=m.kind, content=m.content, score=round(m.score, 4),
                                      observed_at=m.observed_at, earlier_than=m.earlier_than))
        return Retrieved(results=results)

    @tool(REPLACE)
    def update(memory_id: MemoryId,
               content: Annotated[Content, Field(description="The corrected statement, in full.")]) -> Updated:
        """Correct one memory (by id from retrieve): a new version with `content` replaces it
        from now on; the old one stays in its history. For a raw turn (kind episode), use
        remember instead."""
        check_owner(memory_id)
        return Updated(id=call(lambda: tenant.update(memory_id, content)), supersedes=memory_id)

    @tool(FORGET)
    def forget(memory_id: MemoryId) -> Forgotten:
        """Forget one memory (by id from retrieve): it is never returned again."""
        check_owner(memory_id)
        if not call(lambda: tenant.forget(memory_id, reason="mcp")):
            raise ToolError(f"no memory {memory_id}")
        return Forgotten(id=memory_id, forgotten=True)

    @tool(READ)
    def history(memory_id: MemoryId) -> History:
        """Every version of one memory, oldest first: when it was stored, replaced or forgotten, and why."""
        check_owner(memory_id)
        versions = call(lambda: tenant.history(memory_id))
        if not versions:
            raise ToolError(f"no memory {memory_id}")
        # The snapshot's role names and internal columns stay out: a model needs the text and the change.
        return History(id=memory_id, versions=[
            Version(version=v["version"], operation=v["operation"], reason=v["reason"], recorded_at=v["recorded_at"],
                    content=v["snapshot"].get("content"), status=v["snapshot"].get("status"),
                    superseded_by=v["snapshot"].get("superseded_by")) for v in versions])

    @tool(READ, multi_user_only=True)
    def list_users(limit: Annotated[int, Field(ge=1, le=1000, description="At most this many users.")] = 100,
                   after: Annotated[str | None, Field(min_length=1, max_length=256, description="The last user_id "
                                                      "of the previous page.")] = None) -> Users:
        """The users memory knows in this tenant, in id order, with how many memories each has."""
        page = call(lambda: tenant.list_users(limit=limit, after=after))
        return Users(users=[UserSummary(user_id=u["user_id"], memories=u["memories"], last_seen_at=u["last_seen_at"])
                            for u in page],
                     next_after=page[-1]["user_id"] if len(page) == limit else None)

    @tool(READ)
    def export_user(user_id: UserId) -> dict[str, Any]:
        """Everything memory holds about the user, as one JSON document."""
        return call(lambda: tenant.export_user(user_id))

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
          key_cache_seconds: float = 5.0, extracting: bool = True) -> None:
    tenant_id = tenant_of_key(client, api_key)
    server = build_server(client, tenant_id, user_id=user_id, extracting=extracting)
    if transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = RequireKey(server.streamable_http_app(host=host), client, tenant_id, key_cache_seconds=key_cache_seconds)
    uvicorn.run(app, host=host, port=port, log_level="warning")
