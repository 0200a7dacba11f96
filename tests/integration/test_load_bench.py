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


def test_bench_load_capacity_short_with_one_and_two_service_workers(db, tmp_path):
    """The --capacity search, tiny: its shape, and that one and then two `pymem serve` worker
    processes serve every request without errors or leaks and report one set of metrics."""
    result = CliRunner().invoke(main, [
        "--dsn", db.service_dsn, "bench", "load", "--capacity", "--tenants", "2", "--users", "4",
        "--memories-per-user", "2", "--embedder", "none", "--no-worker", "--workers", "1,2", "--start-rate", "10",
        "--max-rate", "15", "--step-seconds", "3", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["service_workers"] == [1, 2] and set(report["capacity"]) == {"1", "2"}
    assert report["pool_group_size"] == 5
    for count in ("1", "2"):
        assert set(report["capacity"][count]) == {"unique", "fixed"}
        for mode in ("unique", "fixed"):
            found = report["queries"][count][mode]
            assert found["warmup"]["rate_per_s"] == 5
            assert all(s["error_rate"] == 0 for s in found["steps"])
            assert all(set(s) == {"rate_per_s", "achieved_per_s", "error_rate", "ok", "p95_ms", "cpu_ms_per_request"}
                       for s in found["steps"])
            for step in found["steps"]:
                cpu = step["cpu_ms_per_request"]
                assert set(cpu) == {"postgres", "service", "worker", "k6", "bench", "machine"}
                # every request costs the service and PostgreSQL something; no worker runs here
                assert cpu["service"] > 0 and cpu["postgres"] > 0 and cpu["worker"] == 0
                assert cpu["machine"] >= cpu["postgres"]
            assert found["steps"][0]["rate_per_s"] == 10
            if found["at_max"]:
                assert found["at_max"]["leaks"] == 0
        # With two processes their retrievals are in one histogram (prometheus multiprocess
        # mode): 90% of 2 modes x (5 + 10 [+ 15] requests/s x 3 s) is 81 or more.
        assert report["service_retrieval_latency"][count]["count"] >= 60


def test_bench_load_refuses_a_workers_list_without_capacity(db):
    result = CliRunner().invoke(main, ["--dsn", db.service_dsn, "bench", "load", "--workers", "1,2"])
    assert result.exit_code == 2 and "--workers" in result.output


def test_bench_load_capacity_profiles_the_service_under_load(db, tmp_path):
    """--profile-service: one more step at the rate found, with py-spy reading the running
    service's stacks; the shares of its parts add up (how samples are sorted into parts is
    tests/unit/test_service_profile.py)."""
    result = CliRunner().invoke(main, [
        "--dsn", db.service_dsn, "bench", "load", "--capacity", "--tenants", "2", "--users", "4",
        "--memories-per-user", "2", "--embedder", "none", "--no-worker", "--queries", "fixed", "--start-rate", "10",
        "--max-rate", "10", "--step-seconds", "4", "--profile-service", "--out", str(tmp_path)],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = json.loads(result.output.strip().splitlines()[-1])["queries"]["1"]["fixed"]
    profile = found["service_profile"]
    assert "error" not in profile, profile
    assert profile["rate_per_s"] == (found["max_rate_per_s"] or 10) and profile["error_rate"] == 0
    assert profile["samples"] > 0
    assert set(profile["parts"]) == {"query embedding", "database", "http", "event loop", "other"}
    assert abs(sum(profile["parts"].values()) - 1) < 0.01
    assert profile["parts"]["query embedding"] == 0  # --embedder none
    assert profile["top_functions"] and all(0 < f["share"] <= 1 for f in profile["top_functions"])
    # it sampled the service, request handling included
    recording = (tmp_path / f"service-profile-fixed-{profile['rate_per_s']}.txt").read_text()
    assert "pymem/service/routes/memory.py" in recording


def test_bench_load_refuses_a_profile_without_capacity(db):
    result = CliRunner().invoke(main, ["--dsn", db.service_dsn, "bench", "load", "--profile-service"])
    assert result.exit_code == 2 and "--capacity" in result.output
