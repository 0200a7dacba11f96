"""The first minutes of an agent developer (issue 35): the README's MCP config, pasted as it
is, started from another folder with an empty environment (HOME and PATH only, as an app
launches it), finds the database `pymem tenant create` made in a terminal, extracts what is
ingested without a second process, and leaves no PostgreSQL running when it exits. And
`pymem serve` extracts by itself too.

Slow: initialises a cluster in a temporary HOME and loads the real model in each server."""

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from pymem.embed import cache_folder
from pymem.server import EmbeddedServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXTRACTED = ["fact", "preference", "event", "procedural"]
EXTRACTION_WAIT = 60  # seconds: the worker polls every second; extraction itself takes well under one


def readme_mcp_config() -> dict:
    """The one MCP server config in README.md, as JSON."""
    blocks = re.findall(r"```json\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    configs = [json.loads(block) for block in blocks if "mcpServers" in block]
    assert len(configs) == 1, "README.md should show one MCP config"
    (server,) = configs[0]["mcpServers"].values()
    return server


def bare_env(home: Path, bindir: Path | None = None) -> dict:
    """What an app gives the processes it launches: HOME and PATH, with `bindir` (where `pymem`
    is installed: this interpreter's by default) first; PYTHONPATH only where the tests run
    this interpreter's pymem from a source tree."""
    env = {"HOME": str(home), "PATH": f"{bindir or Path(sys.executable).parent}:/usr/bin:/bin"}
    if bindir is None and os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    """A user's machine: an empty HOME (the exported model linked in, so as not to export it
    again), where `pymem tenant create` and `pymem tenant key create` ran in a terminal."""
    root = tmp_path_factory.mktemp("agent")
    home = root / "home"
    (home / ".cache").mkdir(parents=True)
    os.symlink(cache_folder(), home / ".cache" / "pymem")
    terminal = root / "terminal"
    terminal.mkdir()

    def pymem(*args, cwd=terminal):
        return subprocess.run(["pymem", *args], cwd=cwd, env=bare_env(home), capture_output=True, text=True,
                              timeout=300)

    created = pymem("tenant", "create", "acme")
    assert created.returncode == 0, created.stderr
    key = pymem("tenant", "key", "create", "acme", "--json")
    assert key.returncode == 0, key.stderr
    server = EmbeddedServer(home / ".local" / "share" / "pymem")
    assert server.is_running(), "the terminal's commands used the per-user home"
    assert not (terminal / ".pymem").exists()
    yield {"home": home, "root": root, "key": json.loads(key.stdout)["api_key"], "server": server, "pymem": pymem}
    pymem("down")


def mcp_params(machine, folder: Path) -> StdioServerParameters:
    """The README's config as Claude Desktop runs it: its command, its args, its env with the
    key filled in, in a folder of the app's choosing; `pymem` from machine["bin"] when given."""
    config = readme_mcp_config()
    env = dict(config.get("env", {}))
    assert set(env) <= {"PYMEM_API_KEY", "PYMEM_HOME", "PYMEM_DSN"}, env
    env["PYMEM_API_KEY"] = machine["key"]
    app_env = bare_env(machine["home"], machine.get("bin"))
    command = shutil.which(config["command"], path=app_env["PATH"])
    assert command, f"{config['command']} is not on PATH"
    return StdioServerParameters(command=command, args=config["args"], env={**app_env, **env},
                                 cwd=str(folder))


def test_the_readme_mcp_config_works_as_pasted(machine):
    machine["pymem"]("down")
    assert not machine["server"].is_running()
    app_folder = machine["root"] / "app"
    app_folder.mkdir()

    async def session():
        async with Client(mcp_params(machine, app_folder), read_timeout_seconds=120) as mcp:
            stored = await mcp.call_tool("remember", {"content": "Alice is allergic to peanuts"})
            assert not stored.is_error, stored.content
            found = await mcp.call_tool("retrieve", {"query": "what is Alice allergic to?"})
            assert [r["content"] for r in found.structured_content["results"]][:1] == ["Alice is allergic to peanuts"]
            # extraction runs inside the MCP server: no `pymem worker` anywhere
            queued = await mcp.call_tool("ingest", {"content": "I moved to Oslo last month"})
            assert not queued.is_error, queued.content
            deadline = time.monotonic() + EXTRACTION_WAIT
            while True:
                found = await mcp.call_tool("retrieve", {"query": "where does Alice live?", "kinds": EXTRACTED})
                extracted = [r["content"] for r in found.structured_content["results"] if "Oslo" in r["content"]]
                if extracted or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert extracted, f"nothing extracted within {EXTRACTION_WAIT} s"
            assert machine["server"].is_running()

    asyncio.run(session())
    # the server `pymem mcp` started went with it; the app's folder got no database
    deadline = time.monotonic() + 30
    while machine["server"].is_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not machine["server"].is_running()
    assert list(app_folder.iterdir()) == []


def test_a_server_that_was_running_keeps_running(machine):
    assert machine["pymem"]("up").returncode == 0
    folder = machine["root"] / "app2"
    folder.mkdir()

    async def session():
        async with Client(mcp_params(machine, folder), read_timeout_seconds=120) as mcp:
            assert not (await mcp.call_tool("retrieve", {"query": "peanuts"})).is_error

    asyncio.run(session())
    assert machine["server"].is_running()
    assert machine["pymem"]("down").returncode == 0


def test_sigterm_stops_the_server_it_started(machine):
    machine["pymem"]("down")
    params = mcp_params(machine, machine["root"])
    proc = subprocess.Popen([params.command, *params.args], env=params.env, cwd=params.cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sessions = machine["server"].home / "sessions"
    try:
        deadline = time.monotonic() + 120
        # at once when it registers, so while the server may still be starting (the signal then
        # waits for the session to be able to stop it)
        while not (sessions / str(proc.pid)).exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 128 + signal.SIGTERM  # as a shell reports a process SIGTERM ended
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not machine["server"].is_running(), proc.stderr.read()
    assert not (sessions / str(proc.pid)).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("extract", [True, False])
def test_serve_extracts_without_a_worker(db, client, extract):
    client.create_tenant("acme")
    key = client.create_api_key("acme")["api_key"]
    port = _free_port()
    env = {**os.environ, "PYMEM_ADMIN_TOKEN": "", "PYMEM_EXTRACT": "1" if extract else "0"}
    proc = subprocess.Popen([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "pymem serve did not start"
            time.sleep(0.25)
        r = httpx2.post(f"{url}/api/memory/ingest", headers=headers,
                        json={"user_id": "alice", "content": "I moved to Oslo last month"})
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + (EXTRACTION_WAIT if extract else 5)
        while True:
            r = httpx2.post(f"{url}/api/memory/retrieve", headers=headers,
                            json={"user_id": "alice", "query": "where does Alice live?", "kinds": EXTRACTED})
            extracted = [m["content"] for m in r.json()["results"] if "Oslo" in m["content"]]
            if extracted or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(60)
    if extract:
        assert extracted, f"nothing extracted within {EXTRACTION_WAIT} s"
    else:  # --no-extract (PYMEM_EXTRACT=0): left for `pymem worker`
        assert not extracted
        assert [s["pending"] for s in client.queue_stats()] == [1]
