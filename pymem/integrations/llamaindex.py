"""A LlamaIndex memory block: long-term memory for ``llama_index.core.memory.Memory``.

``Memory.from_defaults(memory_blocks=[PymemMemoryBlock(tenant=..., user_id=...)])``: when
the agent asks its memory for context, the block retrieves what pymem holds for the latest
user message (a formatted block, best first); messages that leave the short-term window
are ingested, so pymem extracts memories from them in the background. One tenant and one
user per block, fixed when it is built.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..client import AsyncTenantClient, format_context

try:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole
    from llama_index.core.memory.memory import BaseMemoryBlock
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("PymemMemoryBlock needs the llamaindex extra: pip install 'pymem-pg[llamaindex]'") from exc

_ROLES = {MessageRole.USER: "user", MessageRole.ASSISTANT: "assistant", MessageRole.SYSTEM: "system",
          MessageRole.TOOL: "tool"}


class PymemMemoryBlock(BaseMemoryBlock[str]):
    """pymem as a LlamaIndex memory block (see the module doc)."""

    name: str = "pymem"
    description: str | None = "What is known about the user from earlier conversations"
    tenant: Any
    """A ``TenantClient`` or an ``AsyncTenantClient``."""
    user_id: str
    top_k: int = 10
    min_score: float | None = None
    session_id: str | None = None

    async def _call(self, method: str, *args, **kwargs):
        fn = getattr(self.tenant, method)
        if isinstance(self.tenant, AsyncTenantClient):
            return await fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        query = next((m.content for m in reversed(messages or []) if m.role == MessageRole.USER and m.content), None)
        if not query:
            return ""
        memories = await self._call("retrieve", self.user_id, query, top_k=self.top_k, min_score=self.min_score)
        return format_context(memories)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        turns = [{"role": _ROLES[m.role], "content": m.content} for m in messages
                 if m.role in _ROLES and isinstance(m.content, str) and m.content.strip()]
        if turns:
            await self._call("ingest", self.user_id, turns, session_id=self.session_id)
