"""The public API's type hints, as a user's type checker sees them (issue 35, item 4).

pymem ships ``py.typed``. The clients' methods are made at import from generator operations
(pymem/client.py, _bind); mypy must still see each method's real parameters and result, a
coroutine of it on the async client, and never ``Any``. mypy runs with ``--strict`` over what a
user writes, and pymem is followed silently, as an installed package is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy comes with the [test] extra")

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE = textwrap.dedent('''
    import asyncio

    import pymem


    def main() -> None:
        client = pymem.connect()
        reveal_type(client)
        reveal_type(client.create_tenant("acme", exist_ok=True))
        acme = client.tenant("acme")
        reveal_type(acme)
        reveal_type(acme.remember("alice", "Alice is allergic to dogs", kind="fact"))
        reveal_type(acme.ingest("alice", "Actually, I switched to light mode"))
        memories = acme.retrieve("alice", "can I bring my dog?", top_k=3)
        reveal_type(memories)
        reveal_type(memories[0].score)
        reveal_type(pymem.format_context(memories))
        reveal_type(acme.get("0"))
        reveal_type(acme.list_users())
        client.close()


    async def amain() -> None:
        client = await pymem.connect_async()
        reveal_type(client)
        acme = client.tenant("acme")
        reveal_type(acme)
        reveal_type(await client.create_tenant("acme", exist_ok=True))
        await reveal_type(acme.remember("alice", "Alice is allergic to dogs"))
        reveal_type(await acme.ingest("alice", [{"role": "user", "content": "hi"}]))
        reveal_type(await acme.retrieve("alice", "can I bring my dog?", top_k=3))
        await client.close()


    asyncio.run(amain())
''')

EXPECTED = [
    "pymem.client.Client",
    "builtins.dict[builtins.str, Any]",
    "pymem.client.TenantClient",
    "builtins.str",
    "builtins.str",
    "builtins.list[pymem.client.Memory]",
    "builtins.float",
    "builtins.str",
    "pymem.client.StoredMemory | None",
    "builtins.list[builtins.dict[builtins.str, Any]]",
    "pymem.client.AsyncClient",
    "pymem.client.AsyncTenantClient",
    "builtins.dict[builtins.str, Any]",
    "typing.Coroutine[Any, Any, builtins.str]",
    "builtins.str",
    "builtins.list[pymem.client.Memory]",
]

MISUSE = textwrap.dedent('''
    import pymem

    acme = pymem.connect().tenant("acme")
    acme.retrieve("alice", 3)
    acme.remember("alice", "x", kind=1)
    count: int = acme.ingest("alice", "hi")
''')


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory) -> tuple[int, str]:
    """One mypy run over both files: (exit status, its report)."""
    folder = tmp_path_factory.mktemp("typing")
    (folder / "example.py").write_text(EXAMPLE)
    (folder / "misuse.py").write_text(MISUSE)
    env = {**os.environ, "MYPYPATH": str(ROOT)}  # this checkout's pymem, not an installed one
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental",
                          "--no-error-summary", "--hide-error-context", "--cache-dir", str(folder / "cache"),
                          "--python-version", "3.11", "example.py", "misuse.py"],
                         capture_output=True, text=True, cwd=folder, env=env, timeout=300)
    assert out.stderr == "", out.stderr
    return out.returncode, out.stdout


def _lines(report: str, filename: str, kind: str) -> list[str]:
    return [line.split(f": {kind}: ", 1)[1] for line in report.splitlines()
            if line.startswith(f"{filename}:") and f": {kind}: " in line]


def test_mypy_sees_the_public_api_precisely(mypy_output):
    _, report = mypy_output
    assert _lines(report, "example.py", "error") == [], report
    revealed = [re.fullmatch(r'Revealed type is "(.*)"', note).group(1)
                for note in _lines(report, "example.py", "note") if note.startswith("Revealed type")]
    # Older mypy versions qualify builtins: compare without the prefix.
    assert [t.replace("builtins.", "") for t in revealed] == [t.replace("builtins.", "") for t in EXPECTED], report


def test_mypy_catches_a_wrong_call(mypy_output):
    status, report = mypy_output
    errors = _lines(report, "misuse.py", "error")
    assert status == 1, report
    assert len(errors) == 3, report
    assert 'has incompatible type "int"; expected "str"' in errors[0]
    assert '"kind"' in errors[1] and '"int"' in errors[1]
    assert "incompatible types in assignment" in errors[2].lower()
