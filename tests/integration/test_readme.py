"""The README's correction walkthrough, run exactly as written (its lines are read from
README.md), against a test database: the current fact comes first."""

import re
import shlex
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
