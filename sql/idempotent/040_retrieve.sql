-- 040_retrieve: hybrid retrieval in one function.
--
-- Candidates come from the vector side and the lexical side of the tenant's own partition
-- (queried directly: it holds the tenant's HNSW and BM25 indexes, and a query on one
-- relation locks one tenant's relations only). Each candidate is then scored on every
-- component, so the result shows why a memory ranked:
--
--   score = w_vector * vector_score + w_lexical * lexical_score + w_temporal * recency_score
--         + w_graph * graph_score
--
--   vector_score   cosine similarity to the query embedding, clamped at 0
--   lexical_score  BM25 (pg_textsearch) or ts_rank_cd (fallback), divided by the best in the pool
--   recency_score  max(floor, 0.5 ^ (age / half_life)) * (0.5 + 0.5 * importance)
--   graph_score    1 when the memory is linked to an entity the query names, 0.5 to one
--                  stated with it, 0.7 to an entity of a type the question asks for
--                  (_pymem.graph_scores, from the entity mapping kept on write)
--
-- Ties: newer first, then id; the same data and query give the same order every time.
-- Users with few memories get an exact scan (recall 1.0); bigger ones the HNSW index with
-- iterative scan, chosen per query from the user's visible row count.

create or replace function pymem.retrieve(
    p_user_id         text,
    p_query           text,
    p_query_embedding vector default null,
    p_top_k           integer default 10,
    p_token_budget    integer default null,
    p_kinds           text[] default null,
    p_filters         jsonb default null,
    p_as_of           timestamptz default null)
    returns table (
        id            uuid,
        tenant_id     text,
        user_id       text,
        kind          text,
        content       text,
        score         double precision,
        vector_score  double precision,
        lexical_score double precision,
        recency_score double precision,
        graph_score   double precision,
        importance    real,
        created_at    timestamptz,
        observed_at   timestamptz,
        session_id    text,
        agent_id      text,
        metadata      jsonb,
        source        jsonb,
        token_count   integer)
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
    set hnsw.iterative_scan = relaxed_order
as $$
declare
    v_tenant    _pymem.tenants := _pymem.require_tenant();
    v_settings  jsonb := _pymem.settings(v_tenant);
    v_bm25      boolean := _pymem.capabilities()->>'bm25' = 'pg_textsearch';
    v_partition text := format('_pymem.%I', 'memories_' || v_tenant.storage_suffix);
    v_index     text := format('_pymem.%I', 'memories_' || v_tenant.storage_suffix || '_bm25');
    v_filters   jsonb := coalesce(p_filters, '{}');
    v_query     text := coalesce(btrim(p_query), '');
    v_pool      integer;
    v_exact_max integer;
    v_rows      integer;
    v_visible   text;
    v_vector    text;
    v_lexical   text;
    v_lex_score text;
    v_unknown   text;
begin
    perform _pymem.check_id('user_id', p_user_id);
    perform _pymem.check_embedding(p_query_embedding);
    if p_top_k is null or p_top_k < 1 or p_top_k > 1000 then
        raise exception 'pymem: top_k must be between 1 and 1000' using errcode = '22023';
    end if;
    if p_token_budget is not null and p_token_budget < 1 then
        raise exception 'pymem: token_budget must be positive' using errcode = '22023';
    end if;
    if length(v_query) > 10000 then
        raise exception 'pymem: query is % characters long; the limit is 10000', length(v_query)
            using errcode = '22023';
    end if;
    if p_kinds is not null and not p_kinds <@ array['fact', 'preference', 'event', 'procedural', 'episode'] then
        raise exception 'pymem: kinds must be among fact, preference, event, procedural, episode'
            using errcode = '22023';
    end if;
    if jsonb_typeof(v_filters) <> 'object' then
        raise exception 'pymem: filters must be a JSON object' using errcode = '22023';
    end if;
    select string_agg(k, ', ') into v_unknown from jsonb_object_keys(v_filters) k
    where k not in ('session_id', 'agent_id', 'metadata', 'observed_after', 'observed_before');
    if v_unknown is not null then
        raise exception 'pymem: unknown filter(s): %', v_unknown using errcode = '22023',
            hint = 'Filters: session_id, agent_id, metadata (JSON containment), observed_after, observed_before.';
    end if;
    if v_filters ? 'metadata' and jsonb_typeof(v_filters->'metadata') <> 'object' then
        raise exception 'pymem: filters.metadata must be a JSON object' using errcode = '22023';
    end if;

    v_pool := greatest((v_settings->>'candidate_pool')::int, p_top_k);
    v_exact_max := (v_settings->>'exact_scan_max_rows')::int;
    perform set_config('hnsw.ef_search', greatest((v_settings->>'hnsw_ef_search')::int, v_pool)::text, true);

    -- What the user may see: current memories, or those valid at p_as_of.
    -- $1 user  $2 query text  $3 query embedding  $4 kinds  $5 filters  $6 as_of
    v_visible := case when p_as_of is null
        then 'm.user_id = $1 and m.status = ''active'''
        else 'm.user_id = $1 and m.status <> ''forgotten'' and m.created_at <= $6
              and m.valid_from <= $6 and (m.valid_to is null or m.valid_to > $6)'
    end || '
        and ($4 is null or m.kind = any($4))
        and ($5->>''session_id'' is null or m.session_id = $5->>''session_id'')
        and ($5->>''agent_id'' is null or m.agent_id = $5->>''agent_id'')
        and ($5->''metadata'' is null or m.metadata @> ($5->''metadata''))
        and ($5->>''observed_after'' is null or m.observed_at >= ($5->>''observed_after'')::timestamptz)
        and ($5->>''observed_before'' is null or m.observed_at < ($5->>''observed_before'')::timestamptz)';

    execute format('select count(*) from (select 1 from %s m where %s limit %s) s',
                   v_partition, v_visible, v_exact_max + 1)
        into v_rows using p_user_id, v_query, p_query_embedding, p_kinds, v_filters, p_as_of;

    -- Lexical score of m.content for $2, larger is better, 0 when nothing matches.
    v_lex_score := case when v_bm25
        then format('greatest(0, coalesce(-(m.content <@> to_bm25query($2, %L)), 0))', v_index)
        else format('ts_rank_cd(to_tsvector(%L::regconfig, m.content), websearch_to_tsquery(%L::regconfig, $2))',
                    v_settings->>'text_config', v_settings->>'text_config')
    end;

    if v_rows <= v_exact_max then
        -- Exact: score every visible row of the user. The materialized CTE keeps the
        -- partition's ANN indexes out of it (they would filter after the fact).
        v_vector := format('with u as materialized (select m.id, m.embedding from %1$s m
                                                    where %2$s and m.embedding is not null)
                            select u.id from u where $3 is not null
                            order by u.embedding <=> $3, u.id limit %3$s',
                           v_partition, v_visible, v_pool);
        v_lexical := format('with u as materialized (select m.id, %4$s as lex from %1$s m
                                                     where %2$s and $2 <> '''')
                             select u.id from u where u.lex > 0
                             order by u.lex desc, u.id limit %3$s',
                            v_partition, v_visible, v_pool, v_lex_score);
    else
        v_vector := format('select m.id from %1$s m where %2$s and $3 is not null
                            order by m.embedding <=> $3 limit %3$s',
                           v_partition, v_visible, v_pool);
        v_lexical := case when v_bm25
            then format('select m.id from %1$s m where %2$s and $2 <> ''''
                         order by m.content <@> to_bm25query($2, %4$L) limit %3$s',
                        v_partition, v_visible, v_pool, v_index)
            else format('select m.id from %1$s m where %2$s
                         and to_tsvector(%4$L::regconfig, m.content) @@ websearch_to_tsquery(%4$L::regconfig, $2)
                         order by %5$s desc limit %3$s',
                        v_partition, v_visible, v_pool, v_settings->>'text_config', v_lex_score)
        end;
    end if;

    return query execute format($q$
        with graph as (
            select g.memory_id, g.graph_score from _pymem.graph_scores($8, $1, $2, %11$s) g
        ),
        candidates as (
            (%1$s) union (%2$s) union (select memory_id as id from graph)
        ),
        scored as (
            select m.id, m.tenant_id, m.user_id, m.kind, m.content,
                   case when $3 is null or m.embedding is null then 0::float8
                        else greatest(0::float8, 1 - (m.embedding <=> $3)) end as vector_score,
                   case when $2 = '' then 0::float8 else (%4$s)::float8 end as lexical_raw,
                   greatest(%6$s::float8,
                            power(0.5::float8, greatest(0::float8,
                                  extract(epoch from (coalesce($6, now()) - m.observed_at))::float8 / 86400.0)
                                  / %5$s::float8))
                     * (0.5 + 0.5 * m.importance) as recency_score,
                   coalesce(g.graph_score, 0)::float8 as graph_score,
                   m.importance, m.created_at, m.observed_at, m.session_id, m.agent_id,
                   m.metadata, m.source, m.token_count
            from candidates c join %3$s m on m.id = c.id
            left join graph g on g.memory_id = m.id
            where %12$s
        ),
        normalized as (
            select s.*,
                   case when max(s.lexical_raw) over () > 0
                        then s.lexical_raw / max(s.lexical_raw) over () else 0::float8 end as lexical_score
            from scored s
        ),
        ranked as (
            select n.*,
                   %7$s::float8 * n.vector_score + %8$s::float8 * n.lexical_score
                     + %9$s::float8 * n.recency_score + %13$s::float8 * n.graph_score as score
            from normalized n
        ),
        ordered as (
            select r.*,
                   row_number() over w as rank,
                   sum(r.token_count) over w as tokens_so_far
            from ranked r
            window w as (order by r.score desc, r.created_at desc, r.id desc)
        )
        select o.id, o.tenant_id, o.user_id, o.kind, o.content, o.score, o.vector_score,
               o.lexical_score, o.recency_score, o.graph_score, o.importance, o.created_at, o.observed_at,
               o.session_id, o.agent_id, o.metadata, o.source, o.token_count
        from ordered o
        where o.rank <= %10$s and ($7::int is null or o.tokens_so_far <= $7::int)
        order by o.rank
        $q$,
        v_vector, v_lexical, v_partition, v_lex_score,
        (v_settings->>'decay_half_life_days')::float8, (v_settings->>'decay_floor')::float8,
        (v_settings->>'weight_vector')::float8, (v_settings->>'weight_lexical')::float8,
        (v_settings->>'weight_temporal')::float8, p_top_k, v_pool,
        -- graph candidates must be visible too (status, as_of, filters)
        v_visible, (v_settings->>'weight_graph')::float8)
    using p_user_id, v_query, p_query_embedding, p_kinds, v_filters, p_as_of, p_token_budget, v_tenant.tenant_id;
end
$$;
comment on function pymem.retrieve(text, text, vector, integer, integer, text[], jsonb, timestamptz) is
    'Top-k memories of one user of the calling tenant for a query: hybrid of vector similarity, '
    'BM25 and recency x importance, each component returned; deterministic order (score, newer, id); '
    'cut to token_budget when given. Tenant roles only.';
