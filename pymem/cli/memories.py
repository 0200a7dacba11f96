"""A tenant's data: remember, search, list, get, update, history, forget, users, ingest, erase,
export, import, audit, contradictions."""

from __future__ import annotations

import datetime as dt
import json

import click

from .base import Context, TextSource, emit, fail, guard, json_object, main, open_client, pass_ctx


_INSTANTS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A time given without a zone is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--kind", default="fact", show_default=True, help="fact, preference, event, procedural or episode.")
@click.option("--importance", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--session", "session_id")
@click.option("--metadata", help="A JSON object.")
@click.option("--no-embed", is_flag=True, help="Store without a vector (lexical search only).")
@click.option("--json", "as_json", is_flag=True)
@click.argument("content", type=TextSource("the memory"))
@pass_ctx
def remember(ctx: Context, tenant_id: str, user_id: str, kind: str, importance: float,
             session_id: str | None, metadata: str | None, no_embed: bool, as_json: bool,
             content: str) -> None:
    """Store one memory for a user, now.

    CONTENT is the text; - reads it from stdin, @PATH from a UTF-8 file, @@... is a text that
    starts with @."""
    meta = json_object("--metadata", metadata)
    with open_client(ctx, embed=not no_embed) as client:
        memory_id = guard(lambda: client.tenant(tenant_id).remember(
            user_id, content, kind=kind, importance=importance, session_id=session_id, metadata=meta))
    emit({"id": memory_id, "tenant_id": tenant_id, "user_id": user_id}, as_json, memory_id)


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--top-k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--token-budget", type=click.IntRange(1))
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (repeat the option).")
@click.option("--min-score", type=click.FloatRange(0), help="Leave out results scoring below this.")
@click.option("--as-of", type=click.DateTime(_INSTANTS), help="Answer from what was current then.")
@click.option("--session", "session_id", help="Only memories of this session.")
@click.option("--no-embed", is_flag=True, help="Lexical and recency only.")
@click.option("--json", "as_json", is_flag=True)
@click.argument("query_text", type=TextSource("the query", empty="the query is empty: say what to look for"))
@pass_ctx
def search(ctx: Context, tenant_id: str, user_id: str, top_k: int, token_budget: int | None,
           kinds: tuple[str, ...], min_score: float | None, as_of: dt.datetime | None, session_id: str | None,
           no_embed: bool, as_json: bool, query_text: str) -> None:
    """Retrieve a user's memories for QUERY_TEXT, best first, with score components.

    QUERY_TEXT given as - is read from stdin, as @PATH from a UTF-8 file (@@... for a query
    that starts with @)."""
    with open_client(ctx, embed=not no_embed) as client:
        results = guard(lambda: client.tenant(tenant_id).retrieve(
            user_id, query_text, top_k=top_k, token_budget=token_budget, kinds=kinds or None,
            min_score=min_score, as_of=_aware(as_of), filters={"session_id": session_id} if session_id else None))
    if as_json:
        emit({"results": [m.as_dict() for m in results]}, True)
        return
    for m in results:
        click.echo(f"{m.score:.3f}  (vec {m.vector_score:.2f} lex {m.lexical_score:.2f} "
                   f"rec {m.recency_score:.2f})  [{m.kind}] {m.content}")
    if not results:
        click.echo("no memories match")


@main.command("list")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (repeat the option).")
@click.option("--session", "session_id", help="Only memories of this session.")
@click.option("--as-of", type=click.DateTime(_INSTANTS), help="What was current then.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--before", help="The last id of the previous page.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_memories(ctx: Context, tenant_id: str, user_id: str, kinds: tuple[str, ...], session_id: str | None,
                  as_of: dt.datetime | None, limit: int, before: str | None, as_json: bool) -> None:
    """A user's memories, newest first (current ones, or those valid at --as-of)."""
    with open_client(ctx, embed=False) as client:
        page = guard(lambda: client.tenant(tenant_id).list(
            user_id, kinds=kinds or None, filters={"session_id": session_id} if session_id else None,
            as_of=_aware(as_of), limit=limit, before=before))
    if as_json:
        emit({"results": [m.__dict__ for m in page]}, True)
        return
    for m in page:
        click.echo(f"{m.id}  {m.created_at:%Y-%m-%d %H:%M}  [{m.kind}] {m.content}")
    if not page:
        click.echo("no memories")


@main.command("get")
@click.option("--tenant", "tenant_id", required=True)
@click.argument("memory_id")
@pass_ctx
def get_memory(ctx: Context, tenant_id: str, memory_id: str) -> None:
    """One memory as stored (JSON), whatever its status; exit 1 when there is none."""
    with open_client(ctx, embed=False) as client:
        memory = guard(lambda: client.tenant(tenant_id).get(memory_id))
    if memory is None:
        fail(f"no memory {memory_id} in tenant {tenant_id}")
    emit(memory.__dict__, True)


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--reason", help="Kept in the memory's history.")
@click.argument("memory_id")
@pass_ctx
def forget(ctx: Context, tenant_id: str, reason: str | None, memory_id: str) -> None:
    """Forget one memory: retrieval never returns it again; its history keeps the change."""
    with open_client(ctx, embed=False) as client:
        forgotten = guard(lambda: client.tenant(tenant_id).forget(memory_id, reason=reason))
    if not forgotten:
        fail(f"no memory {memory_id} to forget in tenant {tenant_id}")
    click.echo(f"forgot {memory_id}")


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--no-embed", is_flag=True, help="Store the new version without a vector (lexical search only).")
@click.option("--json", "as_json", is_flag=True)
@click.argument("memory_id")
@click.argument("content", type=TextSource("the new text"))
@pass_ctx
def update(ctx: Context, tenant_id: str, no_embed: bool, as_json: bool, memory_id: str, content: str) -> None:
    """Correct MEMORY_ID: a new version with CONTENT supersedes it; its history keeps the old one.
    Prints the new memory's id. CONTENT reads stdin as -, a UTF-8 file as @PATH."""
    with open_client(ctx, embed=not no_embed) as client:
        new_id = guard(lambda: client.tenant(tenant_id).update(memory_id, content))
    emit({"id": new_id, "supersedes": memory_id, "tenant_id": tenant_id}, as_json, new_id)


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--after", help="The last user id of the previous page.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def users(ctx: Context, tenant_id: str, limit: int, after: str | None, as_json: bool) -> None:
    """The tenant's users in id order, each with its count of current memories."""
    with open_client(ctx, embed=False) as client:
        page = guard(lambda: client.tenant(tenant_id).list_users(limit=limit, after=after))
    if as_json:
        emit({"users": page}, True)
        return
    for user in page:
        click.echo(f"{user['user_id']}  {user['memories']} memories  last seen {user['last_seen_at']:%Y-%m-%d %H:%M}")
    if not page:
        click.echo("no users")


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", help="With --as-of: what was known about this user then.")
@click.option("--as-of", type=click.DateTime(_INSTANTS))
@click.option("--json", "as_json", is_flag=True)
@click.argument("memory_id", required=False)
@pass_ctx
def history(ctx: Context, tenant_id: str, user_id: str | None, as_of: dt.datetime | None, as_json: bool,
            memory_id: str | None) -> None:
    """The versions of MEMORY_ID, oldest first; or, with --user and --as-of, what was known then."""
    if (memory_id is None) == (user_id is None or as_of is None):
        fail("give MEMORY_ID, or --user and --as-of", code=2)
    with open_client(ctx, embed=False) as client:
        rows = guard(lambda: client.tenant(tenant_id).history(memory_id, user_id=user_id, as_of=_aware(as_of)))
    if as_json:
        emit({"results": rows}, True)
        return
    for row in rows:
        if memory_id is not None:
            click.echo(f"v{row['version']}  {row['recorded_at']:%Y-%m-%d %H:%M:%S}  {row['operation']}"
                       f"{'  (' + row['reason'] + ')' if row['reason'] else ''}")
        else:
            click.echo(f"{row.get('memory_id') or row.get('id')}  {row.get('content')}")
    if not rows:
        fail("no history")


@main.command()
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--session", "session_id")
@click.option("--role", type=click.Choice(["user", "assistant", "system", "tool"]), default="user",
              show_default=True, help="Role of CONTENT (ignored with --messages).")
@click.option("--messages", "messages_json", type=TextSource("--messages"),
              help="A JSON array of {role, content} instead of CONTENT (- reads stdin, @PATH a file).")
@click.option("--json", "as_json", is_flag=True)
@click.argument("content", required=False, type=TextSource("the turn"))
@pass_ctx
def ingest(ctx: Context, tenant_id: str, user_id: str, session_id: str | None, role: str,
           messages_json: str | None, as_json: bool, content: str | None) -> None:
    """Enqueue a conversation turn for asynchronous extraction; prints the episode id.

    CONTENT is the turn's text; - reads it from stdin, @PATH from a UTF-8 file, @@... is a text
    that starts with @. --messages reads the same ways."""
    if (content is None) == (messages_json is None):
        fail("give either CONTENT or --messages", code=2)
    if messages_json is not None:
        try:
            messages = json.loads(messages_json)
        except json.JSONDecodeError as exc:
            fail(f"--messages is not valid JSON: {exc}", code=2)
    else:
        messages = [{"role": role, "content": content}]
    with open_client(ctx, embed=False) as client:
        episode_id = guard(lambda: client.tenant(tenant_id).ingest(user_id, messages, session_id=session_id))
    emit({"episode_id": episode_id, "tenant_id": tenant_id, "user_id": user_id}, as_json, episode_id)


@main.command("erase-user")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def erase_user(ctx: Context, tenant_id: str, user_id: str, yes: bool) -> None:
    """Erase a user everywhere; prints the verified report (residual must be 0)."""
    if not yes:
        click.confirm(f"Erase everything stored about user {user_id!r} of tenant {tenant_id}?", abort=True)
    with open_client(ctx, embed=False) as client:
        report = guard(lambda: client.tenant(tenant_id).erase_user(user_id))
    click.echo(json.dumps(report, default=str))


@main.command("export-user")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File (default: stdout).")
@pass_ctx
def export_user(ctx: Context, tenant_id: str, user_id: str, output: str | None) -> None:
    """Write everything stored about a user as JSON (importable with import-user)."""
    with open_client(ctx, embed=False) as client:
        data = guard(lambda: client.tenant(tenant_id).export_user(user_id))
    text = json.dumps(data, default=str, indent=1)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"exported {len(data['memories'])} memories to {output}")
    else:
        click.echo(text)


