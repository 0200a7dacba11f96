"""Migrations give the expected database, re-running is a no-op, released files are frozen,
schema.sql is what a fresh install builds, and an upgrade from the first release builds the
same schema as a fresh install."""

import re

import psycopg
import pytest

import pymem
from pymem import migrate
from pymem.sql import SQL_DIR

EXPECTED_TABLES = {"install", "tenants", "memories", "memory_versions", "episodes", "incremental_files",
                   "idempotent_sql"}
EXPECTED_PUBLIC_FUNCTIONS = {
    "create_tenant", "drop_tenant", "list_tenants", "tenant_role",
    "remember", "retrieve", "forget", "history",
}



def _catalog_fingerprint(conn):
    return conn.execute(
        """
        select
          (select array_agg(c.relname || ':' || c.relkind::text || ':' || c.relrowsecurity || ':' || c.relforcerowsecurity
                            order by c.relname)
             from pg_class c where c.relnamespace in ('pymem'::regnamespace, '_pymem'::regnamespace)),
          (select array_agg(p.oid::regprocedure::text || ':' || md5(p.prosrc) || ':' || p.prosecdef
                            || ':' || coalesce(array_to_string(p.proconfig, ','), '') || ':'
                            || coalesce(array_to_string(p.proacl, ','), '') order by p.oid::regprocedure::text)
             from pg_proc p where p.pronamespace in ('pymem'::regnamespace, '_pymem'::regnamespace)),
          (select array_agg(pol.polname || ':' || pol.polrelid::regclass::text
                            order by pol.polrelid::regclass::text, pol.polname) from pg_policy pol)
        """
    ).fetchone()


def test_fresh_migrate_creates_the_expected_objects(db):
    with db.connect() as conn:
        tables = {r[0] for r in conn.execute(
            "select relname from pg_class where relnamespace = '_pymem'::regnamespace and relkind in ('r', 'p')")}
        assert EXPECTED_TABLES <= tables
        functions = {r[0] for r in conn.execute(
            "select proname from pg_proc where pronamespace = 'pymem'::regnamespace")}
        assert EXPECTED_PUBLIC_FUNCTIONS <= functions
        # Every tenant table has RLS enabled and forced.
        rls = dict(conn.execute(
            """select relname, relrowsecurity and relforcerowsecurity from pg_class
               where relnamespace = '_pymem'::regnamespace and relname in
                     ('tenants', 'memories', 'memory_versions', 'episodes', 'install')"""))
        assert rls == dict.fromkeys(["tenants", "memories", "memory_versions", "episodes", "install"], True)
        # memories is partitioned by tenant; extensions present.
        assert conn.execute("select partstrat from pg_partitioned_table "
                            "where partrelid = '_pymem.memories'::regclass").fetchone()[0] == "l"
        extensions = {r[0] for r in conn.execute("select extname from pg_extension")}
        assert {"vector", "age", "pg_textsearch"} <= extensions
        # Every public function is documented (COMMENT ON FUNCTION) and pins its search_path.
        undocumented = conn.execute(
            """select array_agg(proname) from pg_proc
               where pronamespace = 'pymem'::regnamespace and obj_description(oid, 'pg_proc') is null""").fetchone()[0]
        assert undocumented is None
        unpinned = conn.execute(
            """select array_agg(oid::regprocedure::text) from pg_proc
               where pronamespace in ('pymem'::regnamespace, '_pymem'::regnamespace)
                 and not coalesce(array_to_string(proconfig, ',') like '%search_path=%', false)""").fetchone()[0]
        assert unpinned is None
        # No function in our schemas is executable by PUBLIC: 090_grants.sql grants by role.
        public_exec = {r[0] for r in conn.execute(
            """select p.proname from pg_proc p
               where p.pronamespace in ('pymem'::regnamespace, '_pymem'::regnamespace)
                 and has_function_privilege('public', p.oid, 'execute')""")}
        assert public_exec == set()


def test_migrate_closes_temporary_tables_to_public(pg_server, template_db):
    """Temporary tables take disk no quota bounds; pymem's database gives them to nobody by
    default (the template here is a database pymem migrate built)."""
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        assert conn.execute("select has_database_privilege('public', 'pymem_template', 'temporary')").fetchone()[0] is False


