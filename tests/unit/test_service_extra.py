"""`pymem mcp` runs with the `mcp` extra alone: what it imports from pymem.service (the model
loader, the in-process extraction, the key cache) needs no fastapi or uvicorn, and the HTTP
service, without them, names the `service` extra. A light install with `[mcp]` once failed
here (tests/firstrun/test_first_ten_minutes.py runs it for real)."""

import os
import subprocess
import sys

WITHOUT_SERVICE_EXTRA = "import sys; sys.modules['fastapi'] = sys.modules['uvicorn'] = None; "


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_SERVICE_EXTRA + code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_pymem_mcp_needs_no_fastapi():
    """It gets as far as the database (none listens on port 1), not to the service's extra."""
    out = _python("from pymem.cli import main; "
                  "main(['--dsn', 'postgresql://127.0.0.1:1/x', 'mcp', '--embedder', 'none'])", PYMEM_API_KEY="pmk_x")
    assert out.returncode == 1
    assert "connection failed" in out.stderr and "extra" not in out.stderr, out.stderr


def test_the_http_service_names_its_extra():
    for code in ("import pymem.service.run", "from pymem.service import ServiceConfig"):
        out = _python(code)
        assert out.returncode == 1
        assert "needs the 'service' extra (fastapi is missing): pip install 'pymem-pg[service]'" in out.stderr, out.stderr
