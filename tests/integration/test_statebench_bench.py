"""`pymem bench statebench` end to end on a few timelines: the JSON it promises and counts that
add up. No rate is asserted: benchmarks are commands, not timed or scored tests."""

import json

import pytest
from click.testing import CliRunner

from pymem.bench import statebench
from pymem.cli import main

DATA = statebench.data_dir()


def test_judge_orders_current_against_stale():
    """current_first needs a current result above the first stale one; a result naming both
    is not above itself."""
    now, old = ["card-based UI"], ["list-based UI"]
    assert statebench.judge(["we use card-based UI", "list-based UI was tried"], now, old) == {
        "current_in_top10": True, "stale_in_top10": True, "current_first": True}
    assert statebench.judge(["List-based UI", "CARD-BASED UI"], now, old)["current_first"] is False
    assert statebench.judge(["card-based UI replaced list-based UI"], now, old)["current_first"] is False
    assert statebench.judge(["card-based UI"], now, [])["current_first"] is True
    assert statebench.judge(["nothing relevant"], now, old) == {
        "current_in_top10": False, "stale_in_top10": False, "current_first": False}


@pytest.mark.skipif(not (DATA / "dev.jsonl").is_file(), reason=f"StateBench is not in the shared folder ({DATA})")
def test_bench_statebench_short_run_reports_every_track_with_consistent_counts(db, embedder, tmp_path):
    limit = 6
    result = CliRunner().invoke(main, ["--dsn", db.admin_dsn, "bench", "statebench", "--split", "dev",
                                       "--limit", str(limit), "--save", "--results-dir", str(tmp_path), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads([line for line in result.output.splitlines() if line.startswith("{")][-1])

    timelines = statebench.load("dev", limit=limit)
    assert out["benchmark"] == "statebench" and out["split"] == "dev" and out["top_k"] == 10
    assert out["timelines"] == limit and set(out["by_track"]) == set(statebench.TRACKS)
    assert out["queries"] == sum(len(statebench._queries(t)) for t in timelines)
    assert out["answerable"] == sum(statebench.answerable(t, q) for t in timelines for q in statebench._queries(t))
    assert out["turns_ingested"] == sum(len(statebench._turns(t)) for t in timelines)
    assert out["worker"]["applied"] == out["turns_ingested"] and out["worker"]["dead_in_queue"] == 0

    assert out["overall"]["all"]["queries"] == out["queries"]
    assert out["overall"]["answerable"]["queries"] == out["answerable"]
    assert sum(t["all"]["queries"] for t in out["by_track"].values()) == out["queries"]
    assert out["overall"]["answerable_queries"] == out["answerable"]
    assert sum(t["answerable_queries"] for t in out["by_track"].values()) == out["answerable"]
    assert out["overall"]["answerable_only_beside_stale"] == sum(
        statebench.only_beside_stale(t, q) for t in timelines for q in statebench._queries(t))
    assert out["overall"]["answerable_only_beside_stale"] <= out["answerable"]
    for report in [out["overall"], *out["by_track"].values()]:
        for part in ("all", "answerable"):
            figures = report[part]
            assert set(figures) == {"queries", "current_first", "stale_in_top10", "current_in_top10"}
            if figures["queries"]:
                assert 0 <= figures["current_first"] <= figures["current_in_top10"] <= 1
                assert 0 <= figures["stale_in_top10"] <= 1
    assert out["failures"]["answerable_not_current_first"] == round(
        out["answerable"] * (1 - out["overall"]["answerable"]["current_first"]))
    [saved] = tmp_path.glob("statebench-*.json")
    assert json.loads(saved.read_text())["overall"] == out["overall"]
