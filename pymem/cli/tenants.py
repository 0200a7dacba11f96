"""Tenants, their login roles and their API keys."""

from __future__ import annotations

import json
import os
import sys

import click

from ..errors import InvalidInput
from .base import Context, debugging, emit, fail, guard, main, open_client, pass_ctx


@main.group()
def tenant() -> None:
    """Create, list and drop tenants."""


@tenant.command("create")
@click.argument("tenant_id")
@click.option("--exist-ok", is_flag=True, help="Succeed if the tenant exists already.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_create(ctx: Context, tenant_id: str, exist_ok: bool, as_json: bool) -> None:
    """Create TENANT_ID with its role, partition, indexes and graph."""
    with open_client(ctx, embed=False) as client:
        row = guard(lambda: client.create_tenant(tenant_id, exist_ok=exist_ok))
    emit(row, as_json, f"tenant {row['tenant_id']}: role {row['role_name']}, graph {row['graph_name']}")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_list(ctx: Context, as_json: bool) -> None:
    """List tenants with their memory counts."""
    with open_client(ctx, embed=False) as client:
        rows = guard(client.list_tenants)
    human = "\n".join(f"{r['tenant_id']}\t{r['memories']} memories\t{r['role_name']}" for r in rows)
    emit(rows, as_json, human or "no tenants")


@tenant.command("drop")
@click.argument("tenant_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_drop(ctx: Context, tenant_id: str, yes: bool, as_json: bool) -> None:
    """Drop TENANT_ID and everything stored for it."""
    if not yes:
        click.confirm(f"Drop tenant {tenant_id} and all its memories?", abort=True)
    with open_client(ctx, embed=False) as client:
        report = guard(lambda: client.drop_tenant(tenant_id))
    emit(report, as_json, json.dumps(report))


@tenant.group("settings")
def tenant_settings() -> None:
    """A tenant's settings: retrieval weights, limits, login limits, ... (product defaults
    overlaid with the tenant's own)."""


@tenant_settings.command("get")
@click.argument("tenant_id")
@click.argument("key", required=False)
@pass_ctx
def tenant_settings_get(ctx: Context, tenant_id: str, key: str | None) -> None:
    """Print the effective settings as JSON, or one KEY's value."""
    with open_client(ctx, embed=False) as client:
        settings = guard(lambda: client.tenant_settings(tenant_id))
    if key is None:
        emit(settings, True)
    elif key not in settings:
        fail(f"no setting {key!r}; settings: {', '.join(sorted(settings))}")
    else:
        emit(settings[key], True)


@tenant_settings.command("describe")
@click.option("--json", "as_json", is_flag=True, help="The rows as JSON.")
@click.option("--markdown", is_flag=True, help="The table of docs/settings.md.")
@pass_ctx
def tenant_settings_describe(ctx: Context, as_json: bool, markdown: bool) -> None:
    """Every setting: its default, type and range, and whether a tenant or a retrieve call
    sets it (per call: `pymem search --options`, p_options). The database validates against
    these rows."""
    with open_client(ctx, embed=False) as client:
        specs = guard(client.setting_specs)
    emit(specs, as_json, settings_table(specs) if markdown else "\n".join(
        f"{s['key']}\t{_default(s)}\t{_kind(s)}\t{_scope(s)}" for s in specs))


def _default(spec: dict) -> str:
    return "" if spec["default_value"] is None and not spec["per_tenant"] else json.dumps(spec["default_value"])


def _kind(spec: dict) -> str:
    """A setting's type and range in words."""
    low, high, items = spec["minimum"], spec["maximum"], spec["max_items"]
    if spec["value_type"] in ("number", "integer"):
        return f"{spec['value_type']} {low} to {high}"
    if spec["value_type"] == "number[]":
        return f"up to {items} numbers {low} to {high}"
    if spec["value_type"] == "text[]":
        return f"up to {items} strings"
    if spec["choices"]:
        return " or ".join(f'"{choice}"' for choice in spec["choices"])
    return {"boolean": "true or false", "text search config": "a text search configuration"}.get(
        spec["value_type"], spec["value_type"])


def _scope(spec: dict) -> str:
    return ", ".join(where for where, on in (("tenant", spec["per_tenant"]), ("call", spec["per_call"])) if on)


def settings_table(specs: list[dict]) -> str:
    """The settings as the Markdown table docs/settings.md holds."""
    lines = ["| setting | default | type and range | set per | what it does |", "|---|---|---|---|---|"]
    for spec in specs:
        default = _default(spec)
        lines.append(f"| `{spec['key']}` | {f'`{default}`' if default else ''} | {_kind(spec)} | {_scope(spec)} "
                     f"| {spec['about']} |")
    return "\n".join(lines)


@tenant_settings.command("set")
@click.argument("tenant_id")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@pass_ctx
def tenant_settings_set(ctx: Context, tenant_id: str, assignments: tuple[str, ...]) -> None:
    """Set KEY=VALUE (VALUE is JSON: 0.3, true, "rrf", [0.35, 0.2]; null restores the
    default). Validated by the database, which stores nothing when one is wrong (exit 2, with
    the settings there are); prints the effective settings."""
    changes = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            fail(f"{assignment!r} is not KEY=VALUE", code=2)
        try:
            changes[key] = json.loads(text)
        except json.JSONDecodeError:
            changes[key] = text  # a bare word is a string
    with open_client(ctx, embed=False) as client:
        try:
            settings = client.update_tenant_settings(tenant_id, changes)
        except InvalidInput as exc:
            # The database validates (_pymem.check_settings, against the rows `describe`
            # prints) and stores nothing; an unknown key, a wrong type or a value out of range
            # is bad usage, so exit 2 and name the settings there are (the unknown-key message
            # names them already). Other errors (an unknown tenant) are RootGroup's: one line, exit 1.
            if debugging():
                raise
            message = str(exc)
            if "Settings:" not in message:
                accepted = [spec["key"] for spec in guard(client.setting_specs) if spec["per_tenant"]]
                message = f"{message} (Settings: {', '.join(accepted)}.)"
            fail(message, code=2)
    emit(settings, True)


@tenant.group("login")
def tenant_login() -> None:
    """LOGIN roles for psql and other languages (one tenant, public functions only)."""


@tenant_login.command("create")
@click.argument("tenant_id")
@click.option("--name", "login", help="Role name (default: generated).")
@click.option("--password-env", help="Read the password from this environment variable.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_login_create(ctx: Context, tenant_id: str, login: str | None, password_env: str | None,
                        as_json: bool) -> None:
    password = os.environ.get(password_env) if password_env else None
    if password_env and password is None:
        fail(f"environment variable {password_env} is not set", code=2)
    with open_client(ctx, embed=False) as client:
        row = guard(lambda: client.create_login(tenant_id, login, password))
    emit(row, as_json, f"login {row['login']} acts for tenant {row['tenant_id']} (search_path {row['api_schema']})")


@tenant_login.command("drop")
@click.argument("login")
@pass_ctx
def tenant_login_drop(ctx: Context, login: str) -> None:
    with open_client(ctx, embed=False) as client:
        dropped = guard(lambda: client.drop_login(login))
    if not dropped:
        fail(f"no pymem login named {login}")
    click.echo(f"dropped {login}")


@tenant.group("key")
def tenant_key() -> None:
    """API keys for the HTTP service (a key decides the tenant of each request)."""


@tenant_key.command("create")
@click.argument("tenant_id")
@click.option("--name", help="A label to tell keys apart.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_key_create(ctx: Context, tenant_id: str, name: str | None, as_json: bool) -> None:
    """Create an API key for TENANT_ID and print it (shown once: only its hash is stored)."""
    with open_client(ctx, embed=False) as client:
        row = guard(lambda: client.create_api_key(tenant_id, name=name))
    emit(row, as_json, f"{row['api_key']}\n(key id {row['key_id']}; store the key now, it is not shown again)")


@tenant_key.command("revoke")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_key_revoke(ctx: Context, key_id: str, as_json: bool) -> None:
    """Revoke the API key KEY_ID (exit 1 when no such active key exists)."""
    with open_client(ctx, embed=False) as client:
        revoked = guard(lambda: client.revoke_api_key(key_id))
    emit({"key_id": key_id, "revoked": revoked}, as_json, f"key {key_id}: {'revoked' if revoked else 'not found'}")
    if not revoked:
        sys.exit(1)


@tenant_key.command("list")
@click.argument("tenant_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def tenant_key_list(ctx: Context, tenant_id: str | None, as_json: bool) -> None:
    """List API keys (of TENANT_ID, or all) without the keys themselves."""
    with open_client(ctx, embed=False) as client:
        rows = guard(lambda: client.list_api_keys(tenant_id))
    human = "\n".join(f"{r['key_id']}\t{r['tenant_id']}\t{r['key_prefix']}...\t{r['name'] or ''}\t"
                      f"{'revoked' if r['revoked_at'] else 'active'}" for r in rows)
    emit(rows, as_json, human or "no keys")
