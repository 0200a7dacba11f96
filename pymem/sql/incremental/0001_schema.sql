-- 0001_schema: extensions, schemas, roles and the tables every tenant shares.
--
-- Incremental file: run once by alembic revision 0001, then frozen (tests/test_migrations.py
-- checks its hash). Functions live in sql/idempotent/ and are re-applied on every migrate.
--
-- Layout
--   pymem      public API: functions only; tenants call these.
--   _pymem     internals: tables, helper functions. Tenants reach rows only through RLS.
--
-- Roles (cluster-wide, so every name carries this database's install id)
--   pm_<install>_service  LOGIN role the Python client and the HTTP service connect as.
--                         It is a member of every tenant role WITH INHERIT FALSE, SET TRUE:
--                         it may SET ROLE to a tenant but holds none of its rights itself.
--   pm_<install>_tenant   NOLOGIN group that owns the table privileges; every tenant role
--                         is a member with INHERIT TRUE. RLS narrows rows to one tenant.
--   pm_<install>_<suffix> one NOLOGIN role per tenant (created by pymem.create_tenant).

create extension if not exists vector;
create extension if not exists age;

do $$
begin
    -- pg_textsearch refuses to load unless preloaded; without it lexical search falls
    -- back to tsvector + ts_rank_cd (decided per install, recorded in _pymem.install).
    if exists (select from pg_available_extensions where name = 'pg_textsearch')
       and current_setting('shared_preload_libraries') ~ '(^|,)\s*pg_textsearch\s*(,|$)' then
        create extension if not exists pg_textsearch;
    end if;
end
$$;

create schema pymem;
create schema _pymem;
revoke all on schema pymem, _pymem from public;
-- Functions are not executable by PUBLIC here; sql/idempotent/ grants them role by role.
alter default privileges in schema pymem, _pymem revoke execute on functions from public;

-- Time-ordered ids (uuid v7): index-friendly, and "then id" is a stable tie-break.
-- PostgreSQL 18 has uuidv7(); older servers get a random uuid with the same time prefix.
do $$
begin
    if current_setting('server_version_num')::int >= 180000 then
        create function _pymem.new_id() returns uuid
            language sql volatile parallel safe set search_path = pg_catalog, pg_temp
        as 'select uuidv7()';
    else
        create function _pymem.new_id() returns uuid
            language sql volatile parallel safe set search_path = pg_catalog, pg_temp
        as $f$
            select encode(overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                    from 1 for 6), 'hex')::uuid
        $f$;
    end if;
end
$$;

-- One row: who this installation is. The id makes role names unique per database.
create table _pymem.install (
    singleton    boolean primary key default true check (singleton),
    install_id   text not null unique default substr(md5(random()::text || clock_timestamp()::text), 1, 8),
    owner_role   name not null default current_user,
    created_at   timestamptz not null default now(),
    capabilities jsonb not null default '{}'
);
insert into _pymem.install (capabilities)
select jsonb_build_object(
    'vector', exists (select from pg_extension where extname = 'vector'),
    'age', exists (select from pg_extension where extname = 'age'),
    'bm25', case when exists (select from pg_extension where extname = 'pg_textsearch')
                 then 'pg_textsearch' else 'tsvector' end,
    'pg_cron', exists (select from pg_extension where extname = 'pg_cron'),
    'vectorscale', exists (select from pg_extension where extname = 'vectorscale'));

do $$
declare
    v_install text := (select install_id from _pymem.install);
    v_service name := format('pm_%s_service', v_install);
    v_group   name := format('pm_%s_tenant', v_install);
begin
    execute format('create role %I login noinherit', v_service);
    execute format('create role %I nologin', v_group);
    execute format('grant usage on schema pymem, _pymem to %I, %I', v_service, v_group);
    -- AGE: each tenant's graph is reached through ag_catalog functions.
    execute format('grant usage on schema ag_catalog to %I', v_group);
end
$$;

-- Tenants. tenant_id is the caller's text id; role_name is how the database knows
-- which tenant a session acts for (RLS reads current_user, never a parameter or GUC).
create table _pymem.tenants (
    tenant_id      text primary key
                   check (tenant_id ~ '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,62}$'),
    role_name      name not null unique,
    storage_suffix text not null unique check (storage_suffix ~ '^[a-z0-9]{8,16}$'),
    graph_name     name not null unique,
    settings       jsonb not null default '{}' check (jsonb_typeof(settings) = 'object'),
    created_at     timestamptz not null default now()
);

