"""A LangChain retriever over one pymem tenant and user: ``PymemRetriever(tenant=...,
user_id=...)`` in any chain that takes a ``BaseRetriever``. Documents carry the memory's
id, kind, score and times in ``metadata``. With an ``AsyncTenantClient`` the async path
awaits pymem; with a ``TenantClient`` it runs in a thread."""

from __future__ import annotations

import asyncio
from typing import Any

from ..client import AsyncTenantClient, Memory

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("PymemRetriever needs the langchain extra: pip install 'pymem-pg[langchain]'") from exc


def _document(memory: Memory) -> Document:
    return Document(page_content=memory.content, id=memory.id,
                    metadata={"id": memory.id, "kind": memory.kind, "score": memory.score,
                              "observed_at": memory.observed_at.isoformat(),
                              "created_at": memory.created_at.isoformat(), "session_id": memory.session_id})


class PymemRetriever(BaseRetriever):
    """The user's memories for a query, best first (pymem's hybrid retrieval)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tenant: Any
    """A ``TenantClient`` or an ``AsyncTenantClient``: the tenant is fixed here."""
    user_id: str
    top_k: int = 10
    min_score: float | None = None
    kinds: list[str] | None = None
    token_budget: int | None = None

    def _arguments(self) -> dict:
        return {"top_k": self.top_k, "min_score": self.min_score, "kinds": self.kinds,
                "token_budget": self.token_budget}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        if isinstance(self.tenant, AsyncTenantClient):
            raise TypeError("this retriever wraps an async client: use ainvoke")
        return [_document(m) for m in self.tenant.retrieve(self.user_id, query, **self._arguments())]

    async def _aget_relevant_documents(self, query: str, *,
                                       run_manager: AsyncCallbackManagerForRetrieverRun) -> list[Document]:
        if isinstance(self.tenant, AsyncTenantClient):
            memories = await self.tenant.retrieve(self.user_id, query, **self._arguments())
        else:
            memories = await asyncio.to_thread(self.tenant.retrieve, self.user_id, query, **self._arguments())
        return [_document(m) for m in memories]
