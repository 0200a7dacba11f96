"""The HTTP embedder asks OpenAI's text-embedding-3 models for the column's dimensions, and
`pymem.connect()` embeds with the same model as the worker and the service."""

import pytest

import pymem
from pymem.embed import EmbeddingError, HTTPEmbedder, LocalEmbedder
from tests.embedding_server import EmbeddingEndpoint


def test_text_embedding_3_is_asked_for_the_columns_dimensions():
    with EmbeddingEndpoint() as endpoint:
        vectors = HTTPEmbedder(endpoint.url, "text-embedding-3-small").embed(["I prefer dark mode"])
        assert vectors.shape == (1, 384)
        assert endpoint.bodies[-1]["dimensions"] == 384
        # Without it the model answers 1536 and every batch would fail, permanently.
        with pytest.raises(EmbeddingError, match=r"shape \(1, 1536\), expected \(1, 384\)") as caught:
            HTTPEmbedder(endpoint.url, "text-embedding-3-small", send_dimensions=False).embed(["x"])
        assert caught.value.retryable is False


def test_requests_reuse_one_pooled_connection():
    with EmbeddingEndpoint() as endpoint:
        embedder = HTTPEmbedder(endpoint.url, "nomic-embed-text", batch_size=2)
        for _ in range(3):
            embedder.embed(["a", "b", "c", "d", "e"])  # 3 requests each
        assert endpoint.requests == 9 and len(endpoint.connections) == 1
        endpoint.rate_limit_next = 1  # a 429 answer keeps the connection too
        embedder.embed(["f"])
        assert len(endpoint.connections) == 1
        embedder.close()


def test_a_reply_that_is_not_json_is_a_permanent_error():
    with EmbeddingEndpoint() as endpoint:
        endpoint.garbage = True
        with pytest.raises(EmbeddingError, match="not JSON") as caught:
            HTTPEmbedder(endpoint.url, "nomic-embed-text", attempts=1).embed(["x"])
        assert caught.value.retryable is False


def test_other_models_get_no_dimensions_field():
    with EmbeddingEndpoint() as endpoint:
        assert HTTPEmbedder(endpoint.url, "nomic-embed-text").embed(["x"]).shape == (1, 384)
        assert "dimensions" not in endpoint.bodies[-1]


def test_connect_embeds_with_the_configured_endpoint(monkeypatch):
    from pymem.client import _embedder

    monkeypatch.setenv("PYMEM_EMBED_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("PYMEM_EMBED_MODEL", "text-embedding-3-small")
    chosen = _embedder("auto")
    assert isinstance(chosen, HTTPEmbedder) and chosen.model == "text-embedding-3-small"
    assert isinstance(_embedder("local"), LocalEmbedder)  # asked for by name: the local model
    monkeypatch.delenv("PYMEM_EMBED_URL")
    assert isinstance(_embedder("auto"), LocalEmbedder)
    with pytest.raises(pymem.InvalidInput, match="'auto', 'local'"):
        _embedder("openai")
