"""Nothing stored stops being findable (issue 32): after each fault below, EVERY memory of a
tenant is found by a lexical query made of its own rare word and by a vector query of its
own embedding (counts over the whole partition, not a sample), and pymem.index_health()
finds both of its indexes whole.

Faults: a clean restart, kill -9 of the postmaster, a streaming standby (pg_basebackup -R),
a base backup restored to a point in time from archived WAL, 10,000 updates that leave
content alone followed by VACUUM, the decay sweep, and erase_user of a neighbour.

Servers are (re)started with plain `pg_ctl start`, as any PostgreSQL outside pymem's embedded
wrapper is: before issue 32 that wrapper rebuilt every BM25 index when it found an unclean
shutdown, a reindex these tests must not need. On a standby the lexical scores must be the
primary's (before, a standby ranked with ts_rank_cd instead of the index).
"""

import os
import pwd
import datetime as dt
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

import pymem
from pymem import migrate as migrations
from pymem.server import OS_USER, EmbeddedServer, bin_dir
from tests.conftest import unit_vector

pytestmark = pytest.mark.slow

MODEL = ("test/rare-word-seed", 384)
ALICE, BOB = 90, 30  # memories of the tenant's two users
# Only the lexical term ranks: the top result must be the one memory holding the word.
LEXICAL_ONLY = {"weight_vector": 0, "weight_temporal": 0, "weight_graph": 0, "context_weights": []}
VECTOR_ONLY = {"weight_lexical": 0, "weight_temporal": 0, "weight_graph": 0, "context_weights": []}


def rare_word(i: int) -> str:
    return f"zorblax{i:05d}"


def embedding_of(content: str):
    return unit_vector(50_000 + int(re.search(r"zorblax(\d{5})", content).group(1)))


def remember(tenant, user: str, numbers, *, aged: bool = False) -> None:
    """``aged``: observed up to two years ago (the decay sweep then rewrites most of them),
    important enough never to be archived."""
    now = dt.datetime.now(dt.timezone.utc)
    for i in numbers:
        content = f"{user.title()} noted {rare_word(i)} by the harbour lighthouse, entry {i}"
        if aged:
            tenant.remember(user, content, embedding=embedding_of(content), importance=0.95,
                            observed_at=now - dt.timedelta(days=7 * (i % 100)))
        else:
            tenant.remember(user, content, embedding=embedding_of(content))


def vacuum(server: EmbeddedServer, tenant_id: str = "acme") -> None:
    """VACUUM the tenant's partition, as autovacuum will after many updates or deletes."""
    with psycopg.connect(server.uri(), autocommit=True) as conn:
        partition = conn.execute("select 'memories_' || storage_suffix from _pymem.tenants where tenant_id = %s",
                                 (tenant_id,)).fetchone()[0]
        conn.execute(psycopg.sql.SQL("vacuum _pymem.{}").format(psycopg.sql.Identifier(partition)))


def pg_ctl_start(server: EmbeddedServer) -> None:
    """Start the cluster the way any PostgreSQL is started: no pymem code runs at start."""
    server._prepare_permissions()  # the socket directory, for a cluster this home never started
    started = subprocess.run([str(bin_dir() / "pg_ctl"), "-D", str(server.data_dir), "-l", str(server.log_file),
                              "-o", f"-k {server.socket_dir}", "-w", "-t", "60", "start"],
                             capture_output=True, stdin=subprocess.DEVNULL, timeout=90, **server.as_server_user())
    assert started.returncode == 0, started.stderr.decode() + server.log_file.read_text()[-2000:]
    deadline = time.monotonic() + 30
    while not server.is_running():
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.05)


def make_server(root: Path, name: str, **kwargs) -> EmbeddedServer:
    home = root / name
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(OS_USER)
        os.chown(home, entry.pw_uid, entry.pw_gid)
    return EmbeddedServer(home, **kwargs)


def base_backup(primary: EmbeddedServer, copy: EmbeddedServer, *args: str) -> None:
    """pg_basebackup of ``primary`` into ``copy``'s data directory, set up to run there."""
    subprocess.run([str(bin_dir() / "pg_basebackup"), "-h", str(primary.socket_dir), "-U", "postgres",
                    "-D", str(copy.data_dir), "-X", "stream", "-c", "fast", *args],
                   check=True, capture_output=True, timeout=120,
                   env={**os.environ, "PGPASSWORD": primary.password()}, **copy.as_server_user())
    shutil.copy(primary.passfile, copy.passfile)  # a copy of the primary: the same superuser password
    with open(copy.data_dir / "postgresql.auto.conf", "a") as conf:
        conf.write(f"unix_socket_directories = '{copy.socket_dir}'\n")


@pytest.fixture
def root():
    path = Path(tempfile.mkdtemp(prefix="pymem-lexical-", dir="/dev/shm"))
    servers: list[EmbeddedServer] = []
    yield path, servers
    for server in reversed(servers):
        server.destroy()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def primary(root):
    path, servers = root
    server = make_server(path, "primary")
    servers.append(server)
    server.start()
    migrations.migrate(server.uri(), embedding=MODEL)
    return server


