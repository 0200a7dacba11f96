"""Where `pymem serve` spends its time under load: py-spy samples of the service's processes
during one load step, sorted into the parts of a request.

py-spy (a sampling profiler; it reads the processes' stacks from outside, so the service runs
unchanged) records every service process (``--subprocesses``: the worker processes of
``--workers N`` too) for the step's duration. Samples are of threads py-spy does not see as
idle: a thread blocked in C counts (psycopg waiting for PostgreSQL's answer, a condition wait,
uvloop's own wait), so "database" includes the time requests spend in PostgreSQL and "event
loop" includes idle time. Shares of time, then, not of CPU.

A sample belongs to the first of these its stack contains:
  query embedding   ONNX Runtime / PyTorch / the embedder (pymem/embed.py, batching)
  database          psycopg and its pool: sending, waiting for PostgreSQL, reading rows
  http              uvicorn, Starlette, FastAPI, pydantic (parsing, routing, validation, JSON)
  event loop        asyncio / uvloop and nothing above
  other             the rest
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PARTS = (
    ("query embedding", ("/onnxruntime/", "/torch/", "/sentence_transformers/", "/pymem/embed.py",
                         "/pymem/service/batching.py")),
    ("database", ("/psycopg/", "/psycopg_pool/", "/psycopg_binary/")),
    ("http", ("/uvicorn/", "/starlette/", "/fastapi/", "/pydantic/", "/httptools/", "/json/")),
    ("event loop", ("/asyncio/", "/uvloop/", "/anyio/")),
)


class ProfilerMissing(RuntimeError):
    pass


def py_spy() -> str:
    """The py-spy binary: on PATH or beside this Python (the test extra installs it)."""
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not found:
        raise ProfilerMissing("py-spy is not installed (pip install py-spy, or the project's test extra)")
    return found


def start(pid: int, seconds: int, out: Path, *, rate: int = 100) -> subprocess.Popen:
    """Starts recording ``pid`` and its children for ``seconds``; wait for the process, then
    :func:`summarize` ``out``."""
    return subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", str(rate),
         "--duration", str(seconds), "--format", "raw", "--output", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, out: Path, timeout: float) -> dict:
    """Waits for a recording; its summary, or ``{"error": ...}`` when py-spy could not record
    (no permission to read another process's memory, say)."""
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        log, _ = proc.communicate()
    if proc.returncode != 0 or not out.exists():
        return {"error": f"py-spy exited {proc.returncode}: {(log or '').strip()[-300:]}"}
    return summarize(out)


def _part(frames: list[str]) -> str:
    # py-spy writes a frame as "function (path:line)", the path relative to its sys.path entry
    # ("psycopg/connection.py"); with a leading "/" the markers cannot match part of a name.
    paths = ";".join("/" + f.partition(" (")[2] for f in frames)
    for name, markers in PARTS:
        if any(marker in paths for marker in markers):
            return name
    return "other"


def _function(frame: str) -> str:
    """'fn (path/to/file.py:12)' -> 'fn (file.py)'."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    return f"{name} ({os.path.basename(file)})" if file else name


def summarize(raw: Path, *, top: int = 12) -> dict:
    """Shares of samples by part of a request, and the functions most often on top of the stack."""
    parts, leaves, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]  # --subprocesses' root
        total += n
        parts[_part(frames)] += n
        leaves[_function(frames[-1]) if frames else "?"] += n
    if not total:
        return {"samples": 0, "parts": {}, "top_functions": []}
    return {
        "samples": total,
        "parts": {name: round(parts[name] / total, 3) for name in [p[0] for p in PARTS] + ["other"]},
        "top_functions": [{"function": f, "share": round(n / total, 3)} for f, n in leaves.most_common(top)],
    }