def test_rerunning_migrate_is_a_no_op(db):
    with db.connect() as conn:
        before = _catalog_fingerprint(conn)
    result = migrate.migrate(db.admin_dsn)
    assert result["from"] == result["to"] == migrate.head_revision()
    with db.connect() as conn:
        assert _catalog_fingerprint(conn) == before


def test_released_files_are_frozen(db):
    with db.connect() as conn:
        recorded = dict(conn.execute("select file_name, sha256 from _pymem.incremental_files"))
        assert set(recorded) == {p.name for p in (SQL_DIR / "incremental").glob("*.sql")}
        # Pretend the released file had different content when it was applied.
        conn.execute("update _pymem.incremental_files set sha256 = repeat('0', 64) where file_name = '0001_schema.sql'")
        conn.commit()
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        migrate.migrate(db.admin_dsn)


def test_service_role_needs_a_migrated_database(pg_server):
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute("drop database if exists pymem_unmigrated")
        conn.execute("create database pymem_unmigrated")
    try:
        with psycopg.connect(pg_server.uri("pymem_unmigrated")) as conn:
            assert migrate.needs_migration(conn)
    finally:
        with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
            conn.execute("drop database pymem_unmigrated")


def test_a_database_running_older_functions_needs_migrate(db):
    """A fixed function is an idempotent-file edit, not a revision: the recorded digest of
    the idempotent SQL tells a current schema with old functions from a current one."""
    with psycopg.connect(db.service_dsn) as conn:
        assert not migrate.needs_migration(conn)
    with db.connect() as conn:
        conn.execute("update _pymem.idempotent_sql set sha256 = repeat('0', 64)")
        conn.commit()
    with psycopg.connect(db.service_dsn) as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        assert migrate.needs_migration(conn)
    with pytest.raises(pymem.PymemError, match="run `pymem migrate`"):
        pymem.connect(db.service_dsn, embedder=None)
    migrate.migrate(db.admin_dsn)
    with psycopg.connect(db.service_dsn) as conn:
        assert not migrate.needs_migration(conn)
    pymem.connect(db.service_dsn, embedder=None).close()


def test_schema_sql_is_what_a_fresh_install_builds(db):
    """pymem/sql/schema.sql is generated (make schema); it must match a fresh migrate."""
    assert migrate.dump_schema(db.admin_dsn) == migrate.SCHEMA_SQL.read_text(encoding="utf-8"), (
        "pymem/sql/schema.sql is out of date: run `make schema`")


def _keep_the_revision_in_public(conn):
    """Puts pymem's revision back where earlier versions kept it: public.alembic_version."""
    conn.execute("create table public.alembic_version (version_num varchar(32) not null,"
                 " constraint alembic_version_pkc primary key (version_num))")
    conn.execute("insert into public.alembic_version select version_num from _pymem.alembic_version")
    conn.execute("drop table _pymem.alembic_version")


def _relation(conn, name):
    """A table's identity and owner (the same table, not one made again)."""
    return conn.execute("select oid, relowner from pg_class where oid = to_regclass(%s)", (name,)).fetchone()


def test_a_fresh_install_creates_nothing_in_public(db):
    """pymem keeps its own bookkeeping (the alembic revision included) in _pymem: what public
    holds belongs to the extensions, or to the application."""
    with db.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        ours = conn.execute(
            """select array_agg(format('%s %s', classid::regclass, objid)) from (
                 select 'pg_class'::regclass as classid, oid as objid from pg_class where relnamespace = 'public'::regnamespace
                 union all select 'pg_proc'::regclass, oid from pg_proc where pronamespace = 'public'::regnamespace
                 union all select 'pg_type'::regclass, oid from pg_type where typnamespace = 'public'::regnamespace
               ) o
               where not exists (select from pg_depend d where d.classid = o.classid and d.objid = o.objid
                                 and d.deptype = 'e')
                 and not exists (select from pg_type t join pg_depend d on d.objid = t.typrelid and d.deptype = 'e'
                                 where o.classid = 'pg_type'::regclass and t.oid = o.objid)""").fetchone()[0]
        assert ours is None


def test_a_revision_kept_in_public_moves_into_pymems_schema(db):
    """A database last migrated while pymem kept its revision in public.alembic_version: the
    next migrate records it in _pymem.alembic_version and drops the table pymem made."""
    with db.connect(autocommit=True) as conn:
        _keep_the_revision_in_public(conn)
        assert migrate.current_revision(conn) == migrate.head_revision()
    assert migrate.migrate(db.admin_dsn)["from"] == migrate.head_revision()
    with db.connect() as conn:
        assert _relation(conn, "public.alembic_version") is None
        assert migrate.current_revision(conn) == migrate.head_revision()
    with psycopg.connect(db.service_dsn) as conn:
        assert not migrate.needs_migration(conn)


