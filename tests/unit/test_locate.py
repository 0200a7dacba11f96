"""Where every command, `pymem.connect()` and `pymem mcp` find the database
(pymem.server.locate): the caller's --dsn/--home, PYMEM_DSN, PYMEM_HOME, an existing ./.pymem
(with a notice), then the per-user home; never a new ./.pymem."""

import logging
from pathlib import Path

import pytest

from pymem.cli.base import Context
from pymem.server import locate, user_home


@pytest.fixture
def clean(tmp_path, monkeypatch):
    for name in ("PYMEM_DSN", "PYMEM_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return tmp_path


def test_the_order(clean, monkeypatch):
    default = clean / "home" / ".local" / "share" / "pymem"
    assert locate() == locate(None, None)
    assert (locate().home, locate().source) == (default, "default")
    monkeypatch.setenv("XDG_DATA_HOME", str(clean / "data"))
    assert user_home() == clean / "data" / "pymem" and locate().home == clean / "data" / "pymem"
    monkeypatch.setenv("PYMEM_HOME", str(clean / "env-home"))
    assert (locate().home, locate().source) == (clean / "env-home", "PYMEM_HOME")
    monkeypatch.setenv("PYMEM_DSN", "postgresql://env/db")
    assert (locate().dsn, locate().home, locate().source) == ("postgresql://env/db", None, "PYMEM_DSN")
    # the caller's choice beats the environment: --home over PYMEM_DSN, --dsn over everything
    assert (locate(home=clean / "flag").home, locate(home=clean / "flag").source) == (clean / "flag", "--home")
    assert locate("postgresql://flag/db", clean / "flag").dsn == "postgresql://flag/db"
    # the CLI reads the same: PYMEM_HOME is not mistaken for the --home flag
    monkeypatch.delenv("PYMEM_DSN")
    assert Context(None, None).location.source == "PYMEM_HOME"
    assert Context(str(clean / "flag"), None).location.source == "--home"


def test_a_folder_is_never_a_home_unasked(clean):
    assert locate().home != Path.cwd() / ".pymem"
    assert not (Path.cwd() / ".pymem").exists()


def test_an_existing_dot_pymem_is_kept_with_a_notice(clean, caplog):
    (Path.cwd() / ".pymem" / "pgdata").mkdir(parents=True)
    (Path.cwd() / ".pymem" / "pgdata" / "PG_VERSION").write_text("18\n")
    with caplog.at_level(logging.WARNING, logger="pymem.server"):
        found = locate()
    assert (found.home, found.source) == (Path.cwd() / ".pymem", "./.pymem")
    assert any("set PYMEM_HOME" in r.getMessage() for r in caplog.records)
    # an empty .pymem folder (no cluster) is not a home
    (Path.cwd() / ".pymem" / "pgdata" / "PG_VERSION").unlink()
    assert locate().source == "default"


def test_status_says_which_rule_found_the_home(clean, monkeypatch):
    import json

    from click.testing import CliRunner

    from pymem.cli import main

    state = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert (state["home"], state["found_by"], state["running"]) == (str(user_home()), "default", False)
    monkeypatch.setenv("PYMEM_HOME", str(clean / "env-home"))
    state = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert (state["home"], state["found_by"]) == (str(clean / "env-home"), "PYMEM_HOME")
    human = CliRunner().invoke(main, ["--home", str(clean / "flag"), "status"]).output
    assert human.endswith("found by: --home\n") and "stopped" in human
