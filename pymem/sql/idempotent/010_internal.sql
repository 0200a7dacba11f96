-- 010_internal: helpers every public function uses. Idempotent: re-applied on every migrate.

-- Which capabilities this install detected at migrate time (bm25 engine, pg_cron, ...).
-- SECURITY DEFINER because tenants have no access to _pymem.install; it returns nothing
-- about any tenant.
create or replace function _pymem.capabilities() returns jsonb
    language sql stable security definer parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select capabilities from _pymem.install $$;
comment on function _pymem.capabilities() is
    'Capabilities detected at install (vector, age, bm25 engine, pg_cron). Anyone may call.';

create or replace function _pymem.install_id() returns text
    language sql stable security definer parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select install_id from _pymem.install $$;

-- The install's role names, built here and nowhere else (0001_schema.sql created them with
-- the same pattern). Roles are cluster-wide, so each carries this database's install id.
create or replace function _pymem.service_role() returns name
    language sql stable security definer parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select format('pm_%s_service', install_id)::name from _pymem.install $$;
comment on function _pymem.service_role() is
    'The LOGIN role the client, worker and service connect as (SET ROLE to tenants, no rights of its own).';

create or replace function _pymem.tenant_group() returns name
    language sql stable security definer parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select format('pm_%s_tenant', install_id)::name from _pymem.install $$;
comment on function _pymem.tenant_group() is
    'The NOLOGIN group every tenant role belongs to (holds the table privileges RLS narrows).';

