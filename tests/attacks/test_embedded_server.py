"""Issue 31: the embedded server lets in only the OS user who runs pymem, and a tenant's
login only into its own database.

Before, initdb's `--auth=trust` and a world-writable socket let any local OS user connect as
the superuser, and every login could connect to template1, postgres and other installs'
databases, where neither pymem's lockdown nor its login limits apply (advisory-lock
exhaustion, lo_from_bytea, sleeps past the login's timeouts).

The session's test cluster lets the test runner use any role by peer
(``peer_for_all_roles``); what a deployment gets is checked on a server of its own here,
started with the defaults, as `pymem up` starts it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from pymem import migrate
from pymem.cli import main
from pymem.server import HBA_HEADER, OS_USER, SUPERUSER, EmbeddedServer, bin_dir

from ..conftest import TEMPLATE

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="acts as another OS user (runuser): needs root")


@pytest.fixture(scope="module")
def product_server():
    """A server with the product's defaults (scram, 0700 socket directory), migrated."""
    root = Path(tempfile.mkdtemp(prefix="pymem-auth-", dir="/dev/shm"))
    server = EmbeddedServer(root / "home")
    try:
        server.start()
        migrate.migrate(server.uri())
        yield server
    finally:
        server.destroy()
        shutil.rmtree(root, ignore_errors=True)


def psql_as(os_user: str, server: EmbeddedServer, role: str, dbname: str = "postgres") -> subprocess.CompletedProcess:
    """psql run by ``os_user`` against the server's socket, with no password."""
    return subprocess.run(["runuser", "-u", os_user, "--", str(bin_dir() / "psql"), "-w", "-h", str(server.socket_dir),
                           "-U", role, "-d", dbname, "-Atc", "select current_user"],
                          capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})


def without_passfile(uri: str) -> str:
    return uri.split("&passfile=", 1)[0]


def test_the_socket_directory_is_the_server_users_alone(product_server):
    mode = product_server.socket_dir.stat()
    assert stat.S_IMODE(mode.st_mode) == 0o700
    owner = pwd.getpwnam(OS_USER).pw_uid if os.geteuid() == 0 else os.geteuid()
    assert mode.st_uid == owner


@as_root
def test_another_os_user_cannot_reach_the_socket(product_server):
    refused = psql_as("nobody", product_server, SUPERUSER)
    assert refused.returncode != 0 and "Permission denied" in refused.stderr, refused


@as_root
def test_another_os_user_without_the_password_is_refused(product_server):
    """Even where the socket is reachable (a directory opened by hand), every role wants a
    password, and the service role's peer map admits only the OS user who runs pymem."""
    with psycopg.connect(product_server.uri()) as conn:
        service = conn.execute("select _pymem.service_role()").fetchone()[0]
    product_server.socket_dir.chmod(0o711)
    try:
        as_superuser = psql_as("nobody", product_server, SUPERUSER)
        assert as_superuser.returncode != 0, as_superuser
        assert "no password supplied" in as_superuser.stderr, as_superuser.stderr
        as_service = psql_as("nobody", product_server, service)
        assert as_service.returncode != 0, as_service
        assert "Peer authentication failed" in as_service.stderr, as_service.stderr
    finally:
        product_server.socket_dir.chmod(0o700)


def test_the_superuser_needs_the_password_the_uri_names(product_server):
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(without_passfile(product_server.uri()))
    assert stat.S_IMODE(product_server.passfile.stat().st_mode) == 0o600
    assert product_server.passfile.stat().st_uid == os.geteuid()
    uri = product_server.status().uri  # what `pymem up` and `pymem status` print
    assert "passfile=" in uri
    with psycopg.connect(uri) as conn:
        assert conn.execute("select current_user").fetchone()[0] == SUPERUSER
    # The service role signs in by peer: the client's DSN works without a password.
    with psycopg.connect(migrate.service_dsn(product_server.uri())) as conn:
        assert conn.execute("select current_user").fetchone()[0].endswith("_service")


def test_a_cluster_that_trusted_everyone_is_switched_to_passwords_at_start():
    """A cluster initialised by an older pymem (`initdb --auth=trust`, no pgpass) still starts,
    and start() gives the superuser a password and pg_hba.conf scram."""
    root = Path(tempfile.mkdtemp(prefix="pymem-legacy-", dir="/dev/shm"))
    server = EmbeddedServer(root / "home")
    try:
        server.start()
        with psycopg.connect(server.uri(), autocommit=True) as conn:
            conn.execute(sql.SQL("alter role {} password null").format(sql.Identifier(SUPERUSER)))
        server.stop()
        (server.data_dir / "pg_hba.conf").write_text("local all all trust\nlocal replication all trust\n")
        server.passfile.unlink()
        server.start()
        assert (server.data_dir / "pg_hba.conf").read_text().splitlines()[0] == HBA_HEADER
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(without_passfile(server.uri()))
        with psycopg.connect(server.uri()) as conn:
            assert conn.execute("select has_database_privilege('public', 'template1', 'connect')").fetchone()[0] is False
        server.restart()  # and keeps starting
        with psycopg.connect(server.uri()) as conn:
            assert conn.execute("select current_user").fetchone()[0] == SUPERUSER
    finally:
        server.destroy()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def login(client):
    client.create_tenant("tenant-b")
    name = client.create_login("tenant-b")["login"]
    yield name
    client.drop_login(name)


def test_a_login_connects_to_its_own_database_only(db, login):
    """Runs for both owners (tests/attacks/conftest.py): template1, postgres and another
    install's database refuse the login (42501, no CONNECT privilege)."""
    with psycopg.connect(db.server.uri(db.name, user=login)) as conn:
        assert conn.execute("select current_user").fetchone()[0] == login
    for other in ("template1", "postgres", TEMPLATE):
        with pytest.raises(psycopg.OperationalError, match=f'permission denied for database "{other}"'):
            psycopg.connect(db.server.uri(other, user=login))


def test_doctor_names_the_databases_a_login_could_reach(db):
    runner = CliRunner()
    assert runner.invoke(main, ["--dsn", db.admin_dsn, "doctor", "--json"]).exit_code == 0
    with db.connect(autocommit=True) as conn:
        conn.execute("grant connect on database template1 to public")
    try:
        result = runner.invoke(main, ["--dsn", db.admin_dsn, "doctor"])
        assert result.exit_code == 1, result.output
        assert "revoke connect on database template1 from public;" in result.output
    finally:
        with db.connect(autocommit=True) as conn:
            conn.execute("revoke connect on database template1 from public")