def test_an_applications_own_revision_in_public_is_left_alone(db):
    """public.alembic_version holds only an application's revision (its Alembic rewrote the
    row pymem kept there): pymem reads its revision from the incremental files it ran, and
    leaves the application's table and row as they are."""
    with db.connect(autocommit=True) as conn:
        _keep_the_revision_in_public(conn)
        conn.execute("update public.alembic_version set version_num = 'abc123'")
        application_table = _relation(conn, "public.alembic_version")
    assert migrate.migrate(db.admin_dsn)["to"] == migrate.head_revision()
    with db.connect() as conn:
        assert _relation(conn, "public.alembic_version") == application_table
        assert [r[0] for r in conn.execute("select version_num from public.alembic_version")] == ["abc123"]
        assert migrate.current_revision(conn) == migrate.head_revision()


def test_upgrading_from_the_first_release_gives_a_fresh_install(db, pg_server):
    """A database migrated to the first release's head, then upgraded, has the same schema
    (tables, columns, indexes, constraints, functions, policies, grants) as a fresh one."""
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute("drop database if exists pymem_upgrade")
        conn.execute("create database pymem_upgrade")
    dsn = pg_server.uri("pymem_upgrade")
    try:
        first = migrate.migrate(dsn, target=migrate.first_release_revision())
        assert first["to"] == migrate.first_release_revision()
        with psycopg.connect(dsn, autocommit=True) as conn:
            # The first release kept its revision in public.alembic_version, the table an
            # application's own Alembic uses too: here it holds the application's row as well.
            _keep_the_revision_in_public(conn)
            conn.execute("insert into public.alembic_version values ('abc123')")
            application_table = _relation(conn, "public.alembic_version")
            assert migrate.current_revision(conn) == migrate.first_release_revision()
        upgraded = migrate.migrate(dsn)
        assert (upgraded["from"], upgraded["to"]) == (migrate.first_release_revision(), migrate.head_revision())
        assert migrate.dump_schema(dsn) == migrate.dump_schema(db.admin_dsn)
        with psycopg.connect(dsn) as conn:
            assert _relation(conn, "public.alembic_version") == application_table
            assert [r[0] for r in conn.execute("select version_num from public.alembic_version")] == ["abc123"]
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        with psycopg.connect(dsn) as conn:
            roles = [r[0] for r in conn.execute("select _pymem.service_role() union all select _pymem.tenant_group()")]
        with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
            conn.execute("drop database pymem_upgrade")
            for role in roles:
                conn.execute(psycopg.sql.SQL("drop role if exists {}").format(psycopg.sql.Identifier(role)))


def test_memory_kinds_have_one_source(db):
    """pymem.memory_kinds() is the list; the table's frozen CHECK constraint and the HTTP
    model's enum must say the same."""
    from typing import get_args

    from pymem.service.models import Kind

    with db.connect() as conn:
        kinds = [r[0] for r in conn.execute("select kind from pymem.memory_kinds()")]
        check = conn.execute("select pg_get_constraintdef(oid) from pg_constraint "
                             "where conrelid = '_pymem.memories'::regclass and conname = 'memories_kind_check'"
                             ).fetchone()[0]
    assert sorted(kinds) == sorted(re.findall(r"'(\w+)'::text", check))
    assert sorted(kinds) == sorted(get_args(Kind))


