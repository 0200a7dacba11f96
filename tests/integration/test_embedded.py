"""The embedded server and the local embedder, as `make demo` uses them.

Slow: starts a second cluster through `pymem up` and loads the real model.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

import pymem

pytestmark = pytest.mark.slow


def _pymem(*args, home):
    return subprocess.run([sys.executable, "-m", "pymem.cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def home():
    root = Path(tempfile.mkdtemp(prefix="pymem-embedded-", dir="/dev/shm"))
    yield root / "home"
    _pymem("down", "--purge", home=root / "home")
    shutil.rmtree(root, ignore_errors=True)


def test_up_status_doctor_down(home):
    up = _pymem("up", "--json", home=home)
    assert up.returncode == 0, up.stderr
    status = json.loads(_pymem("status", "--json", home=home).stdout)
    assert status["running"] is True
    # The URI works for psql and pg_dump alike: a plain libpq URI on the unix socket.
    with psycopg.connect(status["uri"]) as conn:
        libs = conn.execute("show shared_preload_libraries").fetchone()[0]
        assert "age" in libs and "pg_textsearch" in libs
    doctor = _pymem("doctor", "--json", home=home)
    assert doctor.returncode == 0, doctor.stderr
    assert json.loads(doctor.stdout)["ok"] is True
    # Re-running up is harmless.
    assert _pymem("up", home=home).returncode == 0
    assert _pymem("down", home=home).returncode == 0
    assert json.loads(_pymem("status", "--json", home=home).stdout)["running"] is False


def test_connect_embeds_and_ranks_by_meaning(home, embedder):
    client = pymem.connect(home=home, embedder=embedder)
    try:
        client.create_tenant("meaning", exist_ok=True)
        tenant = client.tenant("meaning")
        tenant.remember("alice", "Alice is allergic to dogs")
        tenant.remember("alice", "Alice's favourite colour is green")
        tenant.remember("alice", "Alice commutes by train every morning")
        # No shared words with the allergy memory: only the vector side can find it.
        top = tenant.retrieve("alice", "which pets make her sneeze?", top_k=3)
        assert top[0].content == "Alice is allergic to dogs"
        assert top[0].vector_score > top[1].vector_score
    finally:
        client.close()


def test_the_demo_walkthrough_adds_up(home, monkeypatch, capsys):
    import re

    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("demo", Path(__file__).resolve().parents[2] / "examples" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    monkeypatch.setenv("PYMEM_HOME", str(home))
    monkeypatch.delenv("PYMEM_DSN", raising=False)
    demo.main()
    out = capsys.readouterr().out
    # Every printed score is the weighted sum it prints next to it.
    lines = re.findall(r"^(\d\.\d+) = 0\.6\*(\d\.\d+) \+ 0\.25\*(\d\.\d+) \+ 0\.15\*(\d\.\d+) \+ 0\.2\*(\d\.\d+)  (.*)$",
                       out, re.M)
    assert len(lines) == 3, out
    for score, vector, lexical, recency, graph, _ in lines:
        total = 0.6 * float(vector) + 0.25 * float(lexical) + 0.15 * float(recency) + 0.2 * float(graph)
        assert abs(float(score) - total) < 0.002, (score, total)
    assert lines[0][5] == "[fact] Alice is allergic to dogs"
    assert "memories of demo-acme visible to demo-globex: 0" in out
