"""The short version of `pymem bench ingest`: real worker processes, a few seconds of load.
Asserts that nothing is lost or applied twice and that the report is complete, never
timings (the benchmark prints those)."""

import json

import pytest
from click.testing import CliRunner

from pymem.cli import main

pytestmark = pytest.mark.slow


def test_bench_ingest_short(db):
    # The owner's DSN: the audit of every episode afterwards reads the queue tables directly.
    result = CliRunner().invoke(main, ["--dsn", db.admin_dsn, "bench", "ingest", "--rate", "10",
                                       "--duration", "2", "--workers", "2", "--users", "3", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["turns"] >= 15
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert report["ingest_call_p95_ms"] > 0 and report["lag_p95_s"] > 0
    assert report["throughput_turns_per_s"] > 0
    cpu = report["cpu_ms_per_turn"]
    assert set(cpu) == {"bench", "postgres", "worker", "machine"}
    assert cpu["postgres"] > 0 and cpu["worker"] > 0 and cpu["machine"] >= cpu["worker"]
    assert report["worker_batch_window"] == 0.2
