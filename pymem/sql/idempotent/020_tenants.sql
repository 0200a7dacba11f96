-- 020_tenants: creating and dropping tenants. Administrative: SECURITY DEFINER, executable
-- by the service role only. Every identifier that reaches dynamic SQL is either generated
-- here (role, partition and graph names) or quoted with %I / %L.

-- The tenant's row, or a clear error: an invalid id (22023) or an unknown tenant (42704).
create or replace function _pymem.tenant(p_tenant_id text) returns _pymem.tenants
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants;
begin
    perform _pymem.check_tenant_id(p_tenant_id);
    select * into v_tenant from _pymem.tenants t where t.tenant_id = p_tenant_id;
    if not found then
        raise exception 'pymem: unknown tenant %', quote_literal(p_tenant_id)
            using errcode = '42704',
                  hint = format('Create it first: pymem tenant create %1$s (CLI), client.create_tenant(%2$s) '
                                '(Python) or select pymem.create_tenant(%2$s) (SQL).', p_tenant_id, quote_literal(p_tenant_id));
    end if;
    return v_tenant;
end
$$;

-- Builds one tenant's storage: its role, its memories partition with its own HNSW and
-- GIN (lexical) indexes, RLS on the partition, and its AGE graph owned by the tenant role.
create or replace function _pymem.provision_tenant(p_tenant _pymem.tenants) returns void
    language plpgsql volatile security invoker
    set search_path = ag_catalog, pg_catalog, @extensions@, pg_temp
as $$
declare
    v_group     name := _pymem.tenant_group();
    v_service   name := _pymem.service_role();
    v_partition name := 'memories_' || p_tenant.storage_suffix;
    v_settings  jsonb := _pymem.settings(p_tenant);
