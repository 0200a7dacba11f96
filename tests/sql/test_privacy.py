"""Erasure, export/import, audit, retention and login roles."""

import datetime as dt
import json

import psycopg
import pytest
from click.testing import CliRunner

from pymem.admin import reindex_tenant
from pymem.cli import main
from pymem.client import NotFound
from pymem.embed import HTTPEmbedder
from pymem.worker.extract import RuleExtractor
from pymem.worker.worker import Worker, WorkerConfig

from ..conftest import unit_vector
from ..embedding_server import EmbeddingEndpoint
from ..helpers import sqlstate_of

NOW = dt.datetime.now(dt.timezone.utc)


def everywhere(db, user_id):
    """As superuser: every row or graph element that could still hold the user."""
    with db.connect() as conn:
        counts = {}
        for table in ("memories", "memory_versions", "episodes", "memory_entities", "contradictions", "users"):
            counts[table] = conn.execute(f"select count(*) from _pymem.{table} where user_id = %s", (user_id,)).fetchone()[0]
        counts["content"] = conn.execute("select count(*) from _pymem.memories where content ilike %s",
                                         (f"%{user_id}%",)).fetchone()[0]
        conn.execute("set search_path = ag_catalog, public")
        for (graph,) in conn.execute("select graph_name from _pymem.tenants").fetchall():
            counts[f"graph {graph}"] = conn.execute(
                f"select count(*) from cypher('{graph}', $$ MATCH (n) WHERE n.user_id = '{user_id}' RETURN n $$) as (n agtype)"
            ).fetchone()[0] + conn.execute(
                f"select count(*) from cypher('{graph}', $$ MATCH ()-[r]->() WHERE r.user_id = '{user_id}' RETURN r $$) as (r agtype)"
            ).fetchone()[0]
        counts["audit mentions"] = conn.execute("select count(*) from _pymem.audit_log where details::text like %s",
                                                (f"%{user_id}%",)).fetchone()[0]
        return counts


@pytest.fixture
def populated(client, db):
    """A user with memories, history, pending and dead-letter episodes, graph facts and a
    contradiction; plus a second user of the same tenant who must be untouched."""
    client.create_tenant("acme", settings={"supersession_policy": "manual"})
    acme = client.tenant("acme")
    db.declare_embedding_model("m")
    with EmbeddingEndpoint() as endpoint:
        worker = Worker(db.service_dsn, embedder=HTTPEmbedder(endpoint.url, "m", attempts=1),
                        extractor=RuleExtractor(), config=WorkerConfig(max_attempts=1))
        for user in ("zoe", "yan"):
            acme.ingest(user, "I'm allergic to dogs. I mostly use VS Code and Python.")
            acme.ingest(user, "I live in Lisbon")
            worker.run(once=True)
            acme.ingest(user, "I live in Porto")  # conflict -> contradictions queue (manual)
            worker.run(once=True)
        endpoint.permanent_failure = True
        acme.ingest("zoe", "I use Vim")  # dead letter
        worker.run(once=True)
    acme.ingest("zoe", "I work at Acme Corp")  # still pending
    acme.remember("zoe", "zoe's locker code is 4411", embedding=unit_vector(1))
    acme.forget(acme.retrieve("zoe", "locker code")[0].id)
    return acme


def test_erase_user_removes_everything_and_leaves_a_tombstone(populated, client, db):
    before = everywhere(db, "zoe")
    assert before["memories"] > 5 and before["episodes"] == 5 and before["contradictions"] == 1
    assert any(v > 0 for k, v in before.items() if k.startswith("graph"))
    yan_before = everywhere(db, "yan")

    report = populated.erase_user("zoe")
    assert report["residual"] == 0
    assert report["memories"] == before["memories"] and report["episodes"] == 5
    assert report["graph_vertices"] == 1 and report["graph_edges"] > 0
    after = everywhere(db, "zoe")
    assert all(v == 0 for v in after.values()), after
    assert everywhere(db, "yan") == yan_before  # the other user of the tenant is untouched
    assert populated.retrieve("zoe", "dogs") == []

    [tomb] = [a for a in client.audit_log("acme") if a["action"] == "erase_user"]
    assert tomb["subject_hash"] == report["subject_hash"] and len(tomb["subject_hash"]) == 64
    assert "zoe" not in json.dumps(tomb, default=str)
    assert tomb["details"]["memories"] == before["memories"]

    again = populated.erase_user("zoe")  # unknown now: not an error
    assert again["residual"] == 0 and again["memories"] == 0


def test_export_import_round_trip_preserves_content_kinds_timestamps_and_history(populated, client):
    exported = populated.export_user("yan")
    assert exported["format"] == "pymem-export" and exported["graph_facts"]
    client.create_tenant("newco")
    newco = client.tenant("newco")
    report = newco.import_user(json.loads(json.dumps(exported, default=str)))
    assert report["memories"] == len(exported["memories"])
    again = newco.export_user("yan")

    def comparable(doc):
        return sorted((m["id"], m["kind"], m["content"], m["status"], m["observed_at"], m["valid_from"],
                       m["valid_to"], m["embedding"]) for m in json.loads(json.dumps(doc["memories"], default=str)))

    assert comparable(again) == comparable(exported)
    assert [(v["memory_id"], v["version"], v["operation"]) for v in again["memory_versions"]] == \
           [(v["memory_id"], v["version"], v["operation"]) for v in exported["memory_versions"]]
    assert sorted((f["predicate"], f["entity"]) for f in again["graph_facts"]) == \
           sorted((f["predicate"], f["entity"]) for f in exported["graph_facts"])
    assert {r.content for r in newco.retrieve("yan", "allergic dogs")} >= {"User is allergic to dogs"}
    with pytest.raises(Exception, match="already has memories"):
        newco.import_user(exported)
    actions = [a["action"] for a in client.audit_log()]
    assert "export_user" in actions and "import_user" in actions and "forget" in actions