-- The calling tenant, from current_user. Raises 42501 for any role that is not a tenant
-- role (the service role before SET ROLE, a superuser, another install's role).
create or replace function _pymem.require_tenant() returns _pymem.tenants
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants;
begin
    select * into v_tenant from _pymem.tenants where role_name = current_user;
    if not found then
        raise exception 'pymem: role "%" does not act for any tenant', current_user
            using errcode = '42501',
                  hint = 'SET ROLE to the tenant''s role first (pymem.tenant_role(tenant_id) names it).';
    end if;
    return v_tenant;
end
$$;

-- The kinds of memory: the one list every check reads (the table's own CHECK constraint, in
-- 0001_schema.sql, is frozen; a test keeps the two equal). Python asks for it too
-- (pymem.memory_kinds()). extracted: what an extractor may produce (an episode is a raw turn).
create or replace function pymem.memory_kinds()
    returns table (kind text, extracted boolean, description text)
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    values ('fact', true, 'Something true about the user: an allergy, a home city, an employer.'),
           ('preference', true, 'What the user likes, prefers or wants: a theme, a seat, a style of answer.'),
           ('event', true, 'Something that happens at a time: an appointment, a trip.'),
           ('procedural', true, 'A standing instruction for the agent: always answer in French.'),
           ('episode', false, 'A raw conversation turn, stored as it was said.')
$$;
comment on function pymem.memory_kinds() is
    'The kinds of memory (fact, preference, event, procedural, episode), whether extraction produces '
    'each, and what each is for. Anyone may call.';

-- Raises 22023 naming the accepted kinds unless p_kind is one (and, with p_extracted, one an
-- extractor may produce).
-- A wake-up hint on a LISTEN channel (pymem_episodes: work is waiting; pymem_forget: drop
-- cached query embeddings), sent only while the cluster's one NOTIFY queue is less than half
-- full. PostgreSQL lets every session LISTEN and NOTIFY; a session that listens and never
-- reads pins the queue, a flood fills it, and then every NOTIFY fails at commit together
-- with the write it belongs to (another tenant's ingest or erasure answered 503). A skipped
-- hint costs latency, never a write: workers poll, and query caches do not rely on it
-- (pymem/client.py). Logins that sit idle are ended (pymem.enforce_login_limits).
create or replace function _pymem.hint(p_channel text) returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, pg_temp
as $$
begin
    if p_channel not in ('pymem_episodes', 'pymem_forget') then
        raise exception 'pymem: unknown channel %', p_channel using errcode = '22023';
    end if;
    if pg_notification_queue_usage() < 0.5 then
        perform pg_notify(p_channel, '');
    end if;
end
$$;

create or replace function _pymem.check_kind(p_field text, p_kind text, p_extracted boolean default false)
    returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_kinds text[] := array(select k.kind from pymem.memory_kinds() k where k.extracted or not p_extracted);
begin
    if p_kind is null or not p_kind = any(v_kinds) then
        raise exception 'pymem: % must be one of % (got %)', p_field, array_to_string(v_kinds, ', '),
            coalesce(quote_literal(left(p_kind, 40)), 'NULL') using errcode = '22023';
    end if;
end
$$;

-- Ids supplied by callers: non-empty, bounded, printable. Raises 22023 with the field name.
-- Tenants update their rows through column privileges, never a table-level UPDATE: any
-- table-level UPDATE, DELETE or TRUNCATE lets its holder LOCK TABLE in every mode, and an
-- ACCESS EXCLUSIVE lock on a shared parent (memories) would stop every tenant's reads.
-- Column privileges give the same UPDATEs (RLS still picks the rows) and no LOCK beyond
-- ROW EXCLUSIVE, which plain writes take anyway. The id and tenant columns are not
-- updatable. Re-run on every migrate (090_grants.sql), so new columns are covered.
create or replace function _pymem.grant_row_updates(p_table regclass, p_role name) returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_columns text;
begin
    select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into v_columns
    from pg_attribute a
    where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
      and a.attname not in ('id', 'tenant_id');
    execute format('revoke update on %s from %I', p_table, p_role);
    execute format('grant update (%s) on %s to %I', v_columns, p_table, p_role);
end
$$;

-- Re-grant column-level UPDATE on every _pymem table or partition where a tenant role or the
-- group holds UPDATE, so that columns added since (or swapped in by a re-embedding) are
-- covered. Owner only: migrate (090_grants.sql) and _pymem.finish_reembed run it.
create or replace function _pymem.refresh_row_update_grants() returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_table   regclass;
    v_grantee name;
begin
    for v_table, v_grantee in
        select distinct g.table_oid::regclass, g.grantee::regrole::name
        from (select c.oid as table_oid, a.grantee, a.privilege_type
              from pg_class c, aclexplode(c.relacl) a
              where c.relnamespace = '_pymem'::regnamespace and c.relkind in ('r', 'p')
              union all  -- already column-level
              select c.oid, a.grantee, a.privilege_type
              from pg_class c join pg_attribute att on att.attrelid = c.oid, aclexplode(att.attacl) a
              where c.relnamespace = '_pymem'::regnamespace and c.relkind in ('r', 'p')) g
        where g.privilege_type = 'UPDATE'
          and (g.grantee::regrole::name = _pymem.tenant_group()
               or g.grantee::regrole::name in (select t.role_name from _pymem.tenants t))
    loop
        perform _pymem.grant_row_updates(v_table, v_grantee);
    end loop;
end
$$;

create or replace function _pymem.check_id(p_field text, p_value text, p_max integer default 256)
    returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    if p_value is null or length(btrim(p_value)) = 0 then
        raise exception 'pymem: % must be a non-empty string', p_field using errcode = '22023';
    end if;
    if length(p_value) > p_max then
        raise exception 'pymem: % is % characters long; the limit is %', p_field, length(p_value), p_max
            using errcode = '22023';
    end if;
    if p_value ~ '[[:cntrl:]]' then
        raise exception 'pymem: % must not contain control characters', p_field using errcode = '22023';
    end if;
end
$$;

-- The episode a memory's source names (source.episode_id), or null where it names none as a
-- uuid: a caller's own source may hold anything, and only a uuid is cast. (Retrieve and the
-- write path read the turn a memory came from through it.)
create or replace function _pymem.source_episode(p_source jsonb) returns uuid
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select case when p_source->>'episode_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                then (p_source->>'episode_id')::uuid end
$$;

-- JSON a caller sends (metadata, filters, sources) is at most p_max_depth levels deep and
-- p_max_bytes long: a 900-deep metadata object was stored, then every read of that user
-- failed (clients parse it back recursively).
create or replace function _pymem.check_json(p_field text, p_value jsonb, p_max_depth integer default 32,
                                              p_max_bytes integer default 65536) returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, pg_temp
as $$
begin
    if p_value is null then
        return;
    end if;
    if octet_length(p_value::text) > p_max_bytes then
        raise exception 'pymem: % is % bytes of JSON; the limit is %', p_field, octet_length(p_value::text), p_max_bytes
            using errcode = '22023';
    end if;
    -- an item at nesting level p_max_depth + 1 exists only in a deeper document
    if jsonb_path_exists(p_value, format('strict $.**{%s}', p_max_depth + 1)::jsonpath) then
        raise exception 'pymem: % is nested more than % levels deep', p_field, p_max_depth using errcode = '22023';
    end if;
end
$$;

-- A time a caller sends (when something was said, as of when to read): finite and within
-- the years a conversation can have happened in. '-infinity' was stored and then broke
-- every list of that user.
create or replace function _pymem.check_time(p_field text, p_value timestamptz) returns void
    language plpgsql stable security invoker
    set search_path = pg_catalog, pg_temp
as $$
begin
    if p_value is not null and not (p_value between '1900-01-01 00:00:00+00' and now() + interval '1 year') then
        raise exception 'pymem: % must be a time between 1900 and a year from now, not %', p_field, p_value
            using errcode = '22023';
    end if;
end
$$;

create or replace function _pymem.check_tenant_id(p_tenant_id text) returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    if p_tenant_id is null or p_tenant_id !~ '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,62}$' then
        raise exception 'pymem: invalid tenant id %', coalesce(quote_literal(left(p_tenant_id, 80)), 'NULL')
            using errcode = '22023',
                  detail = 'A tenant id is 1-63 characters: letters, digits and . _ : @ -, starting with a letter or digit.';
    end if;
end
$$;

-- The database's embedding model (0011_embedding_model.sql): name and dimension count.
-- SECURITY DEFINER so tenant roles need no grant on the table; it names nothing of a tenant's.
create or replace function _pymem.current_embedding_model() returns _pymem.embedding_model
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
as $$ select * from _pymem.embedding_model $$;

create or replace function _pymem.check_embedding(p_embedding vector) returns void
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_model _pymem.embedding_model;
begin
    if p_embedding is null then
        return;
    end if;
    v_model := _pymem.current_embedding_model();
    if vector_dims(p_embedding) <> v_model.dimensions then
        raise exception 'pymem: embedding has % dimensions; this database stores % dimensions (%)',
            vector_dims(p_embedding), v_model.dimensions, v_model.model
            using errcode = '22023';
    end if;
    perform _pymem.check_embedding_norm(p_embedding);
end
$$;

-- Cosine distance to a zero vector is NaN, and pgvector sums products in single precision,
-- so a huge one overflows: either would compare equal to everything (every later write of
-- the user merged into it) and score null. (NaN and infinite components are refused by the
-- vector type itself.) Checked for every vector a caller sends and every vector stored.
create or replace function _pymem.check_embedding_norm(p_embedding vector) returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    if not vector_norm(p_embedding) between 1e-6 and 1e6 then
        raise exception 'pymem: embedding norm is %; it must be between 1e-6 and 1e6 (a zero or overflowing vector has no direction)',
            vector_norm(p_embedding) using errcode = '22023';
    end if;
end
$$;

-- The trigger behind every stored vector (0015_tenant_counters.sql): the norm check of
-- check_embedding (the column's type already fixes the dimensions).
create or replace function _pymem.check_stored_embedding() returns trigger
    language plpgsql security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    if new.embedding is null or (tg_op = 'UPDATE' and new.embedding is not distinct from old.embedding) then
        return new;
    end if;
    perform _pymem.check_embedding_norm(new.embedding);
    return new;
end
$$;

-- A memory as history stores it: everything but the embedding.
create or replace function _pymem.snapshot(p_memory _pymem.memories) returns jsonb
    language sql immutable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select to_jsonb(p_memory) - 'embedding' - 'embedding_next' $$;

create or replace function _pymem.record_version(
    p_memory _pymem.memories, p_operation text, p_reason text default null) returns void
    language sql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    insert into _pymem.memory_versions (tenant_id, memory_id, user_id, version, operation, reason, snapshot)
    values (p_memory.tenant_id, p_memory.id, p_memory.user_id,
            coalesce((select max(v.version) from _pymem.memory_versions v
                      where v.tenant_id = p_memory.tenant_id and v.memory_id = p_memory.id), 0) + 1,
            p_operation, p_reason, _pymem.snapshot(p_memory))
$$;
