"""The LangChain retriever and the LlamaIndex memory block, on the real database."""

import asyncio

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.memory import Memory

import pymem
from pymem.integrations.langchain import PymemRetriever
from pymem.integrations.llamaindex import PymemMemoryBlock

from ..conftest import unit_vector


@pytest.fixture
def acme(client):
    client.create_tenant("acme")
    client.create_tenant("globex")
    tenant = client.tenant("acme")
    tenant.remember("alice", "Alice drinks green tea every morning", embedding=unit_vector(1))
    tenant.remember("alice", "Alice flew to Oslo in May", embedding=unit_vector(2))
    client.tenant("globex").remember("alice", "Globex's Alice drinks tea with the vault code 7731")
    return tenant


def test_langchain_retriever_sync_and_async(acme, db):
    retriever = PymemRetriever(tenant=acme, user_id="alice", top_k=5)
    documents = retriever.invoke("green tea")
    assert documents[0].page_content == "Alice drinks green tea every morning"
    assert documents[0].metadata["kind"] == "fact" and documents[0].metadata["score"] > 0
    assert all("7731" not in d.page_content for d in documents)  # another tenant's Alice
    assert retriever.model_copy(update={"min_score": 999}).invoke("green tea") == []
    assert [d.page_content for d in asyncio.run(retriever.ainvoke("green tea"))] == [d.page_content for d in documents]

    async def through_the_async_client():
        async with await pymem.connect_async(db.service_dsn, embedder=None) as client:
            found = await PymemRetriever(tenant=client.tenant("acme"), user_id="alice").ainvoke("green tea")
            return [d.page_content for d in found]

    assert asyncio.run(through_the_async_client()) == [d.page_content for d in documents]


def test_llamaindex_block_gives_context_and_takes_flushed_turns(acme):
    block = PymemMemoryBlock(tenant=acme, user_id="alice", session_id="li-1")
    memory = Memory.from_defaults(session_id="li-1", token_limit=60, token_flush_size=20, chat_history_token_ratio=0.5,
                                  memory_blocks=[block], tokenizer_fn=lambda text: text.split())
    memory.put(ChatMessage(role=MessageRole.USER, content="What do I drink in the morning? I like green tea."))
    context = memory.get()
    block_text = " ".join(str(m.content) for m in context if m.role == MessageRole.SYSTEM)
    assert "Alice drinks green tea every morning" in block_text and "7731" not in block_text
    # Turns pushed out of the short-term window reach pymem as an episode.
    for i in range(12):
        memory.put(ChatMessage(role=MessageRole.USER, content=f"turn {i}: my cat is called Miso number {i}"))
        memory.put(ChatMessage(role=MessageRole.ASSISTANT, content=f"noted {i}"))
    memory.get()
    stored = acme.list("alice", kinds=["episode"], filters={"session_id": "li-1"}, limit=100)
    assert any("my cat is called Miso" in m.content for m in stored)
