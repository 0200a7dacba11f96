"""The short version of `pymem bench load` (CI): real `pymem serve`, real k6, a few
seconds of load on 127.0.0.1. Asserts correctness (no errors, no leaks, every seeded user
gets results), never timings: benchmarks print numbers, tests do not judge them."""

import json

import pytest
from click.testing import CliRunner

from pymem.cli import main

pytestmark = pytest.mark.slow


def test_bench_load_short(db, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, [
        "--dsn", db.service_dsn, "bench", "load", "--tenants", "3", "--users", "5", "--memories-per-user", "2",
        "--stages", "3s:8,5s:8", "--embedder", "none", "--no-worker", "--json", "--out", str(tmp_path)],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["requests"] > 50
    assert report["error_rate"] == 0
    assert report["leaks"] == 0
    assert report["empty_results_for_seeded_users"] == 0
    assert report["checks_pass_rate"] == 1
    assert report["max_vus"] == 8
    assert {"p50_ms", "p95_ms", "p99_ms"} <= set(report["retrieve"])
    assert report["service_retrieval_latency"]["count"] > 0
    summary = json.loads((tmp_path / "k6-summary.json").read_text())
    assert "cross_tenant_results" in summary["metrics"]