@main.command("import-user")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--user", "user_id", help="Import under this user id (default: the exported one).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def import_user(ctx: Context, tenant_id: str, user_id: str | None, path: str) -> None:
    """Restore an export-user file into a tenant."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", code=2)
    with open_client(ctx, embed=False) as client:
        report = guard(lambda: client.tenant(tenant_id).import_user(data, user_id=user_id))
    click.echo(json.dumps(report))


@main.command()
@click.option("--tenant", "tenant_id")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def audit(ctx: Context, tenant_id: str | None, limit: int, as_json: bool) -> None:
    """The audit trail, newest first."""
    with open_client(ctx, embed=False) as client:
        rows = guard(lambda: client.audit_log(tenant_id, limit))
    human = "\n".join(f"{r['recorded_at']:%Y-%m-%d %H:%M:%S}  {r['tenant_id'] or '-'}  {r['action']}  "
                      f"{r['actor']}  {json.dumps(r['details'])}" for r in rows)
    emit(rows, as_json, human or "no audit entries")


@main.group()
def contradictions() -> None:
    """Review slot conflicts (policy manual queues them here)."""


@contradictions.command("list")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--status", type=click.Choice(["open", "kept_existing", "accepted_new", "kept_both", "all"]),
              default="open", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def contradictions_list(ctx: Context, tenant_id: str, status: str, as_json: bool) -> None:
    with open_client(ctx, embed=False) as client:
        rows = guard(lambda: client.tenant(tenant_id).contradictions(None if status == "all" else status))
    human = "\n".join(f"{r['id']}  {r['user_id']}  {r['subject']}/{r['attribute']}: "
                      f"{r['existing_content']!r} vs {r['candidate_content']!r}  [{r['status']}]" for r in rows)
    emit(rows, as_json, human or "no contradictions")


@contradictions.command("resolve")
@click.option("--tenant", "tenant_id", required=True)
@click.option("--keep", type=click.Choice(["existing", "new", "both"]), required=True)
@click.argument("contradiction_id")
@pass_ctx
def contradictions_resolve(ctx: Context, tenant_id: str, keep: str, contradiction_id: str) -> None:
    resolution = {"existing": "keep_existing", "new": "accept_new", "both": "keep_both"}[keep]
    with open_client(ctx, embed=False) as client:
        result = guard(lambda: client.tenant(tenant_id).resolve_contradiction(contradiction_id, resolution))
    click.echo(json.dumps(result, default=str))