def test_login_role_acts_for_one_tenant_through_functions_only(client, db):
    client.create_tenant("acme")
    client.create_tenant("other")
    client.tenant("other").remember("u", "other tenant's secret")
    login = client.create_login("acme")["login"]
    dsn = db.server.uri(db.name, user=login)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("select remember('u', 'remembered through a login role')")
            rows = conn.execute("select tenant_id, content from retrieve('u', 'login role')").fetchall()
            assert rows == [("acme", "remembered through a login role")]
            assert conn.execute("select count(*) from retrieve('u', 'secret')").fetchone()[0] == 0
            assert conn.execute("select (export_user('u'))->>'tenant_id'").fetchone()[0] == "acme"
            # No table access, no admin functions, nothing of another tenant.
            for statement in ["select * from _pymem.memories", "select * from _pymem.tenants",
                              "select * from pymem.retrieve('u', 'x')", "select pymem.create_tenant('x')",
                              "select * from pymem.list_tenants()", "select pymem.drop_tenant('other')",
                              "select * from pymem.audit_log()", "set role " + client.tenant_role("acme")]:
                assert sqlstate_of(conn, statement) == "42501", statement
        report = client.tenant("acme").erase_user("u")
        assert report["memories"] == 1
    finally:
        assert client.drop_login(login) is True
    with db.connect() as conn:
        assert conn.execute("select count(*) from pg_roles where rolname = %s", (login,)).fetchone()[0] == 0


def test_drop_tenant_reports_and_verifies(client, db):
    client.create_tenant("doomed")
    client.tenant("doomed").ingest("u", "I'm allergic to dogs")
    login = client.create_login("doomed")["login"]
    report = client.drop_tenant("doomed")
    assert report["residual"] == 0 and report["memories"] == 1 and report["episodes"] == 1 and report["logins"] == 1
    with db.connect() as conn:
        assert conn.execute("select count(*) from pg_roles where rolname = %s", (login,)).fetchone()[0] == 0
    assert [a["action"] for a in client.audit_log("doomed")][:1] == ["drop_tenant"]


def test_retention_deletes_old_raw_episodes_only(client, db):
    client.create_tenant("brief", settings={"episode_retention_days": 30})
    t = client.tenant("brief")
    t.ingest("u", "an old conversation turn", observed_at=NOW - dt.timedelta(days=40))
    t.ingest("u", "a recent conversation turn")
    t.remember("u", "a durable fact", observed_at=NOW - dt.timedelta(days=40))
    with db.connect() as conn:
        conn.execute("update _pymem.episodes set status = 'done', enqueued_at = now() - interval '40 days' "
                     "where messages->0->>'content' like 'an old%'")
        conn.commit()
    assert client.retention_sweep() == {"episodes": 1, "episode_memories": 1}
    assert {r.content for r in t.retrieve("u", "conversation turn fact", top_k=10)} == {
        "a recent conversation turn", "a durable fact"}


def test_cli_erase_export_import_audit(client, db, tmp_path):
    client.create_tenant("acme")
    client.tenant("acme").remember("u", "cli memory")
    runner = CliRunner()
    base = ["--dsn", db.service_dsn]
    out = tmp_path / "u.json"
    assert runner.invoke(main, [*base, "export-user", "--tenant", "acme", "--user", "u", "-o", str(out)]).exit_code == 0
    erased = runner.invoke(main, [*base, "erase-user", "--tenant", "acme", "--user", "u", "--yes"])
    assert erased.exit_code == 0 and json.loads(erased.output)["residual"] == 0
    imported = runner.invoke(main, [*base, "import-user", "--tenant", "acme", str(out)])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output)["memories"] == 1
    listing = runner.invoke(main, [*base, "audit", "--tenant", "acme", "--json"])
    assert [a["action"] for a in json.loads(listing.output)][:3] == ["import_user", "erase_user", "export_user"]
    login = runner.invoke(main, [*base, "tenant", "login", "create", "acme", "--json"])
    assert login.exit_code == 0, login.output
    assert runner.invoke(main, [*base, "tenant", "login", "drop", json.loads(login.output)["login"]]).exit_code == 0


def test_admin_functions_name_an_unknown_tenant_the_same_way(client, db):
    calls = [lambda: client.tenant_role("nobody"), lambda: client.create_login("nobody"),
             lambda: client.create_api_key("nobody"),
             lambda: client.update_tenant_settings("nobody", {"top_k": 5}),
             lambda: reindex_tenant(db.admin_dsn, "nobody")]
    for call in calls:
        with pytest.raises((NotFound, psycopg.errors.UndefinedObject), match="unknown tenant 'nobody'"):
            call()
    assert client.list_api_keys() == [] and client.audit_log(limit=5) == []
