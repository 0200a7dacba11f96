-- 0002_ingestion: the asynchronous write path (episodes queue, workers), a users
-- registry, and the gazetteer that extraction and retrieval share.
-- Incremental file: frozen once released.

-- Queue bookkeeping. A job is claimable when pending and due, or processing with an
-- expired lease (its worker died); apply_extraction accepts a result only from the worker
-- that holds the current claim, so no episode is applied twice.
alter table _pymem.episodes
    add column observed_at     timestamptz not null default now(),
    add column worker_id       text,
    add column claimed_at      timestamptz,
    add column next_attempt_at timestamptz not null default now(),
    add column memory_ids      uuid[] not null default '{}',
    add column memories_extracted integer;
drop index _pymem.episodes_queue_idx;
create index episodes_due_idx on _pymem.episodes (next_attempt_at) where status = 'pending';
create index episodes_lease_idx on _pymem.episodes (lease_until) where status = 'processing';
create index episodes_dead_idx on _pymem.episodes (tenant_id) where status = 'dead';

-- Users a tenant has stored anything for: erasure, export and per-user metrics start here.
create table _pymem.users (
    tenant_id     text not null,
    user_id       text not null,
    created_at    timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    primary key (tenant_id, user_id)
);

-- Typed entities recognised in text, longest surface form first: "hot dogs" is Hot dog
-- (Food), "dogs" is Dog (Animal). Global, read-only for tenants; seeded by
-- sql/idempotent/015_gazetteer.sql.
create table _pymem.gazetteer (
    term        text primary key check (term = lower(term) and length(term) between 1 and 200),
    canonical   text not null,
    entity_type text not null
);

do $$
declare
    v_group name := format('pm_%s_tenant', (select install_id from _pymem.install));
begin
    perform _pymem.secure_tenant_table('_pymem.users', v_group, array['select', 'insert', 'update']);
    execute format('grant select on _pymem.gazetteer to %I', v_group);
end
$$;

-- NOTIFY is only a hint that work exists (workers also poll); one per statement.
create function _pymem.notify_episodes() returns trigger
    language plpgsql security invoker
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform pg_notify('pymem_episodes', '');
    return null;
end
$$;
create trigger episodes_notify after insert on _pymem.episodes
    for each statement execute function _pymem.notify_episodes();
