"""Observability end to end: a real `pymem serve` process, Debian's Prometheus scraping it
on 127.0.0.1, a metric read back through Prometheus' HTTP API; promtool validates and
unit-tests the alert rules; every Grafana panel's query is accepted by Prometheus.

Prometheus and promtool come from Debian's `prometheus` package (`make test` installs it
when missing). Without them these tests skip, except under CI, where they fail.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} not installed (Debian package 'prometheus'; `make test` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except OSError as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


def test_promtool_checks_and_unit_tests_the_alert_rules():
    promtool = _require("promtool")
    rules = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=DOCKER / "prometheus",
                           capture_output=True, text=True, timeout=60)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 5 rules found" in rules.stdout
    config = subprocess.run([promtool, "check", "config", "prometheus.yml"], cwd=DOCKER / "prometheus",
                            capture_output=True, text=True, timeout=60)
    assert config.returncode == 0, config.stdout + config.stderr
    unit = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=DOCKER / "prometheus",
                          capture_output=True, text=True, timeout=60)
    assert unit.returncode == 0, unit.stdout + unit.stderr


SCRAPE_TOKEN = "scrape-token-for-tests"


@pytest.fixture
def service(db, client, tmp_path):
    """`pymem serve` as its own process, lexical-only, on a free loopback port."""
    client.create_tenant("acme")
    key = client.create_api_key("acme")["api_key"]
    client.tenant("acme").remember("alice", "Alice prefers dark mode", kind="preference")
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "pymem.cli", "--dsn", db.service_dsn, "serve", "--port",
                             str(port), "--embedder", "none", "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYMEM_METRICS_TOKEN": SCRAPE_TOKEN})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is None and get(f"{base}/healthz")[0] == 200, 60, "pymem serve")
        yield base, key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_prometheus_scrapes_the_service(service, tmp_path):
    prometheus = _require("prometheus")
    base, key = service
    body = json.dumps({"user_id": "alice", "query": "dark mode"}).encode()
    status, payload = get(f"{base}/api/memory/retrieve", data=body,
                          headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert status == 200 and json.loads(payload)["results"][0]["tenant_id"] == "acme"

    # /metrics names every tenant: without the token even a loopback caller is refused.
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(f"{base}/metrics")
    assert refused.value.code == 401

    target = base.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{DOCKER / 'prometheus' / 'alerts.yml'}']\n"
        "scrape_configs:\n"
        f"  - job_name: pymem-api\n    authorization: {{credentials: {SCRAPE_TOKEN}}}\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)

    def query(expr: str) -> dict:
        _, raw = get(f"{api}/query?" + urllib.parse.urlencode({"query": expr}))
        return json.loads(raw)

    try:
        def scraped():
            result = query('memory_retrieval_latency_seconds_count{job="pymem-api"}')["data"]["result"]
            return result if result and float(result[0]["value"][1]) >= 1 else None

        result = wait_for(scraped, 90, "a scrape of memory_retrieval_latency_seconds")
        assert result[0]["metric"]["instance"] == target
        # Database-side figures arrive through the same scrape.
        sizes = query('memory_index_size_bytes{tenant="acme"}')["data"]["result"]
        assert {s["metric"]["index"] for s in sizes} == {"hnsw", "fts"}
        assert query("up")["data"]["result"][0]["value"][1] == "1"
        # The alert rules are loaded and evaluated.
        _, raw = get(f"{api}/rules")
        names = {rule["name"] for group in json.loads(raw)["data"]["groups"] for rule in group["rules"]}
        assert {"PymemRetrievalRelevanceLow", "PymemIngestionLagHigh", "PymemStaleFactRatioHigh",
                "PymemRetrievalLatencyHigh"} <= names
        # Every Grafana panel's query parses and runs.
        dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "pymem.json").read_text())
        for panel in dashboard["panels"]:
            for target_ in panel["targets"]:
                expr = target_["expr"].replace("$__rate_interval", "1m")
                assert query(expr)["status"] == "success", (panel["title"], expr)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
