"""ONNX Runtime's telemetry is off unless PYMEM_TELEMETRY=1 (issue 35, item 5): every import of
onnxruntime in pymem goes through pymem.embed._onnxruntime, which sets ORT_DISABLE_TELEMETRY
before the module loads (keeping a value the user set) and calls disable_telemetry_events().
No model is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import pytest

from pymem import embed

PROBE = ("import json, os, sys\nfrom pymem.embed import _onnxruntime\n_onnxruntime()\n"
         "print(json.dumps([os.environ.get('ORT_DISABLE_TELEMETRY'), 'onnxruntime' in sys.modules]))")


@pytest.mark.parametrize("given, expected", [
    ({}, "1"),                                  # off by default
    ({"PYMEM_TELEMETRY": "1"}, None),           # the documented switch leaves ONNX Runtime's default
    ({"ORT_DISABLE_TELEMETRY": "0"}, "0"),      # the user's own setting is kept
])
def test_the_variable_is_set_before_onnxruntime_loads(given, expected):
    pytest.importorskip("onnxruntime")
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "PYMEM_TELEMETRY")}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                         env={**env, **given})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [expected, True]


@pytest.mark.parametrize("switch, calls", [(None, 1), ("1", 0)])
def test_telemetry_events_are_disabled_unless_switched_on(monkeypatch, switch, calls):
    made = []
    stand_in = types.ModuleType("onnxruntime")
    stand_in.disable_telemetry_events = lambda: made.append(1)
    monkeypatch.setitem(sys.modules, "onnxruntime", stand_in)
    monkeypatch.delenv("ORT_DISABLE_TELEMETRY", raising=False)
    if switch:
        monkeypatch.setenv("PYMEM_TELEMETRY", switch)
    else:
        monkeypatch.delenv("PYMEM_TELEMETRY", raising=False)
    assert embed._onnxruntime() is stand_in
    assert len(made) == calls