def test_pending_backfills_run_one_tenant_at_a_time_and_resume(client, db):
    """0012_turn_hash.sql leaves the hashes of turns stored before it to `pymem migrate`, which
    fills them one tenant partition per transaction, resumably. (One transaction failed with
    "too many LWLocks taken" on the retrieval bench's corpus, 102 tenants with built BM25
    indexes; tenants this small do not reproduce that.) Each tenant here has a turn whose
    hash is missing, as after the upgrade."""
    tenants = [f"bf{n}" for n in range(8)]
    for tenant_id in tenants:
        client.create_tenant(tenant_id)
        client.tenant(tenant_id).ingest("u", [{"role": "user", "content": f"I live in  Lisbon {tenant_id}"}],
                                        session_id="s")
    with db.connect() as conn:
        conn.execute("update _pymem.memories set turn_hash = null where kind = 'episode'")
        conn.execute("insert into _pymem.pending_backfills (name) values ('turn_hash')")
    assert migrate.migrate(db.admin_dsn)["backfilled"] == ["turn_hash"]
    with db.connect() as conn:
        assert conn.execute("select count(*) from _pymem.memories where kind = 'episode' and "
                            "turn_hash is distinct from _pymem.turn_hash(content)").fetchone()[0] == 0
        assert conn.execute("select count(*) from _pymem.pending_backfills").fetchone()[0] == 0
    assert migrate.migrate(db.admin_dsn)["backfilled"] == []
    # the backfilled hash finds the old turn: said again, it is a mention, not a new row
    client.tenant("bf7").ingest("u", [{"role": "user", "content": "i live in lisbon BF7"}], session_id="s")
    with db.connect() as conn:
        assert conn.execute("select count(*), max(mention_count) from _pymem.memories "
                            "where tenant_id = 'bf7' and kind = 'episode'").fetchone() == (1, 2)


def test_rows_stored_before_0018_get_their_values_back_in_the_row(client, db):
    """0018_rows_inline.sql: a memory's embedding, lexemes and content stay in its row (a
    conversation turn of 2.2 kB kept its embedding in TOAST, fetched for every distance).
    Rows written under the old layout are rewritten in place: same values, same results."""
    from ..conftest import unit_vector

    client.create_tenant("toasty")
    tenant = client.tenant("toasty")
    words = " ".join(f"word{n} topic{n % 7}" for n in range(60))  # ~700 characters: a row past 2 kB
    ids = [tenant.remember("u", f"Turn {n}: {words}", kind="episode", embedding=unit_vector(n), session_id="s")
           for n in range(3)]
    with db.connect() as conn:
        partition = conn.execute("select 'memories_' || storage_suffix from _pymem.tenants "
                                 "where tenant_id = 'toasty'").fetchone()[0]
        options = conn.execute("select reloptions from pg_class where relname = %s", (partition,)).fetchone()[0]
        assert options == ["toast_tuple_target=8160"]
        out_of_line = psycopg.sql.SQL(
            "select count(*) filter (where pg_column_toast_chunk_id(embedding) is not null), "
            "count(*) filter (where pg_column_toast_chunk_id(lexemes) is not null "
            "or pg_column_compression(lexemes) is not null) from _pymem.{}").format(psycopg.sql.Identifier(partition))
        assert conn.execute(out_of_line).fetchone() == (0, 0)
        # as before 0018: the vector EXTERNAL, the partition's rows toasted past 2 kB
        conn.execute("alter table _pymem.memories alter column embedding set storage external")
        conn.execute(psycopg.sql.SQL("alter table _pymem.{} reset (toast_tuple_target)").format(
            psycopg.sql.Identifier(partition)))
        conn.execute(psycopg.sql.SQL("update _pymem.{} set content = content || '', "
                                     "embedding = (embedding::real[])::vector").format(psycopg.sql.Identifier(partition)))
        conn.commit()
        assert conn.execute(out_of_line).fetchone() == (3, 0)
    query = tenant.retrieve("u", "word3 topic3", query_embedding=unit_vector(1))
    with db.connect() as conn:
        conn.execute((SQL_DIR / "incremental" / "0018_rows_inline.sql").read_text(encoding="utf-8"))
        conn.commit()
        assert conn.execute(out_of_line).fetchone() == (3, 0)  # left to the backfill
    assert "rows_inline" in migrate.migrate(db.admin_dsn)["backfilled"]
    with db.connect() as conn:
        assert conn.execute(out_of_line).fetchone() == (0, 0)
        assert conn.execute("select reloptions from pg_class where relname = %s", (partition,)).fetchone()[0] \
            == ["toast_tuple_target=8160"]
    again = tenant.retrieve("u", "word3 topic3", query_embedding=unit_vector(1))
    assert [(r.id, r.content, r.vector_score, r.lexical_score) for r in again] \
        == [(r.id, r.content, r.vector_score, r.lexical_score) for r in query]
    assert [r.score for r in again] == pytest.approx([r.score for r in query])  # recency moved on a little
    assert {r.id for r in again} == set(ids)
