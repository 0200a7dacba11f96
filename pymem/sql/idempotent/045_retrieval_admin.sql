-- 045_retrieval_admin: per-tenant retrieval settings and rebuilding a tenant's search indexes.
-- Administrative: SECURITY DEFINER, executable by the service role (and the owner).
--
-- Rebuilding an index without blocking reads needs CREATE INDEX CONCURRENTLY, which cannot
-- run inside a function or a transaction. So pymem.reindex_plan() returns the statements and
-- the caller runs them one by one, outside a transaction: `pymem admin reindex --tenant T`,
-- or from psql as the owning role: select statement from pymem.reindex_plan('T') \gexec

-- The CREATE INDEX statement for one of a tenant's search indexes, from its settings
-- (hnsw_m, hnsw_ef_construction; bm25_k1, bm25_b, text_config).
create or replace function _pymem.search_index_ddl(
    p_tenant       _pymem.tenants,
    p_kind         text,
    p_name         text,
    p_concurrently boolean default false)
    returns text
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_settings  jsonb := _pymem.settings(p_tenant);
    v_partition text := 'memories_' || p_tenant.storage_suffix;
    v_create    text := case when p_concurrently then 'create index concurrently' else 'create index' end;
begin
    return case p_kind
        when 'hnsw' then format('%s %I on _pymem.%I using hnsw (embedding vector_cosine_ops) with (m = %s, ef_construction = %s)',
                                v_create, p_name, v_partition,
                                (v_settings->>'hnsw_m')::int, (v_settings->>'hnsw_ef_construction')::int)
        when 'bm25' then format('%s %I on _pymem.%I using bm25 (content) with (text_config = %L, k1 = %s, b = %s)',
                                v_create, p_name, v_partition, v_settings->>'text_config',
                                (v_settings->>'bm25_k1')::float8, (v_settings->>'bm25_b')::float8)
        when 'fts' then format('%s %I on _pymem.%I using gin (to_tsvector(%L::regconfig, content))',
                               v_create, p_name, v_partition, v_settings->>'text_config')
    end;
end
$$;
comment on function _pymem.search_index_ddl(_pymem.tenants, text, text, boolean) is
    'CREATE INDEX statement for a tenant''s hnsw, bm25 or fts index from its settings. Internal.';

create or replace function pymem.update_tenant_settings(p_tenant_id text, p_settings jsonb)
    returns jsonb
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants;
begin
    perform _pymem.check_tenant_id(p_tenant_id);
    if p_settings is null or jsonb_typeof(p_settings) <> 'object' then
        raise exception 'pymem: tenant settings must be a JSON object' using errcode = '22023';
    end if;
    perform _pymem.check_retrieval_settings(jsonb_strip_nulls(p_settings), false);
    update _pymem.tenants t
       set settings = jsonb_strip_nulls(t.settings || p_settings)
     where t.tenant_id = p_tenant_id
    returning * into v_tenant;
    if not found then
        perform _pymem.tenant(p_tenant_id);  -- raises the unknown-tenant error every admin function gives
    end if;
    perform _pymem.apply_login_limits(v_tenant, l.role_name) from _pymem.logins l where l.tenant_id = p_tenant_id;
    return _pymem.settings(v_tenant);
end
$$;
comment on function pymem.update_tenant_settings(text, jsonb) is
    'Merges p_settings into a tenant''s settings (a JSON null removes a key, restoring the default) '
    'and returns the effective settings. Retrieval keys are validated. Index settings (hnsw_m, '
    'hnsw_ef_construction, bm25_k1, bm25_b, text_config) apply after pymem admin reindex. Service role only.';

create or replace function pymem.tenant_settings(p_tenant_id text) returns jsonb
    language sql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select _pymem.settings(_pymem.tenant(p_tenant_id)) $$;
comment on function pymem.tenant_settings(text) is
    'A tenant''s effective settings: the product defaults overlaid with its own. Service role only.';

create or replace function pymem.reindex_plan(p_tenant_id text)
    returns table (step integer, index_name text, action text, statement text)
    language plpgsql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant   _pymem.tenants;
    v_kind     text;
    v_name     text;
    v_step     integer := 0;
begin
    v_tenant := _pymem.tenant(p_tenant_id);
    foreach v_kind in array array['hnsw', case when _pymem.capabilities()->>'bm25' = 'pg_textsearch' then 'bm25' else 'fts' end] loop
        v_name := format('memories_%s_%s', v_tenant.storage_suffix, v_kind);
        -- Leftovers of an interrupted run (an invalid _rebuild index, an undropped _old one).
        step := v_step + 1; index_name := v_name; action := 'drop_leftover';
        statement := format('drop index concurrently if exists _pymem.%I', v_name || '_rebuild');
        return next;
        step := v_step + 2; action := 'drop_leftover';
        statement := format('drop index concurrently if exists _pymem.%I', v_name || '_old');
        return next;
        step := v_step + 3; action := 'build';
        statement := _pymem.search_index_ddl(v_tenant, v_kind, v_name || '_rebuild', true);
        return next;
        -- Both renames in one transaction, so the index name never goes missing. Renaming an
        -- index takes SHARE UPDATE EXCLUSIVE, which readers never wait for. (Until the old
        -- index is dropped the planner may use either; retrieve names neither.)
        step := v_step + 4; action := 'swap';
        statement := case when to_regclass(format('_pymem.%I', v_name)) is not null
            then format('alter index _pymem.%I rename to %I; alter index _pymem.%I rename to %I',
                        v_name, v_name || '_old', v_name || '_rebuild', v_name)
            else format('alter index _pymem.%I rename to %I', v_name || '_rebuild', v_name)
        end;
        return next;
        step := v_step + 5; action := 'drop_old';
        statement := format('drop index concurrently if exists _pymem.%I', v_name || '_old');
        return next;
        v_step := v_step + 5;
    end loop;
end
$$;
comment on function pymem.reindex_plan(text) is
    'The statements that rebuild one tenant''s HNSW and BM25 (or GIN) indexes from its current settings '
    'without blocking reads: build a new index concurrently, swap names in one transaction, drop the old '
    'one concurrently. Run them in order, each outside a transaction, as the owning role '
    '(pymem admin reindex does). Service role and owner.';
