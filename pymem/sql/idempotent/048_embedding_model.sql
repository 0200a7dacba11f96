-- The database's embedding model (0011_embedding_model.sql): choosing it, and changing it.
--
-- Choosing and switching are for the installing role only (no grants); the service role may
-- claim and store re-embedding batches (workers help); tenants read the model through
-- _pymem.current_embedding_model() and can do nothing else here.
--
-- Choosing: _pymem.set_embedding_model(model, dimensions) while the database holds no
-- vector yet (`pymem up --embed-model M --embed-dim D`, or `pymem migrate` with the same).
--
-- Changing (`pymem embeddings reembed`), with reads and writes going on meanwhile:
--   1. begin_reembed(model, dimensions) adds the column embedding_next vector(D).
--   2. Batches of memories without a new vector are claimed (reembed_claim, SKIP LOCKED),
--      embedded with the new model and stored (reembed_store) by the command and by every
--      `pymem worker` that can reach the new model (PYMEM_REEMBED_URL or PYMEM_EMBED_URL, or
--      the local model). Writes keep filling `embedding` with the old model; their rows are
--      claimed like the others. Retrieval reads `embedding` only.
--   3. reembed_index_ddl() names the HNSW index each tenant's partition needs on the new column
--      (built CONCURRENTLY by the command: no lock on writers).
--   4. finish_reembed() in one transaction: blocks writes (SHARE ROW EXCLUSIVE), refuses if a
--      row still lacks its new vector, drops the old column with its indexes, renames the new
--      one and its indexes into place, records the new model. Readers wait for the few
--      milliseconds of the rename, never see a mix.
--   abort_reembed() drops the new column and forgets the change.

create or replace function _pymem.check_model_name(p_model text, p_dimensions integer) returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, pg_temp
as $$
begin
    if p_model is null or length(p_model) not between 1 and 200 or p_model ~ '[[:cntrl:]]' then
        raise exception 'pymem: an embedding model name is 1-200 printable characters' using errcode = '22023';
    end if;
    if p_dimensions is null or p_dimensions not between 1 and 2000 then
        raise exception 'pymem: % dimensions: pymem indexes 1-2000 (HNSW on pgvector''s vector type)',
            coalesce(p_dimensions::text, 'NULL') using errcode = '22023';
    end if;
end
$$;

create or replace function _pymem.set_embedding_model(p_model text, p_dimensions integer) returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_current _pymem.embedding_model;
begin
    perform _pymem.check_model_name(p_model, p_dimensions);
    select * into v_current from _pymem.embedding_model for update;
    if (v_current.model, v_current.dimensions) = (p_model, p_dimensions) then
        return jsonb_build_object('model', p_model, 'dimensions', p_dimensions, 'changed', false);
    end if;
    if v_current.next_model is not null then
        raise exception 'pymem: a change of embedding model to % is in progress', v_current.next_model
            using errcode = '55000', hint = 'Finish it with `pymem embeddings reembed`, or abort it.';
    end if;
    if exists (select from _pymem.memories where embedding is not null) then
        raise exception 'pymem: this database holds embeddings from % (% dimensions); it cannot be declared % (% dimensions)',
            v_current.model, v_current.dimensions, p_model, p_dimensions
            using errcode = '55000', hint = 'Re-embed it instead: `pymem embeddings reembed --model M --dimensions D`.';
    end if;
    if p_dimensions <> v_current.dimensions then
        -- Empty column: the type change rewrites nothing but the (empty) HNSW indexes.
        execute format('alter table _pymem.memories alter column embedding type vector(%s)', p_dimensions);
    end if;
    update _pymem.embedding_model set model = p_model, dimensions = p_dimensions, recorded_at = now();
    return jsonb_build_object('model', p_model, 'dimensions', p_dimensions, 'changed', true);
end
$$;

create or replace function _pymem.begin_reembed(p_model text, p_dimensions integer) returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
    -- its table locks: a request that waited would queue every tenant's writes behind it;
    -- admin.reembed retries (55P03) with backoff instead
    set lock_timeout = '200ms'
