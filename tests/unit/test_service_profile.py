"""Sorting py-spy's samples into the parts of a request (pymem/bench/service_profile.py)."""

from pymem.bench.service_profile import summarize


def test_a_sample_belongs_to_the_first_part_its_stack_contains(tmp_path):
    raw = tmp_path / "raw.txt"
    # as py-spy writes them: paths relative to their sys.path entry, a process frame first
    route = ('process 7:"python -m pymem.cli serve --embedder none";'
             "run_asgi (uvicorn/protocols/http/httptools_impl.py:409);app (starlette/routing.py:76)")
    raw.write_text("\n".join([
        # the embedder called from a route: embedding, though Starlette is on the stack too
        f"{route};embed (pymem/embed.py:310);run (onnxruntime/capi/onnxruntime_inference_collection.py:266) 6",
        f"{route};retrieve (pymem/client.py:900);wait (psycopg/connection.py:450) 3",
        # a name that merely contains a marker is not that part
        "run (mypsycopg/connection.py:1) 1",
        f"{route};dumps (/usr/lib/python3.11/json/encoder.py:200) 1",
        "run (/usr/lib/python3.11/asyncio/runners.py:118) 2",
        "main (/w/pymem/cli/__main__.py:3) 0",
        "not a sample line",
        "",
    ]) + "\n")
    summary = summarize(raw)
    assert summary["samples"] == 13
    assert summary["parts"] == {"query embedding": 0.462, "database": 0.231, "http": 0.077, "event loop": 0.154,
                                "other": 0.077}
    assert summary["top_functions"][0] == {"function": "run (onnxruntime_inference_collection.py)", "share": 0.462}
    assert {"function": "wait (connection.py)", "share": 0.231} in summary["top_functions"]


def test_an_empty_recording_has_no_shares(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("")
    assert summarize(raw) == {"samples": 0, "parts": {}, "top_functions": []}
