"""Settings are described once, as the rows of _pymem.setting_specs
(pymem/sql/idempotent/011_settings.sql). The product defaults, the database's validation of a
tenant's settings and of a retrieve call's options, `pymem tenant settings` and
docs/settings.md must all say what the rows say: every key, default and range."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pymem.cli import main
from pymem.cli.tenants import settings_table
from pymem.errors import InvalidInput

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
JSON_TYPE = {"number": "number", "integer": "number", "boolean": "boolean", "text": "string",
             "text search config": "string", "number[]": "array", "text[]": "array"}
WRONG_TYPE = {"number": "1", "boolean": 1, "string": 1, "array": "x"}


def accepted(spec: dict) -> list:
    """Values the row allows: the ends of its range, each choice, then its default."""
    low, high, items, kind = spec["minimum"], spec["maximum"], spec["max_items"], spec["value_type"]
    if kind in ("number", "integer"):
        values = [low, high]
    elif kind == "number[]":
        values = [[low] * items, [high]]
    elif kind == "text[]":
        values = [["user", "assistant"], ["x"] * items]
    elif kind == "text search config":
        values = ["simple", "english"]
    elif kind == "boolean":
        values = [True, False]
    else:
        values = list(spec["choices"])
    return values + ([spec["default_value"]] if spec["per_tenant"] else [])


def refused(spec: dict) -> list:
    """Values the row does not allow: just past each end, a fraction for an integer, one item
    too many, an unknown choice, a JSON value of another type, null where the default is not."""
    low, high, items, kind = spec["minimum"], spec["maximum"], spec["max_items"], spec["value_type"]
    if kind == "number":
        values = [low - 0.001, high + 1]
    elif kind == "integer":
        values = [low - 1, high + 1, low + 0.5]
    elif kind == "number[]":
        values = [[low - 1], [high + 1], [low] * (items + 1), ["x"]]
    elif kind == "text[]":
        values = [["x"] * (items + 1), [1], ["x" * 61]]
    elif kind == "text search config":
        values = ["klingon"]
    elif kind == "text":
        values = ["nosuch"]
    else:
        values = []
    values.append(WRONG_TYPE[JSON_TYPE[kind]])
    if spec["default_value"] is not None or not spec["per_tenant"]:
        values.append(None)
    return values


@pytest.fixture
def specs(client) -> list[dict]:
    return client.setting_specs()


def test_the_rows_are_well_formed(specs):
    keys = [spec["key"] for spec in specs]
    assert keys == sorted(set(keys)) and len(keys) >= 50
    for spec in specs:
        assert spec["per_tenant"] or spec["per_call"], spec
        assert spec["about"].strip(), spec
        assert spec["value_type"] in JSON_TYPE, spec


def test_the_defaults_are_the_rows(client, specs):
    client.create_tenant("plain")
    assert client.tenant_settings("plain") == {s["key"]: s["default_value"] for s in specs if s["per_tenant"]}


def test_the_database_accepts_what_each_row_allows_and_refuses_the_rest(client, specs):
    client.create_tenant("checked")
    client.create_tenant("caller")
    caller = client.tenant("caller")
    tenant_keys = {s["key"] for s in specs if s["per_tenant"]}
    for spec in specs:
        key = spec["key"]
        if spec["per_tenant"]:
            for value in accepted(spec):
                assert client.update_tenant_settings("checked", {key: value})[key] == value
            for value in refused(spec):
                if value is None:  # update_tenant_settings reads null as "back to the default"
                    with pytest.raises(InvalidInput, match=re.escape(key)):
                        client.create_tenant(f"null-{len(key)}", settings={key: value})
                    continue
                with pytest.raises(InvalidInput, match=re.escape(key)):
                    client.update_tenant_settings("checked", {key: value})
                assert client.tenant_settings("checked")[key] == accepted(spec)[-1], "a refused value was stored"
        else:
            with pytest.raises(InvalidInput, match=f"unknown tenant setting '{key}'"):
                client.update_tenant_settings("checked", {key: 1})
        if spec["per_call"]:
            for value in accepted(spec):
                caller.retrieve("u", "anything", options={key: value})
            for value in refused(spec):
                with pytest.raises(InvalidInput, match=re.escape(key)):
                    caller.retrieve("u", "anything", options={key: value})
        else:
            with pytest.raises(InvalidInput, match=f"unknown retrieval option '{key}'"):
                caller.retrieve("u", "anything", options={key: spec["default_value"]})
    with pytest.raises(InvalidInput, match="unknown tenant setting 'colour'") as unknown:
        client.update_tenant_settings("checked", {"colour": "blue"})
    assert str(unknown.value).endswith(f"(Settings: {', '.join(sorted(tenant_keys))}.)")


def test_the_cli_describes_the_rows_and_agrees_with_them(db, client, specs):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--dsn", db.service_dsn, *args], catch_exceptions=False)

    described = run("tenant", "settings", "describe", "--json")
    assert described.exit_code == 0 and json.loads(described.output) == specs
    assert run("tenant", "settings", "describe", "--markdown").output.strip() == settings_table(specs)
    client.create_tenant("cli-s")
    every_key = [f"{s['key']}={json.dumps(accepted(s)[0])}" for s in specs if s["per_tenant"]]
    stored = run("tenant", "settings", "set", "cli-s", *every_key)
    assert stored.exit_code == 0, stored.output
    assert json.loads(stored.output) == {s["key"]: accepted(s)[0] for s in specs if s["per_tenant"]}
    for spec in specs:
        if not spec["per_tenant"]:
            continue
        bad = run("tenant", "settings", "set", "cli-s", f"{spec['key']}={json.dumps(refused(spec)[0])}")
        assert bad.exit_code == 2 and spec["key"] in bad.output and "Settings: " in bad.output, bad.output


def test_the_docs_table_is_the_rows(specs):
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("<!-- the rows, as `pymem tenant settings describe --markdown` prints them -->\n")[1]
    assert table.split("<!-- end of the rows -->")[0].strip() == settings_table(specs), \
        "docs/settings.md is behind the rows: paste `pymem tenant settings describe --markdown`"
