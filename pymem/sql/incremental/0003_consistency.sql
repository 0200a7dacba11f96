-- 0003_consistency: what the consistency engine needs beyond 0001. Incremental; frozen
-- once released.
--   memories.value          the slot's value ("Dark mode"): same slot + same value is a
--                           duplicate, same slot + other value supersedes
--   memories.decay_weight   stored by decay_sweep (retrieve computes it at query time)
--   memories.stale          decay_weight at or below the tenant's stale threshold
--   memories.archived_at    when decay or consolidation archived it (history as_of uses it)
--   status 'contested'      a candidate waiting in the contradictions queue (policy manual)
--   contradictions          every slot conflict, resolved automatically or by a person

alter table _pymem.memories
    add column value            text,
    add column decay_weight     real not null default 1.0,
    add column stale            boolean not null default false,
    add column archived_at      timestamptz,
    add column decay_checked_at timestamptz;
alter table _pymem.memories drop constraint memories_status_check;
alter table _pymem.memories add constraint memories_status_check
    check (status in ('active', 'superseded', 'archived', 'forgotten', 'contested'));
create index memories_decay_idx on _pymem.memories (tenant_id, decay_checked_at nulls first)
    where status = 'active';

create table _pymem.contradictions (
    tenant_id           text not null,
    id                  uuid not null default _pymem.new_id(),
    user_id             text not null,
    subject             text,
    attribute           text,
    existing_memory_id  uuid not null,
    candidate_memory_id uuid not null,
    policy              text not null check (policy in ('newest_wins', 'most_frequent', 'manual')),
    status              text not null default 'open'
                        check (status in ('open', 'kept_existing', 'accepted_new', 'kept_both')),
    resolved_by         text,
    detected_at         timestamptz not null default now(),
    resolved_at         timestamptz,
    primary key (tenant_id, id)
);
create index contradictions_open_idx on _pymem.contradictions (tenant_id, user_id) where status = 'open';

select _pymem.secure_tenant_table('_pymem.contradictions', format('pm_%s_tenant', install_id)::name,
                                   array['select', 'insert', 'update'])
from _pymem.install;
