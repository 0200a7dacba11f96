"""Everything a tenant role or a login role may EXECUTE, read from pg_proc and the ACLs
(extensions and PostgreSQL's own functions included), must be in the reviewed list
(reviewed_functions.txt, one section per origin). A function that appears after an upgrade
of PostgreSQL or an extension, or after a grant in pymem, fails here until it is reviewed.

The review of each section is in docs/security.md ("What tenants can execute"). To
regenerate the list after a review: `python -m tests.attacks.test_executable_functions DSN`
against a migrated database with one tenant and one login.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import psycopg

REVIEWED = Path(__file__).with_name("reviewed_functions.txt")

# Never executable by a tenant or login, whatever the list says: functions that take another
# tenant's index, graph or lock by name or number, or write where no quota reaches.
FORBIDDEN = re.compile(r"^(pg_(try_)?advisory|lo_|loread|lowrite|to_bm25query\(text,\s?text\)|bm25_(dump|spill|force|"
                       r"summarize|text_)|age_|cypher\(name|_cypher|create_graph|drop_graph|load_labels|pg_read_|"
                       r"pg_ls_|dblink)")

_EXECUTABLE = """
    select case when n.nspname like 'pm\\_api\\_%%' then 'pm_api_*' else n.nspname end as schema,
           coalesce(e.extname, '') as extension,
           regexp_replace(p.oid::regprocedure::text, '^pm_api_[a-z0-9]+\\.', 'pm_api_*.') as signature
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    left join pg_depend d on d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
    left join pg_extension e on e.oid = d.refobjid
    where has_function_privilege(%(role)s, p.oid, 'execute') and has_schema_privilege(%(role)s, n.oid, 'usage')
"""


def section(kind: str, schema: str, extension: str) -> str:
    if schema in ("pymem", "_pymem", "pm_api_*"):
        return f"{kind}: {schema}"
    return extension and f"extension {extension}" or f"core {schema}"


def executable(conn: psycopg.Connection, role: str, kind: str) -> set[tuple[str, str]]:
    return {(section(kind, schema, extension), signature)
            for schema, extension, signature in conn.execute(_EXECUTABLE, {"role": role})}


def reviewed() -> set[tuple[str, str]]:
    entries, current = set(), None
    for line in REVIEWED.read_text().splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif line.strip() and not line.startswith("#"):
            entries.add((current, line.strip()))
    return entries


def write(entries: set[tuple[str, str]]) -> None:
    lines = ["# Functions tenant and login roles may execute, by origin (tests/attacks/test_executable_functions.py).",
             "# Reviewed section by section in docs/security.md; regenerate only after reviewing the difference."]
    for name in sorted({s for s, _ in entries}):
        lines += ["", f"[{name}]", *sorted(sig for s, sig in entries if s == name)]
    REVIEWED.write_text("\n".join(lines) + "\n")


def observed(conn: psycopg.Connection, tenant_role: str, login: str) -> set[tuple[str, str]]:
    return executable(conn, tenant_role, "tenant role") | executable(conn, login, "login role")


def test_every_executable_function_is_reviewed(db, client):
    client.create_tenant("tenant-a")
    login = client.create_login("tenant-a")["login"]
    try:
        with db.connect() as conn:
            found = observed(conn, client.tenant_role("tenant-a"), login)
            # the schema-level doors beside functions: no CREATE anywhere, no temporary tables, no AGE
            for role in (client.tenant_role("tenant-a"), login):
                creatable = conn.execute("select array_agg(nspname) from pg_namespace "
                                         "where has_schema_privilege(%s, oid, 'create')", (role,)).fetchone()[0]
                assert creatable is None, (role, creatable)
                assert conn.execute("select has_database_privilege(%s, current_database(), 'temporary'), "
                                    "has_schema_privilege(%s, 'ag_catalog', 'usage')", (role, role)).fetchone() == (
                    False, False)
    finally:
        client.drop_login(login)
    expected = reviewed()
    unreviewed = sorted(found - expected)
    assert not unreviewed, f"{len(unreviewed)} executable functions nobody reviewed: {unreviewed[:40]}"
    gone = sorted(expected - found)
    assert not gone, f"reviewed functions no longer executable (drop them from the list): {gone[:40]}"
    assert not [sig for _, sig in found if FORBIDDEN.match(sig.split(".")[-1])]


if __name__ == "__main__":  # regenerate: python -m tests.attacks.test_executable_functions DSN TENANT_ROLE LOGIN
    with psycopg.connect(sys.argv[1]) as connection:
        write(observed(connection, sys.argv[2], sys.argv[3]))


def test_the_superusers_steps_through_the_cli(pg_server):
    """`pymem admin prepare-owner`, `pymem migrate` as the owner, `pymem admin lockdown`: the
    documented install for an owner that is not a superuser, from the command line."""
    from click.testing import CliRunner

    from pymem.cli import main

    name, owner = "pymem_cli_nonsuper", "pm_cli_owner"
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute(f"drop database if exists {name}")
        conn.execute(f"drop role if exists {owner}")
        conn.execute(f"create role {owner} login")  # no CREATEROLE yet
        conn.execute(f"create database {name}")
    runner = CliRunner()
    try:
        refused = runner.invoke(main, ["--dsn", pg_server.uri(name), "admin", "prepare-owner", owner])
        assert refused.exit_code == 1 and "CREATEROLE" in refused.output
        with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
            conn.execute(f"alter role {owner} createrole")
        prepared = runner.invoke(main, ["--dsn", pg_server.uri(name), "admin", "prepare-owner", owner])
        assert prepared.exit_code == 0, prepared.output
        migrated = runner.invoke(main, ["--dsn", pg_server.uri(name, user=owner), "migrate"])
        assert migrated.exit_code == 0, migrated.output
        with psycopg.connect(pg_server.uri(name)) as conn:
            assert conn.execute("select count(*) from _pymem.public_side_doors()").fetchone()[0] > 0
        locked = runner.invoke(main, ["--dsn", pg_server.uri(name), "admin", "lockdown", "--json"])
        assert locked.exit_code == 0, locked.output
        assert '"open": 0' in locked.output
        as_owner = runner.invoke(main, ["--dsn", pg_server.uri(name, user=owner), "admin", "lockdown"])
        assert as_owner.exit_code == 1 and "superuser" in as_owner.output
    finally:
        with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
            roles = []
            if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                with psycopg.connect(pg_server.uri(name)) as inner:
                    if inner.execute("select to_regclass('_pymem.install')").fetchone()[0]:
                        roles = list(inner.execute("select _pymem.service_role(), _pymem.tenant_group()").fetchone())
            conn.execute(f"drop database if exists {name}")
            for role in [*roles, owner]:
                conn.execute(f'drop role if exists "{role}"')
