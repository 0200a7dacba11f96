"""Registering the maintenance jobs with pg_cron, against a STAND-IN.

pg_cron cannot be installed on these machines (the embedded build does not ship it). The
`cron` schema below is a stand-in written here: a `cron.job` table and `cron.schedule` /
`cron.unschedule` functions with pg_cron's signatures and upsert-by-name behaviour. It
checks the SQL that migrate runs (pymem/sql/idempotent/095_schedule.sql) and the split of
jobs between pg_cron and `pymem worker`; it does not show that pg_cron runs them. Creating
the extension itself (CREATE EXTENSION pg_cron where available) is untested here.
"""

import psycopg
import pytest
from click.testing import CliRunner

from pymem import migrate
from pymem.cli import main
from pymem.worker.schedule import JOBS, plan

STAND_IN = """
create schema cron;
create table cron.job (
    jobid    bigserial primary key,
    schedule text not null,
    command  text not null,
    database text not null default current_database(),
    username text not null default current_user,
    active   boolean not null default true,
    jobname  text
);
create function cron.schedule(job_name text, schedule text, command text) returns bigint
    language sql as $$
    with gone as (delete from cron.job where jobname = job_name and username = current_user)
    insert into cron.job (jobname, schedule, command) values (job_name, schedule, command) returning jobid $$;
create function cron.unschedule(job_id bigint) returns boolean
    language sql as $$ delete from cron.job where jobid = job_id returning true $$;
"""


def test_without_pg_cron_the_worker_runs_every_job(db):
    assert {row["job"]: row["runner"] for row in plan(db.service_dsn)} == {job: "worker" for job in JOBS}


def test_migrate_registers_every_job_with_pg_cron_and_the_worker_runs_the_rest(db):
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        conn.execute(STAND_IN)
        # An older pymem's job name is replaced, not left running beside the new one.
        conn.execute("select cron.schedule('pymem-decay-sweep', '0 */6 * * *', 'select pymem.decay_sweep(10000)')")
        for _ in range(2):  # every migrate re-registers: still one row per job
            migrate.apply_idempotent(conn)
        jobs = conn.execute("select jobname, schedule, command from cron.job order by jobname").fetchall()
        planned = conn.execute("select job, cron_schedule, command from _pymem.schedule_plan() order by job").fetchall()
        assert jobs == [(f"pymem-{job}", schedule, command) for job, schedule, command in planned]
        assert {job for job, _, _ in planned} == set(JOBS)
        # Each statement runs as pg_cron would run it (as the role that scheduled it).
        for _, _, command in jobs:
            conn.execute(command)

    # The worker (service role) sees pg_cron's jobs through _pymem.cron_jobs() and runs none of them.
    assert {row["job"]: row["runner"] for row in plan(db.service_dsn)} == {job: "pg_cron" for job in JOBS}
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        conn.execute("select cron.unschedule(jobid) from cron.job where jobname = 'pymem-compact'")
    runners = {row["job"]: row["runner"] for row in plan(db.service_dsn)}
    assert runners.pop("compact") == "worker" and set(runners.values()) == {"pg_cron"}

    report = CliRunner().invoke(main, ["--dsn", db.admin_dsn, "doctor", "--json"])
    assert '"compact": "worker (30 3 * * *)"' in report.output
    assert '"decay": "pg_cron (*/10 * * * *)"' in report.output


def test_tenants_cannot_read_the_schedule(db, client):
    client.create_tenant("acme")
    role = client.tenant_role("acme")
    with psycopg.connect(db.service_dsn) as conn:
        conn.execute(psycopg.sql.SQL("set role {}").format(psycopg.sql.Identifier(role)))
        for function in ("_pymem.cron_jobs()", "_pymem.schedule_plan()"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(f"select * from {function}")
