-- 0015_tenant_counters: an exact memory count per tenant, a queue index by tenant, and a
-- check on every stored vector.
-- Incremental file: run once by alembic revision 0015, then frozen.
--
-- max_memories was checked against the partition's reltuples estimate and counted exactly
-- only when the estimate neared the cap: with the estimate below 0.9 x the cap, or unknown
-- (-1, a partition never analysed), every write passed, and a tenant capped at 2,000 stored
-- 8,000 rows in 8 s. The count now lives in a row per tenant that a trigger
-- (060_consistency.sql) changes inside the writing transaction, under that row's lock: the
-- cap holds exactly, whatever the estimate and however many sessions write at once.
create table _pymem.tenant_usage (
    tenant_id text primary key references _pymem.tenants (tenant_id) on delete cascade,
    memories  bigint not null default 0 check (memories >= 0)
);
-- The installing role's alone: no grant to any tenant or service role, and RLS with no
-- policy hides it from everyone else should a grant ever appear.
alter table _pymem.tenant_usage enable row level security;
insert into _pymem.tenant_usage (tenant_id, memories)
select t.tenant_id, (select count(*) from _pymem.memories m where m.tenant_id = t.tenant_id and m.status <> 'forgotten')
from _pymem.tenants t;

-- Claims were one queue in arrival order: behind one tenant's 3,569 ingests another tenant's
-- first episode waited minutes. _pymem.claim_episodes now takes turns by tenant; this index
-- gives it the tenants with pending work (a skip scan over tenant_id) and each one's oldest
-- episodes. It replaces 0014's queue-order index, which nothing reads any more.
create index episodes_tenant_queue_idx on _pymem.episodes (tenant_id, enqueued_at, id) where status = 'pending';
drop index _pymem.episodes_claim_idx;

-- The count's trigger function is kept current in 060_consistency.sql; this first version
-- exists so the triggers can be created here, once.
create function _pymem.count_memories() returns trigger
    language plpgsql volatile security definer
    set search_path = pg_catalog, pg_temp
as $$ begin return null; end $$;
-- Row triggers on the parent reach every partition (a statement trigger on the parent would
-- miss a write aimed at a partition).
create trigger memories_count_insert after insert on _pymem.memories
    for each row when (new.status <> 'forgotten') execute function _pymem.count_memories();
create trigger memories_count_delete after delete on _pymem.memories
    for each row when (old.status <> 'forgotten') execute function _pymem.count_memories();
create trigger memories_count_forget after update of status on _pymem.memories
    for each row when ((old.status = 'forgotten') is distinct from (new.status = 'forgotten'))
    execute function _pymem.count_memories();

-- A vector is checked wherever it is written: the write functions checked theirs, but a
-- tenant role's own UPDATE of the column stored a zero vector (cosine NaN: the memory then
-- scored null and matched everything). Body in 010_internal.sql.
create function _pymem.check_stored_embedding() returns trigger
    language plpgsql security invoker
    set search_path = pg_catalog, pg_temp
as $$ begin return new; end $$;
-- (Not `update of embedding` nor a WHEN on it: a trigger that names the column would stop
-- the column's type from changing, which choosing or changing the model does.)
create trigger memories_check_embedding before insert or update on _pymem.memories
    for each row execute function _pymem.check_stored_embedding();