begin
    execute format('create role %I nologin', p_tenant.role_name);
    execute format('grant %I to %I with inherit true, set false', v_group, p_tenant.role_name);
    execute format('grant %I to %I with inherit false, set true', p_tenant.role_name, v_service);
    if not (select rolsuper from pg_roles where rolname = current_user) then
        -- The installing role manages the tenant's graph and API schema (owned by the
        -- tenant role), so it holds the tenant's rights; tenants never hold each other's.
        execute format('grant %I to %I with inherit true, set true', p_tenant.role_name, current_user);
    end if;

    -- toast_tuple_target 8160: a memory's embedding, lexemes and content stay in its row,
    -- which retrieve reads (0018_rows_inline.sql says why).
    execute format('create table _pymem.%I partition of _pymem.memories for values in (%L)
                    with (toast_tuple_target = 8160)', v_partition, p_tenant.tenant_id);
    -- Queried directly by retrieve(): its own RLS and grants, for this tenant's role only.
    perform _pymem.secure_tenant_table(format('_pymem.%I', v_partition)::regclass, p_tenant.role_name,
                                       array['select', 'insert', 'update']);
    perform _pymem.grant_row_updates(format('_pymem.%I', v_partition)::regclass, p_tenant.role_name);

    execute format('create index %I on _pymem.%I using hnsw (embedding vector_cosine_ops) with (m = %s, ef_construction = %s)',
                   v_partition || '_hnsw', v_partition,
                   (v_settings->>'hnsw_m')::int, (v_settings->>'hnsw_ef_construction')::int);
    -- Lexical search: GIN on memories.lexemes (040_retrieve.sql), WAL-logged like the rest.
    execute _pymem.search_index_ddl(p_tenant, 'fts', v_partition || '_fts');

    -- One graph per tenant, owned by the installing role like everything else: tenants reach
    -- it only through the graph functions (080_graph.sql), which run as the owner and derive
    -- the graph from the acting tenant. A tenant owning its label tables could attach a
    -- policy or trigger that owner-run code (erasure) would then execute.
    perform ag_catalog.create_graph(p_tenant.graph_name);
    execute format('revoke all on schema %I from public', p_tenant.graph_name);
end
$$;

-- Runs one of the caller's own DDL statements (constant text built in this file), asking for
-- its locks with the caller's lock_timeout: while a lock is busy, the statement's
-- subtransaction is rolled back, everyone queued behind the request goes through, and it
-- tries again after a backoff (doubling from 50 ms up to 0.5 s, half of it random), 30
-- times (about 20 s) before 55P03 reaches the caller.
drop function if exists _pymem.lock_backoff(integer);
create or replace function _pymem.with_lock_retries(p_statement text) returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    for v_attempt in 1 .. 30 loop
        begin
            execute p_statement;
            return;
        exception when lock_not_available then
            if v_attempt = 30 then
                raise;
            end if;
            perform pg_sleep(least(0.05 * 2 ^ v_attempt, 0.5) * (0.5 + random() / 2));
        end;
    end loop;
end
$$;

-- Creating (and dropping) a partition takes an ACCESS EXCLUSIVE lock on _pymem.memories; a
-- request for it queues every later reader of every tenant behind it. So it waits at most
-- lock_timeout (200 ms) for a transaction that holds the table (a login's, say), then lets
-- everyone through and tries again after a backoff (_pymem.with_lock_retries), about 20 s in
-- all before it fails with 55P03.
create or replace function pymem.create_tenant(p_tenant_id text, p_settings jsonb default '{}')
    returns table (tenant_id text, role_name name, graph_name name, created_at timestamptz)
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
    set client_min_messages = warning  -- index builds and AGE announce themselves
    set lock_timeout = '200ms'
as $$
declare
    v_tenant _pymem.tenants;
    v_suffix text;
begin
    perform _pymem.check_tenant_id(p_tenant_id);
    if p_settings is null or jsonb_typeof(p_settings) <> 'object' then
        raise exception 'pymem: tenant settings must be a JSON object' using errcode = '22023';
    end if;
    perform _pymem.check_settings(p_settings, false);
    -- Serialise tenant creation per id so two callers cannot race on the same tenant.
    perform pg_advisory_xact_lock(hashtext('pymem.create_tenant'), hashtext(p_tenant_id));
    if exists (select from _pymem.tenants t where t.tenant_id = p_tenant_id) then
        raise exception 'pymem: tenant % already exists', quote_literal(p_tenant_id)
            using errcode = '42710';
    end if;
    loop
        v_suffix := substr(md5(random()::text || clock_timestamp()::text), 1, 8);
        exit when not exists (select from _pymem.tenants t where t.storage_suffix = v_suffix);
    end loop;

    insert into _pymem.tenants (tenant_id, role_name, storage_suffix, graph_name, settings)
    values (p_tenant_id,
            format('pm_%s_%s', _pymem.install_id(), v_suffix),
            v_suffix,
            'pm_graph_' || v_suffix,
            p_settings)
    returning * into v_tenant;
    perform _pymem.with_lock_retries(format('select _pymem.provision_tenant(%L::_pymem.tenants)', v_tenant));
    perform _pymem.write_audit(v_tenant.tenant_id, 'create_tenant', null, jsonb_build_object('role', v_tenant.role_name));

    return query select v_tenant.tenant_id, v_tenant.role_name, v_tenant.graph_name, v_tenant.created_at;
end
$$;
comment on function pymem.create_tenant(text, jsonb) is
    'Creates a tenant: its NOLOGIN role, its memories partition (own HNSW and BM25 indexes) and its AGE graph. '
    'Service role only. Returns the tenant id, role name, graph name and creation time.';

create or replace function pymem.drop_tenant(p_tenant_id text) returns jsonb
    language plpgsql volatile security definer
    set search_path = ag_catalog, pg_catalog, @extensions@, pg_temp
    set client_min_messages = warning
    set lock_timeout = '200ms'
as $$
declare
    v_tenant   _pymem.tenants;
    v_report   jsonb;
    v_login    name;
    v_residual bigint;
begin
    perform _pymem.check_tenant_id(p_tenant_id);
    select * into v_tenant from _pymem.tenants t where t.tenant_id = p_tenant_id for update;
    if not found then
        return jsonb_build_object('tenant_id', p_tenant_id, 'dropped', false);
    end if;
    v_report := jsonb_build_object(
        'tenant_id', p_tenant_id,
        'dropped', true,
        'memories', (select count(*) from _pymem.memories m where m.tenant_id = p_tenant_id),
        'memory_versions', (select count(*) from _pymem.memory_versions v where v.tenant_id = p_tenant_id),
        'episodes', (select count(*) from _pymem.episodes e where e.tenant_id = p_tenant_id),
        'users', (select count(*) from _pymem.users u where u.tenant_id = p_tenant_id),
        'logins', (select count(*) from _pymem.logins l where l.tenant_id = p_tenant_id));
    for v_login in select l.role_name from _pymem.logins l where l.tenant_id = p_tenant_id loop
        execute format('drop owned by %I', v_login);
        execute format('drop role %I', v_login);
    end loop;
    delete from _pymem.logins l where l.tenant_id = p_tenant_id;
    execute format('drop schema if exists %I cascade', _pymem.api_schema(v_tenant));
    if exists (select from ag_catalog.ag_graph g where g.name = v_tenant.graph_name) then
        perform ag_catalog.drop_graph(v_tenant.graph_name, true);
    end if;
    perform _pymem.with_lock_retries(format('drop table if exists _pymem.%I', 'memories_' || v_tenant.storage_suffix));
    delete from _pymem.memory_versions v where v.tenant_id = p_tenant_id;
    delete from _pymem.episodes e where e.tenant_id = p_tenant_id;
    delete from _pymem.memory_entities me where me.tenant_id = p_tenant_id;
    delete from _pymem.contradictions c where c.tenant_id = p_tenant_id;
    delete from _pymem.users u where u.tenant_id = p_tenant_id;
    delete from _pymem.tenants t where t.tenant_id = p_tenant_id;
    execute format('drop owned by %I', v_tenant.role_name);
    execute format('drop role %I', v_tenant.role_name);
    -- The verifier: nothing of the tenant may remain in any store.
    select (select count(*) from _pymem.memories m where m.tenant_id = p_tenant_id)
         + (select count(*) from _pymem.memory_versions v where v.tenant_id = p_tenant_id)
         + (select count(*) from _pymem.episodes e where e.tenant_id = p_tenant_id)
         + (select count(*) from _pymem.memory_entities me where me.tenant_id = p_tenant_id)
         + (select count(*) from _pymem.contradictions c where c.tenant_id = p_tenant_id)
         + (select count(*) from _pymem.users u where u.tenant_id = p_tenant_id)
         + (select count(*) from pg_roles r where r.rolname = v_tenant.role_name)
         + (select count(*) from pg_namespace n where n.nspname in (v_tenant.graph_name, _pymem.api_schema(v_tenant)))
         + (select count(*) from ag_catalog.ag_graph g where g.name = v_tenant.graph_name)
      into v_residual;
    if v_residual <> 0 then
        raise exception 'pymem: dropping tenant % left % objects behind; nothing was dropped', p_tenant_id, v_residual
            using errcode = 'P0003';
    end if;
    v_report := v_report || jsonb_build_object('residual', v_residual);
    perform _pymem.write_audit(p_tenant_id, 'drop_tenant', null, v_report);
    -- Services drop their cached query embeddings on commit (the payload names nobody).
    perform _pymem.hint('pymem_forget');
    return v_report;
end
$$;
comment on function pymem.drop_tenant(text) is
    'Drops a tenant everywhere: partition, history, queue, graph and role. Service role only. '
    'Returns a JSON report with the counts removed; an unknown tenant reports dropped = false.';

create or replace function pymem.list_tenants()
    returns table (tenant_id text, role_name name, graph_name name, created_at timestamptz, memories bigint)
    language sql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select t.tenant_id, t.role_name, t.graph_name, t.created_at,
           (select count(*) from _pymem.memories m where m.tenant_id = t.tenant_id)
    from _pymem.tenants t
    order by t.tenant_id
$$;
comment on function pymem.list_tenants() is
    'Every tenant with its role, graph and memory count. Service role only.';

create or replace function pymem.tenant_role(p_tenant_id text) returns name
    language plpgsql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    return (_pymem.tenant(p_tenant_id)).role_name;
end
$$;
comment on function pymem.tenant_role(text) is
    'The role that acts for a tenant (SET ROLE to it before calling data functions). Service role only.';

-- Before 0.2 a tenant role owned its graph's schema and label tables. Give them back to the
-- installing role (idempotent: nothing to do once done).
do $$
declare
    v_tenant _pymem.tenants;
    v_object record;
begin
    for v_tenant in
        select t.* from _pymem.tenants t join pg_namespace n on n.nspname = t.graph_name
        where n.nspowner = (select oid from pg_roles where rolname = t.role_name)
    loop
        execute format('alter schema %I owner to %I', v_tenant.graph_name, current_user);
        for v_object in
            select c.relname, c.relkind from pg_class c
            where c.relnamespace = v_tenant.graph_name::regnamespace and c.relkind in ('r', 'S')
              and c.relowner = (select oid from pg_roles where rolname = v_tenant.role_name)
              and not exists (select from pg_depend d
                              where d.classid = 'pg_class'::regclass and d.objid = c.oid
                                and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i'))
        loop
            execute format('alter %s %I.%I owner to %I', case v_object.relkind when 'S' then 'sequence' else 'table' end,
                           v_tenant.graph_name, v_object.relname, current_user);
        end loop;
    end loop;
end
$$;
