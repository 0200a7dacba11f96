"""The README's correction walkthrough, run exactly as written (its lines are read from
README.md), against a test database: the current fact comes first."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pymem.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> list[str]:
    block = re.search(r"<!-- walkthrough -->\n```\n(.*?)```\n<!-- /walkthrough -->", README.read_text(), re.S)
    assert block, "README.md lost its walkthrough block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_walkthrough_puts_the_correction_first(db, embedder):
    runner = CliRunner()
    outputs = []
    for line in walkthrough():
        args = shlex.split(line)
        assert args[0] == "pymem"
        result = runner.invoke(main, ["--dsn", db.service_dsn, *args[1:]], catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
        outputs.append(result.output)
    results = [line for line in outputs[-1].splitlines() if "]" in line]
    assert results, outputs[-1]
    assert "light mode" in results[0].lower(), outputs[-1]
    assert not any("Alice prefers dark mode" in line for line in results), outputs[-1]


def python_snippet() -> str:
    block = re.search(r"## Python\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its Python example"
    return block.group(1)


def test_the_readme_python_example_runs_as_written_and_again(db):
    """The first example a newcomer copies, run twice against the same database (a rerun
    failed on create_tenant)."""
    env = {**os.environ, "PYMEM_DSN": db.service_dsn, "HF_HUB_OFFLINE": "1"}
    for run in (1, 2):
        out = subprocess.run([sys.executable, "-c", python_snippet()], env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, (run, out.stderr[-2000:])
        assert "Alice is allergic to dogs" in out.stdout, out.stdout
