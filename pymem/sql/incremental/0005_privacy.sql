-- 0005_privacy: the audit trail and the login roles other languages connect as.
-- Incremental; frozen once released.

-- Who did what, when. Erasures leave a tombstone here: a keyed hash of the user id and
-- the counts removed, nothing else about the user. Tenants write it only through
-- SECURITY DEFINER functions; nobody updates or deletes it.
create table _pymem.audit_log (
    tenant_id    text,                 -- null for install-wide actions
    id           uuid not null default _pymem.new_id(),
    recorded_at  timestamptz not null default now(),
    actor        text not null,        -- the role acted as, and the session user behind it
    action       text not null,
    subject_hash text,                 -- sha256(install_id:tenant_id:user_id) for user actions
    details      jsonb not null default '{}',
    primary key (id)
);
create index audit_log_tenant_idx on _pymem.audit_log (tenant_id, recorded_at);

-- LOGIN roles that act for one tenant through its API schema only (no table privileges).
create table _pymem.logins (
    role_name  name primary key,
    tenant_id  text not null references _pymem.tenants (tenant_id) on delete cascade,
    created_at timestamptz not null default now()
);

-- Owner only: tenants reach both through SECURITY DEFINER functions.
select _pymem.secure_tenant_table(t, format('pm_%s_tenant', install_id)::name, array[]::text[])
from _pymem.install, unnest(array['_pymem.audit_log', '_pymem.logins']::regclass[]) t;

-- Raw-episode retention is a tenant setting (episode_retention_days); the sweep needs an
-- index to find old episodes without scanning live ones.
create index episodes_retention_idx on _pymem.episodes (tenant_id, enqueued_at) where status in ('done', 'dead');
