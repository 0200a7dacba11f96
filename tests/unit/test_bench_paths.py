"""Benchmarks find their data through one setting, saved results carry no paths of the machine
that made them, and the old option names of `pymem bench load` still work. Nothing runs a
benchmark: the data folder lookup, the path rewriting and the CLI's refusals before any work."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pymem.bench import common
from pymem.cli import main

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "benchmarks" / "results"


def test_the_data_folder_comes_from_the_setting_then_the_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("PYMEM_SHARED_BENCH", raising=False)
    monkeypatch.setenv("PYMEM_BENCH_DATA", str(tmp_path))
    assert common.bench_data_dir() == tmp_path.resolve()
    assert common.bench_data_dir(tmp_path / "given") == (tmp_path / "given").resolve()  # --data-dir wins
    with pytest.raises(common.BenchDataMissing, match="PYMEM_BENCH_DATA") as missing:
        common.bench_data_file("locomo", "locomo10.json")
    assert "locomo/locomo10.json" in str(missing.value)
    monkeypatch.delenv("PYMEM_BENCH_DATA")
    shared = ROOT.parent / "shared" / "bench"
    if shared.is_dir():
        assert common.bench_data_dir() == shared  # beside the checkout
    else:
        with pytest.raises(common.BenchDataMissing, match="PYMEM_BENCH_DATA"):
            common.bench_data_dir()


def test_an_installed_package_has_no_checkout_to_fall_back_on(monkeypatch):
    monkeypatch.delenv("PYMEM_BENCH_DATA", raising=False)
    monkeypatch.delenv("PYMEM_SHARED_BENCH", raising=False)
    monkeypatch.setattr(common, "repository_root", lambda: None)
    with pytest.raises(common.BenchDataMissing, match="set PYMEM_BENCH_DATA"):
        common.bench_data_dir()


def test_saved_paths_are_relative_to_the_repository_or_the_data_setting_or_none(tmp_path):
    root, data = Path("/tmp/checkout"), tmp_path / "data"
    result = {"dataset": str(data / "locomo" / "locomo10.json"), "out": str(tmp_path / "k6-out"),
              "results_dir": "/tmp/checkout/docs/benchmarks/results", "route": "/api/memory/retrieve",
              "p95_ms": 12.5, "runs": [{"run_file": str(tmp_path / "run.jsonl")}],
              "argv": ["pymem", "bench", "locomo", "--out", str(tmp_path / "o"), f"--home={tmp_path / 'h'}",
                       "--data-dir=/tmp/checkout/../x"]}
    saved = common.portable_paths(result, root=root, data=data)
    assert saved["dataset"] == "$PYMEM_BENCH_DATA/locomo/locomo10.json"
    assert saved["results_dir"] == "docs/benchmarks/results"
    assert saved["out"] is None and saved["runs"][0]["run_file"] is None
    assert saved["route"] == "/api/memory/retrieve" and saved["p95_ms"] == 12.5  # not paths, kept
    assert saved["argv"][:4] == ["pymem", "bench", "locomo", "--out"] and saved["argv"][4:6] == [None, None]


def test_no_saved_result_names_a_path_of_the_machine_that_made_it():
    for path in sorted(RESULTS.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        for prefix in ('"/work/', '"/tmp/', '"/home/', '"/root/', '"/dev/shm/', '=/tmp/', '=/work/'):
            assert prefix not in text, f"{path.name} holds {prefix}"
        json.loads(text)


def _load(*args):
    return CliRunner().invoke(main, ["--dsn", "postgresql://nobody@127.0.0.1:1/none", "bench", "load", *args])


def test_the_old_load_options_still_work_and_say_their_new_names():
    # --seed-script is --reference-script: with --capacity, the same refusal as the new name
    for flag in ("--seed-script", "--reference-script"):
        result = _load("--capacity", flag)
        assert result.exit_code == 2 and "--capacity and --reference-script are separate runs" in result.output
    assert "--seed-script is deprecated; use --reference-script" in _load("--capacity", "--seed-script").output
    # --queries seed is --queries fixed: refused only for what else it holds
    result = _load("--capacity", "--queries", "seed,bogus")
    assert result.exit_code == 2 and "--queries seed is deprecated; use --queries fixed" in result.output
    assert "unique, fixed, fixture" in result.output
    # the old names are not offered
    help_text = CliRunner().invoke(main, ["bench", "load", "--help"]).output
    assert "--reference-script" in help_text and "--data-dir" in help_text
    assert "--seed-script" not in help_text and "--seed-vus" not in help_text and "--shared" not in help_text


def test_save_outside_a_checkout_needs_a_results_folder(monkeypatch):
    monkeypatch.setattr(common, "repository_root", lambda: None)
    result = CliRunner().invoke(main, ["bench", "embed", "--save"])
    assert result.exit_code == 2 and "--results-dir" in result.output
