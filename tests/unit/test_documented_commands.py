"""Every `pymem ...` command line in README.md and docs/ names commands and options the CLI
has, and every complete one in a code block parses as written (the docs once said
`admin reindex TENANT` where the CLI needs --tenant). Parsing only: nothing runs."""

import re
import shlex
from pathlib import Path

import click
import pytest

from pymem.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# env assignments before the command (PYMEM_DSN=... pymem serve), then the command line
_COMMAND = re.compile(r"^\s*(?:\$ )?(?:[A-Z_][A-Z0-9_]*=\S* )*(pymem(?: .*)?)$")


def documented_commands() -> list[tuple[str, str, bool]]:
    """(where, command line, whether it is a whole line of a code block)."""
    found = []
    for path in DOCS:
        fenced = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif fenced:
                match = _COMMAND.match(line)
                if match:
                    found.append((where, match.group(1), True))
            else:
                for span in re.findall(r"`([^`]+)`", line):
                    match = _COMMAND.match(span)
                    if match and match.group(1) != "pymem":
                        found.append((where, match.group(1), False))
    return found


def _commands(words: list[str], command: click.Command = main, path: tuple[str, ...] = ()):
    """(command, its path, the words left for it) for each command WORDS name: `a|b` names two."""
    if not isinstance(command, click.Group) or not words or words[0].startswith("-"):
        return [(command, list(path), words)]
    found = []
    for name in words[0].split("|"):
        sub = command.commands.get(name)
        assert sub is not None, f"no command `pymem {' '.join([*path, name])}`"
        found += _commands(words[1:], sub, (*path, name))
    return found


def _alternatives(code: str) -> list[list[str]]:
    """`pymem up | down [--purge] | status`: each alternative as the words of a command line."""
    first, *others = code.split(" | ")
    words = first.split()[1:]
    group = _commands(words)[0][1][:-1]
    return [words, *([*group, *other.split()] for other in others)]


@pytest.mark.parametrize("where, line, whole", documented_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_documented_command_exists_and_parses(where, line, whole):
    code, _, comment = line.partition(" #")
    for command, path, rest in [leaf for words in _alternatives(code) for leaf in _commands(words)]:
        names = {name for param in command.params for name in param.opts + param.secondary_opts} | {"--help"}
        for word in rest + comment.split():
            option = word.strip("[],.;:()").split("=")[0]
            if option.startswith("--"):
                assert option in names, f"{where}: `pymem {' '.join(path)}` has no option {option}"
        placeholder = any(mark in code for mark in ("|", "[", "...", "…", "<")) or any(
            word == "-" or word.startswith("@") for word in rest)
        if whole and not placeholder and not isinstance(command, click.Group):
            args = shlex.split(code)[1 + len(path):]
            try:
                command.make_context(" ".join(["pymem", *path]), args)
            except click.UsageError as exc:
                pytest.fail(f"{where}: `{code.strip()}` does not parse: {exc.format_message()}")


def test_the_scan_finds_the_readme_walkthrough():
    lines = [line for _, line, whole in documented_commands() if whole]
    assert 'pymem remember --tenant acme --user alice --kind preference "Alice prefers dark mode"' in lines
    assert len(documented_commands()) > 100
