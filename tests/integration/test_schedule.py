"""The worker-side scheduler used where pg_cron is absent."""

import datetime as dt

import psycopg
import pytest
from click.testing import CliRunner

from pymem.cli import main
from workers.schedule import CronError, _LOCK_KEYS, matches, parse_cron, run_job


def at(text):
    return dt.datetime.fromisoformat(text)


def test_cron_expressions():
    every_six = parse_cron("0 */6 * * *")
    assert matches(every_six, at("2026-11-22T06:00"))
    assert matches(every_six, at("2026-11-22T00:00"))
    assert not matches(every_six, at("2026-11-22T06:01"))
    assert not matches(every_six, at("2026-11-22T07:00"))
    weekdays = parse_cron("30 3 * * 1-5")
    assert matches(weekdays, at("2026-11-23T03:30"))      # a Monday
    assert not matches(weekdays, at("2026-11-22T03:30"))  # a Sunday
    assert matches(parse_cron("5,10 1 1 1 *"), at("2027-01-01T01:10"))
    for bad in ["* * * *", "61 * * * *", "*/0 * * * *", "a * * * *"]:
        with pytest.raises((CronError, ValueError)):
            parse_cron(bad)


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
