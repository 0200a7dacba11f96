-- 0008_idempotent_state: which idempotent SQL the database runs.
-- Incremental file: run once by alembic revision 0008, then frozen.
--
-- `pymem migrate` re-applies sql/idempotent/ and records the sha256 of those files here. A
-- database at the head revision whose functions predate the installed package (a fixed
-- function is a file edit, not a revision) still needs `pymem migrate`:
-- pymem.migrate.needs_migration() compares this digest with the package's.
create table _pymem.idempotent_sql (
    singleton  boolean primary key default true check (singleton),
    sha256     text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    applied_at timestamptz not null default now()
);