as $$
declare
    v_current _pymem.embedding_model;
begin
    perform _pymem.check_model_name(p_model, p_dimensions);
    select * into v_current from _pymem.embedding_model for update;
    if v_current.next_model is not null then
        if (v_current.next_model, v_current.next_dimensions) = (p_model, p_dimensions) then
            return _pymem.reembed_progress();  -- resuming
        end if;
        raise exception 'pymem: a change of embedding model to % (% dimensions) is in progress',
            v_current.next_model, v_current.next_dimensions
            using errcode = '55000', hint = 'Resume it with the same model, or abort it first.';
    end if;
    if (v_current.model, v_current.dimensions) = (p_model, p_dimensions) then
        raise exception 'pymem: the database already holds % (% dimensions)', p_model, p_dimensions
            using errcode = '22023';
    end if;
    execute format('alter table _pymem.memories add column embedding_next vector(%s)', p_dimensions);
    update _pymem.embedding_model
       set next_model = p_model, next_dimensions = p_dimensions, next_started_at = now();
    return _pymem.reembed_progress();
end
$$;

create or replace function _pymem.reembed_progress() returns jsonb
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_model _pymem.embedding_model;
    v_total bigint;
    v_done  bigint := 0;
begin
    select * into v_model from _pymem.embedding_model;
    if v_model.next_model is null then
        select count(*) into v_total from _pymem.memories where embedding is not null;
    else  -- one scan for both counts (embedding_next exists only during a change)
        execute 'select count(*), count(*) filter (where embedding_next is not null)
                   from _pymem.memories where embedding is not null'
            into v_total, v_done;
    end if;
    return jsonb_build_object('model', v_model.model, 'dimensions', v_model.dimensions,
                              'next_model', v_model.next_model, 'next_dimensions', v_model.next_dimensions,
                              'started_at', v_model.next_started_at, 'done', v_done, 'total', v_total);
end
$$;

-- Up to p_limit memories still without a vector from the new model, locked for this
-- transaction (SKIP LOCKED: the command and any number of workers share the work). SECURITY
-- DEFINER for the service role (`pymem worker`): cross-tenant by design, like the episode
-- queue; tenants cannot execute it.
create or replace function _pymem.reembed_claim(p_limit integer)
    returns table (tenant_id text, id uuid, content text)
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    if (select next_model from _pymem.embedding_model) is null then
        return;
    end if;
    return query execute
        'select m.tenant_id, m.id, m.content from _pymem.memories m
          where m.embedding is not null and m.embedding_next is null
          limit $1 for update of m skip locked'
        using least(greatest(p_limit, 1), 10000);
end
$$;

create or replace function _pymem.reembed_store(p_tenant_ids text[], p_ids uuid[], p_vectors vector[])
    returns integer
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_dimensions integer := (select next_dimensions from _pymem.embedding_model);
    v_count      integer;
begin
    if v_dimensions is null then
        raise exception 'pymem: no change of embedding model is in progress' using errcode = '55000';
    end if;
    if cardinality(p_tenant_ids) <> cardinality(p_ids) or cardinality(p_ids) <> cardinality(p_vectors) then
        raise exception 'pymem: % tenant ids, % ids and % vectors', cardinality(p_tenant_ids), cardinality(p_ids),
            cardinality(p_vectors) using errcode = '22023';
    end if;
    if exists (select from unnest(p_vectors) v where v is null or vector_dims(v) <> v_dimensions
                                                 or not vector_norm(v) between 1e-6 and 1e6) then
        raise exception 'pymem: every new vector must have % dimensions and a usable norm', v_dimensions
            using errcode = '22023';
    end if;
    execute 'update _pymem.memories m set embedding_next = u.v
               from unnest($1, $2, $3) as u(t, i, v)
              where m.tenant_id = u.t and m.id = u.i and m.embedding is not null'
        using p_tenant_ids, p_ids, p_vectors;
    get diagnostics v_count = row_count;
    return v_count;
end
$$;

