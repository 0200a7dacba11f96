"""The worker-side scheduler used where pg_cron is absent."""


import psycopg
from click.testing import CliRunner

from pymem.cli import main
from pymem.worker.schedule import _LOCK_KEYS, run_job


def test_only_one_runner_per_job(client, db):
    client.create_tenant("acme")
    client.tenant("acme").remember("u", "something to sweep")
    with psycopg.connect(db.admin_dsn, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (_LOCK_KEYS["decay"],))
        assert run_job(db.service_dsn, "decay") is None  # someone else is running it
        holder.execute("select pg_advisory_unlock(%s)", (_LOCK_KEYS["decay"],))
    assert run_job(db.service_dsn, "decay")["scanned"] == 1
    assert run_job(db.service_dsn, "compact")["users"] == 1


def test_cli_sweep_and_contradictions(client, db):
    client.create_tenant("careful", settings={"supersession_policy": "manual"})
    t = client.tenant("careful")
    t.remember("u", "lives in Lisbon", subject="user", attribute="lives_in", value="Lisbon")
    t.remember("u", "lives in Porto", subject="user", attribute="lives_in", value="Porto")
    runner = CliRunner()
    base = ["--dsn", db.service_dsn]
    swept = runner.invoke(main, [*base, "sweep", "--compact"])
    assert swept.exit_code == 0, swept.output
    assert '"decay": {"scanned": 1' in swept.output
    listed = runner.invoke(main, [*base, "contradictions", "list", "--tenant", "careful", "--json"])
    assert listed.exit_code == 0, listed.output
    import json

    [item] = json.loads(listed.output)
    resolved = runner.invoke(main, [*base, "contradictions", "resolve", "--tenant", "careful", "--keep", "new", item["id"]])
    assert resolved.exit_code == 0, resolved.output
    assert runner.invoke(main, [*base, "contradictions", "list", "--tenant", "careful"]).output.strip() == "no contradictions"
