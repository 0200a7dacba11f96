-- 0012_turn_hash: the normalised text of a conversation turn, as a column ingest can search.
-- Incremental file: run once by alembic revision 0012, then frozen.
--
-- pymem.ingest stores a turn the user said before in the same session (word for word, up to
-- case and spacing) once, with a mention. It found the earlier turn through an index on
-- md5(lower(regexp_replace(btrim(content), ...))), but under row security a tenant role
-- cannot search that index: lower(), btrim() and regexp_replace() are not leakproof, so the
-- planner applies the tenant policy before the comparison and computed the expression for
-- every turn the user had (about 40 ms a call for a user with 25,000 turns, growing with
-- the history). A plain column compared with = is searchable under row security. A trigger
-- (sql/idempotent/050_ingest.sql) keeps it for every insert and content change.

alter table _pymem.memories add column turn_hash text;

-- The turns stored before this file get their hash from `pymem migrate` right after it, one
-- transaction per tenant partition (pymem/migrate.py, run_backfills): pg_textsearch holds a
-- lock for each BM25 index a transaction writes until the transaction ends, and one
-- transaction rewriting every tenant's turns ran out of them ("too many LWLocks taken" at
-- the 71st tenant of 102). Until then an older turn said again is stored again.
create table _pymem.pending_backfills (
    name       text primary key,
    created_at timestamptz not null default now()
);
insert into _pymem.pending_backfills (name) values ('turn_hash');

create index memories_turn_hash_idx on _pymem.memories (tenant_id, user_id, turn_hash) where kind = 'episode';
drop index _pymem.memories_turn_text_idx;
