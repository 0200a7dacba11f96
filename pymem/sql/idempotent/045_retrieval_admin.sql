-- 045_retrieval_admin: per-tenant retrieval settings and rebuilding a tenant's search indexes.
-- Administrative: SECURITY DEFINER, executable by the service role (and the owner).
--
-- Rebuilding an index without blocking reads needs CREATE INDEX CONCURRENTLY, which cannot
-- run inside a function or a transaction. So pymem.reindex_plan() returns the statements and
-- the caller runs them one by one, outside a transaction: `pymem admin reindex --tenant T`,
-- or from psql as the owning role: select statement from pymem.reindex_plan('T') \gexec

-- The CREATE INDEX statement for one of a tenant's search indexes: hnsw from its settings
-- (hnsw_m, hnsw_ef_construction), fts the GIN index on memories.lexemes (bm25_k1 and bm25_b
-- apply at query time; text_config when the lexemes are written: see reindex_plan).
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
        when 'fts' then format('%s %I on _pymem.%I using gin (lexemes)', v_create, p_name, v_partition)
    end;
end
$$;
comment on function _pymem.search_index_ddl(_pymem.tenants, text, text, boolean) is
    'CREATE INDEX statement for a tenant''s hnsw or fts (GIN on lexemes) index. Internal.';

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
    perform _pymem.check_settings(jsonb_strip_nulls(p_settings), false);
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
    'hnsw_ef_construction, text_config) apply after pymem admin reindex; bm25_k1 and bm25_b at once. '
    'Service role only.';

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
    -- Memories whose lexemes another text_config made: written again (the triggers of
    -- 040_retrieve.sql recompute them and the BM25 statistics). One transaction, as the owner.
    v_step := 1;
    step := 1; index_name := format('memories_%s', v_tenant.storage_suffix); action := 'relex';
    statement := format('update _pymem.%I m set lexemes = null where m.lexemes is distinct from to_tsvector(%L::regconfig, m.content)',
                        'memories_' || v_tenant.storage_suffix, _pymem.settings(v_tenant)->>'text_config');
    return next;
    foreach v_kind in array array['hnsw', 'fts'] loop
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
    'The statements that rebuild one tenant''s HNSW and GIN (lexical) indexes from its current settings '
    '(and rewrite its lexemes where text_config changed) without blocking reads: build a new index '
    'concurrently, swap names in one transaction, drop the old '
    'one concurrently. Run them in order, each outside a transaction, as the owning role '
    '(pymem admin reindex does). Service role and owner.';

-- Whether each tenant's search indexes hold every row (pg_textsearch's index once
-- answered nothing after a restart, and nothing said so). Per tenant partition:
--   rows            the partition's rows (by the primary key, not by a search index)
--   lexical_indexed the rows a full scan of the GIN index on lexemes returns (a query that
--                   only excludes a lexeme no text can produce makes GIN read every entry)
--   vector_rows     rows with an embedding
--   vector_indexed  the rows an iterative HNSW scan reaches
-- and repair: the statement that rebuilds what is short (none when healthy). Reads every
-- row of every partition twice through its indexes: seconds per 100,000 memories. An HNSW
-- graph may leave a row or two unreachable without any fault; a larger gap, or any gap in
-- the GIN index, is one. Service role and owner.
create or replace function pymem.index_health(p_tenant_id text default null)
    returns table (tenant_id text, rows bigint, lexical_indexed bigint, vector_rows bigint, vector_indexed bigint,
                   healthy boolean, repair text)
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
    set enable_seqscan = off
    set enable_sort = off
    set hnsw.iterative_scan = relaxed_order
    set hnsw.ef_search = 1000
as $$
declare
    v_tenant    _pymem.tenants;
    v_partition text;
    v_valid     text[];
begin
    for v_tenant in select * from _pymem.tenants t
                    where p_tenant_id is null or t.tenant_id = p_tenant_id order by t.tenant_id loop
        v_partition := format('_pymem.%I', 'memories_' || v_tenant.storage_suffix);
        tenant_id := v_tenant.tenant_id;
        select array_agg(a.amname) into v_valid
        from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam
        where i.indrelid = v_partition::regclass and i.indisvalid and i.indisready
          and c.relname in ('memories_' || v_tenant.storage_suffix || '_fts', 'memories_' || v_tenant.storage_suffix || '_hnsw');
        execute format('select count(*), count(m.embedding) from %s m', v_partition) into rows, vector_rows;
        lexical_indexed := 0;
        vector_indexed := 0;
        if 'gin' = any(v_valid) then
            perform set_config('enable_bitmapscan', 'on', true);
            execute format('select count(*) from %s m where m.lexemes @@ %L::tsquery', v_partition, '!''pymem doctor''')
                into lexical_indexed;
        end if;
        if 'hnsw' = any(v_valid) and vector_rows > 0 then
            perform set_config('hnsw.max_scan_tuples', greatest(vector_rows * 2, 20000)::text, true);
            execute format('select count(*) from (select m.id from %1$s m where m.embedding is not null
                                                  order by m.embedding <=> (select e.embedding from %1$s e
                                                                            where e.embedding is not null limit 1)
                                                  limit %2$s) s', v_partition, vector_rows)
                into vector_indexed;
        end if;
        healthy := lexical_indexed = rows and vector_indexed >= vector_rows - greatest(2, vector_rows / 1000);
        repair := case when healthy then null
                       else format('pymem admin reindex --tenant %s   (or, as the owner in psql: '
                                   'select statement from pymem.reindex_plan(%L) \gexec)', v_tenant.tenant_id,
                                   v_tenant.tenant_id) end;
        return next;
    end loop;
end
$$;
comment on function pymem.index_health(text) is
    'Per tenant (or only p_tenant_id): rows, rows the lexical GIN index returns, rows with an embedding, '
    'rows the HNSW index reaches, healthy, and the command that repairs an unhealthy tenant. '
    'Reads every row through both indexes. Service role and owner (pymem doctor; the worker at start).';