def fill(server: EmbeddedServer, *, aged: bool = False) -> None:
    """Tenant acme (HNSW for every query: exact_scan_max_rows 0) with users alice and bob,
    and a neighbour tenant holding the same words."""
    with pymem.connect(migrations.service_dsn(server.uri()), embedder=None) as client:
        client.create_tenant("acme", settings={"exact_scan_max_rows": 0})
        client.create_tenant("globex")
        acme = client.tenant("acme")
        remember(acme, "alice", range(ALICE), aged=aged)
        remember(acme, "bob", range(ALICE, ALICE + BOB), aged=aged)
        remember(client.tenant("globex"), "alice", range(5))


def memories(server: EmbeddedServer, tenant_id: str = "acme") -> list[tuple[str, str, str, str]]:
    """Every row of the tenant's partition: (user, id, content, status)."""
    with psycopg.connect(server.uri()) as conn:
        return [(u, str(i), c, s) for u, i, c, s in conn.execute(
            "select m.user_id, m.id, m.content, m.status from _pymem.memories m where m.tenant_id = %s order by m.id",
            (tenant_id,))]


def assert_every_memory_found(server: EmbeddedServer, expected: int, tenant_id: str = "acme") -> None:
    rows = memories(server, tenant_id)
    assert len(rows) == expected
    assert {status for *_, status in rows} == {"active"}
    lexical = vector = 0
    with pymem.connect(migrations.service_dsn(server.uri()), embedder=None) as client:
        tenant = client.tenant(tenant_id)
        for user, memory_id, content, _ in rows:
            word = re.search(r"zorblax\d{5}", content).group(0)
            found = tenant.retrieve(user, word, top_k=1, options=LEXICAL_ONLY)
            lexical += bool(found and str(found[0].id) == memory_id and found[0].lexical_score > 0)
            found = tenant.retrieve(user, "", query_embedding=embedding_of(content), top_k=1, options=VECTOR_ONLY)
            vector += bool(found and str(found[0].id) == memory_id and found[0].vector_score > 0.99)
    assert (lexical, vector) == (len(rows), len(rows)), "memories no longer found by their own word or vector"
    with psycopg.connect(server.uri()) as conn:
        health = conn.execute("select rows, lexical_indexed, vector_rows, vector_indexed, healthy "
                              "from pymem.index_health(%s)", (tenant_id,)).fetchone()
    assert health == (len(rows), len(rows), len(rows), len(rows), True)


def test_a_clean_restart_loses_nothing(primary):
    fill(primary)
    assert_every_memory_found(primary, ALICE + BOB)
    primary.stop()  # fast shutdown, with its checkpoint
    assert primary._cluster_state() == "shut down"
    pg_ctl_start(primary)
    assert_every_memory_found(primary, ALICE + BOB)


def test_kill_9_of_the_postmaster_loses_nothing(primary):
    fill(primary)
    with psycopg.connect(primary.uri(), autocommit=True) as conn:
        conn.execute("checkpoint")
    with pymem.connect(migrations.service_dsn(primary.uri()), embedder=None) as client:
        remember(client.tenant("acme"), "alice", range(200, 260))  # only in WAL after the checkpoint
    import psutil

    postmaster = psutil.Process(primary.pid())
    processes = [postmaster, *postmaster.children()]
    os.kill(postmaster.pid, signal.SIGKILL)
    # Its backends notice and exit; a new postmaster refuses to start while they hold its memory.
    psutil.wait_procs(processes, timeout=30)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)
    assert primary._cluster_state() == "in production"  # no shutdown checkpoint: recovery replays WAL
    pg_ctl_start(primary)
    assert_every_memory_found(primary, ALICE + BOB + 60)


def test_a_streaming_standby_finds_everything(root, primary):
    path, servers = root
    fill(primary)
    standby = make_server(path, "standby", fast=True)
    servers.append(standby)
    base_backup(primary, standby, "-R")
    pg_ctl_start(standby)
    with pymem.connect(migrations.service_dsn(primary.uri()), embedder=None) as client:
        remember(client.tenant("acme"), "alice", range(200, 230))  # streamed, not in the backup
    with psycopg.connect(primary.uri(), autocommit=True) as conn:
        lsn = conn.execute("select pg_current_wal_lsn()").fetchone()[0]
    with psycopg.connect(standby.uri(), autocommit=True) as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone()[0]
        deadline = time.monotonic() + 30
        while conn.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0] is not True:
            assert time.monotonic() < deadline, "the standby never caught up"
            time.sleep(0.05)
    assert_every_memory_found(standby, ALICE + BOB + 30)
    # The same lexical ranking as the primary's, to the last digit: one path, the same data.
    queries = ["harbour lighthouse", f"{rare_word(3)} harbour", f"entry {rare_word(205)} noted"]
    with pymem.connect(migrations.service_dsn(primary.uri()), embedder=None) as on_primary, \
            pymem.connect(migrations.service_dsn(standby.uri()), embedder=None) as on_standby:
        for query in queries:
            ranked = [[(str(m.id), m.lexical_score) for m in client.tenant("acme").retrieve(
                "alice", query, top_k=20, options=LEXICAL_ONLY)] for client in (on_primary, on_standby)]
            assert ranked[0] == ranked[1] and ranked[0], query


