"""Request and response bodies of the HTTP API (pydantic, so FastAPI validates them and the
OpenAPI spec describes them). A memory is the client's own ``pymem.Memory`` (retrieved, with
scores) or ``pymem.StoredMemory`` (get, list): the HTTP shape and the Python shape are one
class each, so they cannot drift."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..client import Memory, StoredMemory

# The kinds a request may name. The database holds the list (_pymem.memory_kinds) and
# refuses any other; this literal gives the OpenAPI spec its enum, and a test checks the two agree.
Kind = Literal["fact", "preference", "event", "procedural", "episode"]
# What an ingest's `type` may say: a kind (stored now), or "observation", the gateway request
# contract's word (the reference load test sends it) for something the user said that
# extraction should read (enqueued as an episode, like no type).
IngestType = Literal["fact", "preference", "event", "procedural", "episode", "observation"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The database refuses JSON nested deeper than this (_pymem.check_json); refusing it here too
# answers 422 before pydantic's own serializer gives up on it (an error of its own, a 500).
MAX_JSON_DEPTH = 32


def bounded_json(value: Any) -> Any:
    """``value`` unchanged, or ValueError when it nests deeper than MAX_JSON_DEPTH."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


class Message(_Body):
    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field(min_length=1, max_length=32000)
    name: str | None = Field(None, min_length=1, max_length=100)
    id: str | None = Field(None, min_length=1, max_length=200)


class IngestRequest(_Body):
    tenant_id: str | None = Field(None, description="Must match the API key's tenant when given; in gateway "
                                                 "mode without the tenant header it names the tenant.",
                                  min_length=1, max_length=63)
    user_id: str = Field(min_length=1, max_length=256)
    content: str | None = Field(None, min_length=1, max_length=100000,
                                description="One user message (or, with `type`, one memory stored now).")
    messages: list[Message] | None = Field(None, min_length=1, max_length=200)
    type: IngestType | None = Field(None, description="With `content`: store one memory of this kind "
                                                      "synchronously (remember) instead of enqueueing an episode; "
                                                      "`episode` and `observation` enqueue it, as no type does.")
    session_id: str | None = Field(None, min_length=1, max_length=256)
    agent_id: str | None = Field(None, min_length=1, max_length=256)
    metadata: dict[str, Any] | None = None

    _metadata_depth = field_validator("metadata", mode="before")(bounded_json)

    @model_validator(mode="after")
    def _one_payload(self) -> "IngestRequest":
        if (self.content is None) == (self.messages is None):
            raise ValueError("give exactly one of content and messages")
        if self.type is not None and self.messages is not None:
            raise ValueError("type applies to content, not to messages")
        return self


class IngestResponse(BaseModel):
    ids: list[str] = Field(description="The episode id, or the memory id when `type` stored a memory.")
    kind: str
    tenant_id: str
    user_id: str


class Filters(_Body):
    """What retrieve and list narrow to (all optional; given ones must all hold)."""

    session_id: str | None = Field(None, min_length=1, max_length=256)
    agent_id: str | None = Field(None, min_length=1, max_length=256)
    metadata: dict[str, Any] | None = Field(None, description="JSON containment: the memory's metadata holds this.")
    observed_after: dt.datetime | None = Field(None, description="Said at or after this time.")
    observed_before: dt.datetime | None = Field(None, description="Said before this time.")
    recorded_before: dt.datetime | None = Field(None, description="Stored before this time (what the store knew "
                                                                  "then; `as_of` reads when things were said).")

    _metadata_depth = field_validator("metadata", mode="before")(bounded_json)

    def as_sql(self) -> dict | None:
        given = self.model_dump(exclude_none=True, mode="json")
        return given or None


class RetrieveRequest(_Body):
    tenant_id: str | None = Field(None, min_length=1, max_length=63)
    user_id: str = Field(min_length=1, max_length=256)
    query: str = Field(max_length=10000)
    top_k: int = Field(10, ge=1, le=1000)
    token_budget: int | None = Field(None, ge=1, le=10_000_000)
    kinds: list[Kind] | None = Field(None, max_length=5)
    filters: Filters | None = None
    as_of: dt.datetime | None = Field(None, description="Answer from what was current then.")
    min_score: float | None = Field(None, ge=0, le=1000, description="Leave out results scoring below this.")


class RetrieveResponse(BaseModel):
    results: list[Memory]


class ListResponse(BaseModel):
    results: list[StoredMemory]
    next_before: str | None = Field(None, description="Pass as `before` for the next page; null on the last.")


class Version(BaseModel):
    version: int
    operation: str
    actor: str
    reason: str | None
    recorded_at: dt.datetime
    snapshot: dict[str, Any]


class HistoryResponse(BaseModel):
    memory_id: str
    versions: list[Version]


class UpdateRequest(_Body):
    content: str = Field(min_length=1, max_length=100000, description="The memory's new text.")


class UpdateResponse(BaseModel):
    id: str = Field(description="The new version's memory id.")
    supersedes: str = Field(description="The memory it replaced (now superseded; its history is kept).")
    tenant_id: str


class User(BaseModel):
    user_id: str
    memories: int = Field(description="Current memories (raw conversation turns not counted).")
    created_at: dt.datetime
    last_seen_at: dt.datetime


class UsersResponse(BaseModel):
    users: list[User]
    next_after: str | None = Field(None, description="Pass as `after` for the next page; null on the last.")


class UserRequest(_Body):
    tenant_id: str | None = Field(None, min_length=1, max_length=63)
    user_id: str = Field(min_length=1, max_length=256)


class RebuildRequest(_Body):
    tenant: str = Field(min_length=1, max_length=63, description='"all" or one tenant id.')


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
