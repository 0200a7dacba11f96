"""ONNX Runtime's telemetry is off unless asked for (issue 35, item 5): a process that keeps the
model loaded wrote a device id under ~/.cache/Microsoft and looked up a Microsoft host."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os
from pymem.embed import default_embedder
model = default_embedder()
model.embed(["hello"])
print(json.dumps({"ORT_DISABLE_TELEMETRY": os.environ.get("ORT_DISABLE_TELEMETRY")}))
"""


@pytest.mark.parametrize("switch, expected", [(None, "1"), ("1", None)])
def test_telemetry_is_off_by_default_and_the_switch_turns_it_back_on(tmp_path, switch, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "PYMEM_TELEMETRY")}
    env["HF_HUB_OFFLINE"] = "1"
    env["XDG_CACHE_HOME"] = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))  # the exported model
    env["HOME"] = str(tmp_path)
    if switch:
        env["PYMEM_TELEMETRY"] = switch
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1])["ORT_DISABLE_TELEMETRY"] == expected
    if switch is None:
        assert not (tmp_path / ".cache" / "Microsoft").exists()