def test_a_point_in_time_recovery_finds_everything_up_to_its_target(root, primary):
    path, servers = root
    archive = path / "archive"
    archive.mkdir()
    if os.geteuid() == 0:
        entry = pwd.getpwnam(OS_USER)
        os.chown(archive, entry.pw_uid, entry.pw_gid)
    with psycopg.connect(primary.uri(), autocommit=True) as conn:
        conn.execute("alter system set archive_mode = on")
        conn.execute(psycopg.sql.SQL("alter system set archive_command = {}").format(
            psycopg.sql.Literal(f"cp %p {archive}/%f")))
    primary.restart()
    fill(primary)
    restored = make_server(path, "restored", fast=True)
    servers.append(restored)
    base_backup(primary, restored)
    with pymem.connect(migrations.service_dsn(primary.uri()), embedder=None) as client:
        remember(client.tenant("acme"), "alice", range(200, 240))  # after the backup: WAL only
        with psycopg.connect(primary.uri(), autocommit=True) as conn:
            conn.execute("select pg_create_restore_point('before_the_last_40')")
        remember(client.tenant("acme"), "alice", range(300, 340))  # after the target: not restored
    with psycopg.connect(primary.uri(), autocommit=True) as conn:
        segment = conn.execute("select pg_walfile_name(pg_switch_wal())").fetchone()[0]
        deadline = time.monotonic() + 30
        while not (archive / segment).exists():
            assert time.monotonic() < deadline, "the WAL segment was never archived"
            time.sleep(0.1)
    primary.stop()
    with open(restored.data_dir / "postgresql.auto.conf", "a") as conf:
        conf.write(f"archive_mode = off\nrestore_command = 'cp {archive}/%f %p'\n"
                   "recovery_target_name = 'before_the_last_40'\nrecovery_target_action = 'promote'\n")
    (restored.data_dir / "recovery.signal").touch()
    if os.geteuid() == 0:
        entry = pwd.getpwnam(OS_USER)
        os.chown(restored.data_dir / "recovery.signal", entry.pw_uid, entry.pw_gid)
    pg_ctl_start(restored)
    with psycopg.connect(restored.uri(), autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while conn.execute("select pg_is_in_recovery()").fetchone()[0]:
            assert time.monotonic() < deadline, "the restored server never promoted"
            time.sleep(0.1)
    assert_every_memory_found(restored, ALICE + BOB + 40)


def test_10000_updates_that_leave_content_alone_then_vacuum_lose_nothing(primary):
    fill(primary)
    ids = [memory_id for _, memory_id, _, _ in memories(primary)]
    with psycopg.connect(primary.uri(), autocommit=True) as conn:
        for n in range(10_000):  # a mention added, a memory seen again: one transaction each
            conn.execute("update _pymem.memories set mention_count = mention_count + 1, last_seen_at = now() "
                         "where tenant_id = 'acme' and id = %s", (ids[n % len(ids)],))
        partition = conn.execute("select 'memories_' || storage_suffix from _pymem.tenants "
                                 "where tenant_id = 'acme'").fetchone()[0]
        conn.execute(psycopg.sql.SQL("vacuum _pymem.{}").format(psycopg.sql.Identifier(partition)))
        assert conn.execute("select sum(mention_count) from _pymem.memories where tenant_id = 'acme'").fetchone()[0] \
            == 10_000 + len(ids)
    assert_every_memory_found(primary, ALICE + BOB)


def test_the_decay_sweep_then_vacuum_lose_nothing(primary):
    fill(primary, aged=True)
    with pymem.connect(migrations.service_dsn(primary.uri()), embedder=None) as client:
        updated = sum(client.decay_sweep()["updated"] for _ in range(3))
    assert updated >= (ALICE + BOB) // 2  # the sweep rewrote most rows
    vacuum(primary)
    assert_every_memory_found(primary, ALICE + BOB)


def test_erasing_a_neighbour_then_vacuum_lose_nothing_of_the_others(primary):
    fill(primary)
    with pymem.connect(migrations.service_dsn(primary.uri()), embedder=None) as client:
        client.tenant("acme").erase_user("bob")
    vacuum(primary)
    assert_every_memory_found(primary, ALICE)
    with psycopg.connect(primary.uri()) as conn:  # the erased user's statistics went with them
        assert conn.execute("select user_id, documents from _pymem.lexical_stats where tenant_id = 'acme'").fetchall() \
            == [("alice", ALICE)]
