"""The LLM extractor end to end, as a protocol test: a real `pymem worker` process talks HTTP
to an OpenAI-compatible server process this test starts (tests/openai_server.py answers
from fixtures, so the model is not what is tested), and the model's memories go through the
same SQL write path as every other writer, into supersession."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FIXTURES = [
    {"when": "I prefer dark mode", "memories": [{
        "kind": "preference", "content": "User prefers dark mode", "subject": "user", "attribute": "display_theme",
        "value": "dark mode", "entities": [{"name": "Dark mode", "type": "Theme"}],
        "relations": [{"predicate": "PREFERS", "entity": "Dark mode", "type": "Theme"}],
        "importance": 0.7, "confidence": 0.9, "source_turns": [0]}]},
    # A slot outside the vocabulary: the database reads the content itself (one slot logic).
    {"when": "switched to light mode", "memories": [{
        "kind": "preference", "content": "User switched to light mode", "subject": "user", "attribute": "ui_colours",
        "value": "light", "entities": [], "relations": [], "importance": 0.7, "confidence": 0.9, "source_turns": [0]}]},
]


@pytest.fixture
def model_server(tmp_path):
    path = tmp_path / "fixtures.json"
    path.write_text(json.dumps(FIXTURES))
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_server.py"), str(path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_a_models_extraction_reaches_supersession_through_the_worker(client, db, model_server):
    client.create_tenant("acme")
    acme = client.tenant("acme")
    env = {**os.environ, "PYMEM_LLM_URL": model_server, "PYMEM_LLM_MODEL": "fixture-model",
           "PYMEM_EMBED_URL": model_server}
    db.declare_embedding_model("text-embedding-3-small")

    def worker_once():
        done = subprocess.run([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "worker", "--once"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    acme.ingest("alice", "I prefer dark mode")
    assert worker_once()["applied"] == 1
    acme.ingest("alice", "Actually, I switched to light mode")
    assert worker_once()["applied"] == 1
    with db.connect() as conn:
        rows = conn.execute("select content, status, attribute, metadata->>'extractor' from _pymem.memories "
                            "where user_id = 'alice' and kind <> 'episode' order by created_at").fetchall()
    assert rows == [("User prefers dark mode", "superseded", "display_theme", "llm"),
                    ("User switched to light mode", "active", "display_theme", "llm")]
    top = acme.retrieve("alice", "which display theme?", query_embedding=None, top_k=3)
    assert "light mode" in top[0].content