-- CREATE INDEX CONCURRENTLY statements for the partitions that lack their HNSW index on the
-- new column (the tenant's own m and ef_construction).
create or replace function _pymem.reembed_index_ddl() returns setof text
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants;
    v_name   text;
begin
    for v_tenant in select * from _pymem.tenants order by tenant_id loop
        v_name := 'memories_' || v_tenant.storage_suffix || '_hnsw_next';
        -- A concurrent build that failed leaves an invalid index behind: drop it, build again.
        if exists (select from pg_index where indexrelid = to_regclass(format('_pymem.%I', v_name)) and not indisvalid) then
            return next format('drop index concurrently _pymem.%I', v_name);
        end if;
        if not exists (select from pg_index where indexrelid = to_regclass(format('_pymem.%I', v_name)) and indisvalid) then
            return next replace(_pymem.search_index_ddl(v_tenant, 'hnsw', v_name, true),
                                'using hnsw (embedding vector_cosine_ops)', 'using hnsw (embedding_next vector_cosine_ops)');
        end if;
    end loop;
end
$$;

create or replace function _pymem.finish_reembed() returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
    -- its table locks: a request that waited would queue every tenant's writes behind it;
    -- admin.reembed retries (55P03) with backoff instead
    set lock_timeout = '200ms'
as $$
declare
    v_model   _pymem.embedding_model;
    v_left    bigint;
    v_tenant  _pymem.tenants;
    v_ddl     text;
    v_total   bigint;
begin
    select * into v_model from _pymem.embedding_model for update;
    if v_model.next_model is null then
        raise exception 'pymem: no change of embedding model is in progress' using errcode = '55000';
    end if;
    -- Writers wait from here to commit; readers go on until the column swap below.
    lock table _pymem.memories in share row exclusive mode;
    execute 'select count(*) from _pymem.memories where embedding is not null and embedding_next is null' into v_left;
    if v_left > 0 then
        raise exception 'pymem: % memories still lack a % vector', v_left, v_model.next_model
            using errcode = '55000', hint = 'Run another pass of `pymem embeddings reembed` first.';
    end if;
    -- A partition made since the index pass (a new tenant) gets its index here; it is small.
    for v_ddl in select * from _pymem.reembed_index_ddl() loop
        execute replace(replace(v_ddl, 'create index concurrently', 'create index'), 'drop index concurrently', 'drop index');
    end loop;
    alter table _pymem.memories drop column embedding;
    alter table _pymem.memories rename column embedding_next to embedding;
    for v_tenant in select * from _pymem.tenants loop
        execute format('alter index _pymem.%I rename to %I', 'memories_' || v_tenant.storage_suffix || '_hnsw_next',
                       'memories_' || v_tenant.storage_suffix || '_hnsw');
    end loop;
    -- Column privileges belong to the column: the one swapped in has none of the old one's.
    perform _pymem.refresh_row_update_grants();
    update _pymem.embedding_model
       set model = next_model, dimensions = next_dimensions, recorded_at = now(),
           next_model = null, next_dimensions = null, next_started_at = null;
    select count(*) into v_total from _pymem.memories where embedding is not null;
    -- Services drop cached query vectors: they came from the old model.
    perform _pymem.hint('pymem_forget');
    return jsonb_build_object('model', v_model.next_model, 'dimensions', v_model.next_dimensions,
                              'previous_model', v_model.model, 'previous_dimensions', v_model.dimensions,
                              'memories', v_total);
end
$$;

create or replace function _pymem.abort_reembed() returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
    -- its table locks: a request that waited would queue every tenant's writes behind it;
    -- admin.reembed retries (55P03) with backoff instead
    set lock_timeout = '200ms'
as $$
declare
    v_model _pymem.embedding_model;
begin
    select * into v_model from _pymem.embedding_model for update;
    if v_model.next_model is null then
        return jsonb_build_object('aborted', null);
    end if;
    alter table _pymem.memories drop column if exists embedding_next;
    update _pymem.embedding_model set next_model = null, next_dimensions = null, next_started_at = null;
    return jsonb_build_object('aborted', v_model.next_model);
end
$$;