-- Memories: one LIST partition per tenant, each with its own HNSW and BM25 index (the
-- tenant's isolated vector namespace). tenant_id leads every key so the table is
-- Citus-shaped (distributable by tenant_id).
create table _pymem.memories (
    tenant_id     text not null,
    id            uuid not null default _pymem.new_id(),
    user_id       text not null,
    agent_id      text,
    session_id    text,
    kind          text not null
                  check (kind in ('fact', 'preference', 'event', 'procedural', 'episode')),
    content       text not null check (length(content) between 1 and 100000),
    embedding     vector(384),
    -- Slot for supersession: "user:display_theme". Filled by extraction; null for raw text.
    subject       text,
    attribute     text,
    status        text not null default 'active'
                  check (status in ('active', 'superseded', 'archived', 'forgotten')),
    importance    real not null default 0.5 check (importance between 0 and 1),
    confidence    real not null default 1.0 check (confidence between 0 and 1),
    mention_count integer not null default 1 check (mention_count >= 1),
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    observed_at   timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    valid_from    timestamptz not null default now(),
    valid_to      timestamptz,
    superseded_by uuid,
    source        jsonb not null default '{}' check (jsonb_typeof(source) = 'object'),
    metadata      jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
    -- ~4 characters per token: what the token budget in retrieve() counts.
    token_count   integer generated always as (greatest(1, (length(content) + 3) / 4)) stored,
    primary key (tenant_id, id)
) partition by list (tenant_id);

-- The exact-scan path for users with few memories, and per-user counting.
create index memories_user_idx on _pymem.memories (tenant_id, user_id, status, created_at desc);
create index memories_slot_idx on _pymem.memories (tenant_id, user_id, subject, attribute)
    where subject is not null and status = 'active';

-- Append-only history: every create/update/supersede/forget/erase of a memory.
create table _pymem.memory_versions (
    tenant_id   text not null,
    id          uuid not null default _pymem.new_id(),
    memory_id   uuid not null,
    user_id     text not null,
    version     integer not null check (version >= 1),
    operation   text not null
                check (operation in ('create', 'update', 'supersede', 'forget', 'archive', 'restore', 'merge')),
    actor       name not null default current_user,
    reason      text,
    recorded_at timestamptz not null default now(),
    snapshot    jsonb not null,
    primary key (tenant_id, id),
    unique (tenant_id, memory_id, version)
);
create index memory_versions_user_idx on _pymem.memory_versions (tenant_id, user_id, recorded_at);

-- The ingest queue (used by the extraction workers).
create table _pymem.episodes (
    tenant_id    text not null,
    id           uuid not null default _pymem.new_id(),
    user_id      text not null,
    agent_id     text,
    session_id   text,
    messages     jsonb not null check (jsonb_typeof(messages) = 'array'),
    metadata     jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
    status       text not null default 'pending'
                 check (status in ('pending', 'processing', 'done', 'dead')),
    attempts     integer not null default 0,
    lease_until  timestamptz,
    last_error   text,
    enqueued_at  timestamptz not null default now(),
    processed_at timestamptz,
    primary key (tenant_id, id)
);
create index episodes_queue_idx on _pymem.episodes (status, enqueued_at) where status in ('pending', 'processing');
create index episodes_user_idx on _pymem.episodes (tenant_id, user_id);

-- Row-level security: enabled and FORCED everywhere (so a table owner that is not a
-- superuser is filtered too); one policy per command, all for the tenant group only.
-- The tenant comes from current_user through _pymem.current_tenant_id(), wrapped in
-- (select ...) so it runs once per query and the planner can use it as an index key.
alter table _pymem.tenants enable row level security;
alter table _pymem.tenants force row level security;

create function _pymem.current_tenant_id() returns text
    language sql stable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$ select tenant_id from _pymem.tenants where role_name = current_user $$;
comment on function _pymem.current_tenant_id() is
    'The tenant whose role is current_user, or null. Used by every RLS policy.';

-- Secures one table of tenant rows the same way everywhere: RLS enabled and forced, one
-- policy per command for p_role limited to the tenant's own rows, a policy for the
-- installing role, and exactly the matching privileges (what a policy allows, a grant
-- allows; commands not listed have neither). Used by every migration and create_tenant.
create function _pymem.secure_tenant_table(p_table regclass, p_role name, p_commands text[]) returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_name    text := (select c.relname from pg_class c where c.oid = p_table);
    v_mine    text := '(tenant_id = (select _pymem.current_tenant_id()))';
    v_command text;
begin
    execute format('alter table %s enable row level security', p_table);
    execute format('alter table %s force row level security', p_table);
    foreach v_command in array p_commands loop
        execute format('create policy %I on %s for %s to %I %s', v_name || '_' || v_command, p_table, v_command, p_role,
                       case v_command when 'insert' then 'with check ' || v_mine
                                      when 'update' then 'using ' || v_mine || ' with check ' || v_mine
                                      else 'using ' || v_mine end);
    end loop;
    execute format('create policy %I on %s for all to %I using (true) with check (true)',
                   v_name || '_owner', p_table, current_user);
    if cardinality(p_commands) > 0 then
        execute format('grant %s on %s to %I', array_to_string(p_commands, ', '), p_table, p_role);
    end if;
end
$$;

do $$
declare
    v_install text := (select install_id from _pymem.install);
    v_group   name := format('pm_%s_tenant', v_install);
    v_owner   name := current_user;
begin
    -- Tenants see their own row only (the policy cannot call current_tenant_id(),
    -- which reads this table).
    execute format('create policy tenants_select on _pymem.tenants for select to %I
                    using (role_name = current_user)', v_group);
    execute format('grant select on _pymem.tenants to %I', v_group);

    execute format('create policy tenants_owner on _pymem.tenants for all to %I using (true) with check (true)', v_owner);
    -- History is append-only for tenants: no update or delete privilege, no policy.
    perform _pymem.secure_tenant_table('_pymem.memories', v_group, array['select', 'insert', 'update']);
    perform _pymem.secure_tenant_table('_pymem.memory_versions', v_group, array['select', 'insert']);
    perform _pymem.secure_tenant_table('_pymem.episodes', v_group, array['select', 'insert', 'update']);
    perform _pymem.secure_tenant_table('_pymem.install', v_group, array[]::text[]);  -- owner only
end
$$;


-- Which incremental files were applied, with their hash: pymem migrate refuses to run if
-- a released file changed afterwards (released migrations are immutable). Owner only.
create table _pymem.incremental_files (
    file_name  text primary key,
    sha256     text not null,
    applied_at timestamptz not null default now()
);
