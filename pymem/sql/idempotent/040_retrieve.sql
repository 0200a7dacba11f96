-- 040_retrieve: hybrid retrieval in one function.
--
-- pymem.retrieve() reads the calling tenant's own partition (by name: it holds the tenant's
-- HNSW and GIN indexes, and a query on one relation locks one tenant's relations only).
--
--   1. Candidates (candidate_pool per side, at least top_k):
--        vector   an exact scan of the user's rows when the user has at most
--                 exact_scan_max_rows visible memories (recall 1.0), else the partition's
--                 HNSW index with iterative scan (hnsw_ef_search); chosen per query from the
--                 user's row count (skipped when the whole partition is that small, or the
--                 user has no more memories than that).
--        lexical  BM25 over the user's visible rows that hold any query word (the stored
--                 tsvector memories.lexemes), the best lexical_scan_limit of them kept: on
--                 the exact path inside the main statement, over the rows it reads; on the
--                 HNSW path _pymem.lexical_hits() below, through the partition's GIN index.
--                 One path on primaries and standbys, WAL-logged, nothing to rebuild after a
--                 restart.
--        graph    _pymem.graph_scores() (080_graph.sql): memories linked to the entities the
--                 query names, or to entities of a type it asks for.
--        context  conversation turns (kind episode with a session_id): the context_anchors
--                 best candidate turns bring the turns up to cardinality(context_weights)
--                 positions before and after them in their session (ordered by observed_at,
--                 id): the answer often sits in the reply next to the turn that matches.
--   2. Scores. Every candidate gets every component, so a result shows why it ranked:
--        vector_score   cosine similarity to the query embedding, clamped at 0
--        lexical_score  BM25 divided by the user's best match; 0 for rows without a query word
--                       (or past the best lexical_scan_limit)
--        recency_score  max(decay_floor, 0.5 ^ (age_days / decay_half_life_days))
--                       * (0.5 + 0.5 * importance), age measured at as_of or now
--        graph_score    from graph_scores(): 1 for a memory linked to an entity the query
--                       names, 0.5 to one stated with it, 0.7 to an entity of an asked-for type
--      base = weight_vector * vector + weight_lexical * lexical + weight_temporal * recency
--             + weight_graph * graph                                  (fusion = 'weighted')
--      base = sum over components of weight / (rrf_k + rank among the candidates), a
--             component counting only where it is > 0                (fusion = 'rrf')
--      context_score (turns only) = sum over d of context_weights[d] * the best base of the
--             turns d positions away + context_session_weight * the best base of the other
--             candidate turns of the same session
--      score = base + context_score
--   3. Settle: a raw turn never ranks above the memory that replaced what it said; of two
--      near-duplicate statements the newer ranks first.
--   4. The current value first: when the query asks how things are now (it holds no past
--      cue such as "did" or "originally", _pymem.asks_about_now, 017_cues.sql), among the
--      currentness_window best a statement that announces a change ranks above every older
--      one about the same thing (cosine >= currentness_similarity) that outranked it; the
--      older ones stay, with earlier_than naming it. The write path need not have
--      understood the update ("Make that $150,000.").
--   5. Order: score, then newer first (created_at), then id: the same data and query give the
--      same order every time. Cut to top_k, then to the longest prefix whose token_count sum
--      fits token_budget (a first result bigger than the budget gives an empty result).
--
-- Settings come from _pymem.settings() (product defaults overlaid with the tenant's own) and,
-- per call, p_options (the settings whose row in _pymem.setting_specs says per_call;
-- 011_settings.sql describes each).
-- LoCoMo (pymem bench locomo, tuned on conversations 0-4) chose the context weights and
-- bm25_b 0.3: context turns lift recall@10 by ~0.05 there. Timings behind the structure
-- (statements of their own for the HNSW and lexical scans, a prepared main statement) are in
-- the comments where they apply; the figures are from pymem bench retrieval on 2 cores.

-- The lexical hits retrieve passes to its main statement as two arrays, as rows. A function
-- of its own (never inlined: it pins search_path) so the planner expects hundreds of rows,
-- not unnest's ten, and hashes them instead of scanning them once per candidate.
create or replace function _pymem.scored_ids(p_ids uuid[], p_scores double precision[])
    returns table (id uuid, score double precision, n bigint)
    language sql immutable security invoker parallel safe rows 500
    set search_path = pg_catalog, pg_temp
as $$ select u.id, u.score, u.n from unnest(p_ids, p_scores) with ordinality u(id, score, n) $$;
comment on function _pymem.scored_ids(uuid[], double precision[]) is
    'Rows (id, score, position) from parallel arrays, for pymem.retrieve. Internal.';

-- The filters retrieve and list_memories accept, or 22023 naming what is wrong.
create or replace function _pymem.check_filters(p_filters jsonb) returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_unknown text;
begin
    if jsonb_typeof(p_filters) is distinct from 'object' then
        raise exception 'pymem: filters must be a JSON object' using errcode = '22023';
    end if;
    perform _pymem.check_json('filters', p_filters, 16, 16384);
    select string_agg(k, ', ') into v_unknown from jsonb_object_keys(p_filters) k
    where k not in ('session_id', 'agent_id', 'metadata', 'observed_after', 'observed_before', 'recorded_before',
                    'store_items');
    if v_unknown is not null then
        raise exception 'pymem: unknown filter(s): %', v_unknown using errcode = '22023',
            hint = 'Filters: session_id, agent_id, metadata (JSON containment), observed_after, observed_before, '
                   'recorded_before, store_items (true: include key-value store items).';
    end if;
    if p_filters ? 'store_items' and jsonb_typeof(p_filters->'store_items') <> 'boolean' then
        raise exception 'pymem: filters.store_items must be true or false' using errcode = '22023';
    end if;
    if p_filters ? 'metadata' and jsonb_typeof(p_filters->'metadata') <> 'object' then
        raise exception 'pymem: filters.metadata must be a JSON object' using errcode = '22023';
    end if;
    if exists (select from jsonb_each(p_filters) f
               where f.key in ('session_id', 'agent_id', 'observed_after', 'observed_before', 'recorded_before')
                 and jsonb_typeof(f.value) <> 'string') then
        raise exception 'pymem: filters session_id, agent_id, observed_after, observed_before and recorded_before '
            'are strings' using errcode = '22023';
    end if;
end
$$;

-- What a user may see, as SQL over a row m: current memories, or those valid at $6; only
-- the filters given become conditions (a shorter query plans faster). Built from constants:
-- the values travel as parameters ($1 user, $4 kinds, $5 filters, $6 as_of).
create or replace function _pymem.visible_predicate(p_as_of boolean, p_kinds boolean, p_filters jsonb)
    returns text
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    -- as_of reads the conversation's own timeline (when things were said: valid_from/valid_to
    -- come from observed_at), so a conversation imported with its real dates can be asked
    -- about as of a day in its middle; recorded_before (a filter) reads the store's timeline
    -- (what had been stored by then).
    select case when p_as_of
                then 'm.user_id = $1 and m.status <> ''forgotten''
                      and m.valid_from <= $6 and (m.valid_to is null or m.valid_to > $6)'
                else 'm.user_id = $1 and m.status = ''active''' end
        || case when p_kinds then ' and m.kind = any($4)' else '' end
        || case when p_filters ? 'session_id' then ' and m.session_id = $5->>''session_id''' else '' end
        || case when p_filters ? 'agent_id' then ' and m.agent_id = $5->>''agent_id''' else '' end
        || case when p_filters ? 'metadata' then ' and m.metadata @> ($5->''metadata'')' else '' end
        || case when p_filters ? 'observed_after'
                then ' and m.observed_at >= ($5->>''observed_after'')::timestamptz' else '' end
        || case when p_filters ? 'observed_before'
                then ' and m.observed_at < ($5->>''observed_before'')::timestamptz' else '' end
        || case when p_filters ? 'recorded_before'
                then ' and m.created_at < ($5->>''recorded_before'')::timestamptz' else '' end
        -- Items of an application's key-value store (PymemStore: metadata key "langgraph") are
        -- not conversational memory: left out unless store_items is true or the metadata
        -- filter asks for them.
        || case when p_filters->'store_items' = 'true' or (p_filters->'metadata') ? 'langgraph' then ''
                else ' and not (m.metadata ? ''langgraph'')' end
$$;

-- Lexical search. pg_textsearch 1.0.0's bm25 index, which this replaced, lost
-- everything after a clean restart, what was written since the last checkpoint after a
-- crash, and was empty on a standby and after a point-in-time recovery (its memtable and
-- corpus statistics are not WAL-logged). Everything here is plain tables and a GIN index,
-- written in the same transaction as the memory, so WAL carries it to every recovery and
-- replica (tests/integration/test_lexical_durability.py proves each case).
--
--   memories.lexemes  to_tsvector(tenant's text_config, content), set by the trigger below
--                     on insert and on any change of content or lexemes
--   _pymem.lexical_stats (tenant_id, user_id): documents (memories of any status) and
--                     lexemes (their distinct lexemes, summed), kept by a second trigger;
--                     the row goes with the user's last memory
--
-- BM25 per user (retrieval is per user: a word common in one user's memories says little
-- there, whatever other users say):
--   score(d) = sum over query lexemes t in d of
--              idf(t) * (k1 + 1) / (1 + k1 * (1 - b + b * |d| / avg|d|))
--   idf(t)   = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
-- N and avg|d| come from lexical_stats, df(t) from the user's visible rows that match (read
-- anyway to score them), |d| is the number of distinct lexemes of d, and a lexeme counts
-- once per memory (memories are a sentence or two: a repeated word is rare, and reading
-- positions costs 3x: 81 ms against 30 ms to score 4,000 rows). k1, b: bm25_k1, bm25_b.

-- Sets memories.lexemes from content with the tenant's text_config.
create or replace function _pymem.set_memory_lexemes() returns trigger
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    new.lexemes := to_tsvector((select _pymem.settings(t)->>'text_config' from _pymem.tenants t
                                where t.tenant_id = new.tenant_id)::regconfig, new.content);
    return new;
end
$$;
comment on function _pymem.set_memory_lexemes() is
    'Trigger: memories.lexemes = to_tsvector(the tenant''s text_config, content). Internal.';

-- Keeps _pymem.lexical_stats in step with the user's memories. SECURITY DEFINER: tenants
-- hold no privilege on the table (it would tell them nothing new, but it needs no grant).
create or replace function _pymem.count_memory_lexemes() returns trigger
    language plpgsql volatile security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_left bigint;
begin
    if tg_op in ('UPDATE', 'DELETE') then
        update _pymem.lexical_stats s
           set documents = s.documents - 1, lexemes = greatest(0, s.lexemes - coalesce(length(old.lexemes), 0))
         where s.tenant_id = old.tenant_id and s.user_id = old.user_id
        returning s.documents into v_left;
        if v_left = 0 then  -- nothing of an erased user stays behind
            delete from _pymem.lexical_stats s where s.tenant_id = old.tenant_id and s.user_id = old.user_id;
        end if;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        insert into _pymem.lexical_stats as s (tenant_id, user_id, documents, lexemes)
        values (new.tenant_id, new.user_id, 1, coalesce(length(new.lexemes), 0))
        on conflict (tenant_id, user_id)
        do update set documents = s.documents + 1, lexemes = s.lexemes + excluded.lexemes;
    end if;
    return null;
end
$$;
comment on function _pymem.count_memory_lexemes() is
    'Trigger: keeps _pymem.lexical_stats (memories and lexemes per user) for BM25. Internal.';

-- The triggers, once (they cascade to every partition, present and future). An update that
-- leaves content, lexemes and user alone (status, mentions, decay) runs neither function:
-- BEFORE ... OF lists the columns, the AFTER trigger's WHEN compares in C.
do $$
begin
    if not exists (select from pg_trigger where tgrelid = '_pymem.memories'::regclass
                                            and tgname = 'memories_lexemes' and tgparentid = 0) then
        create trigger memories_lexemes before insert or update of content, lexemes on _pymem.memories
            for each row execute function _pymem.set_memory_lexemes();
    end if;
    if not exists (select from pg_trigger where tgrelid = '_pymem.memories'::regclass
                                            and tgname = 'memories_lexical_stats_write' and tgparentid = 0) then
        create trigger memories_lexical_stats_write after insert or delete on _pymem.memories
            for each row execute function _pymem.count_memory_lexemes();
        create trigger memories_lexical_stats_update after update on _pymem.memories
            for each row
            when (old.lexemes is distinct from new.lexemes or old.user_id is distinct from new.user_id)
            execute function _pymem.count_memory_lexemes();
    end if;
end
$$;

-- The BM25 corpus figures of the acting tenant's user, as lexical_hits reads them: documents
-- (memories of any status: never fewer than the user's visible ones, so retrieve also takes
-- it as a bound of the user's rows) and the average number of distinct lexemes per memory.
-- SECURITY DEFINER for the same reason as lexical_hits.
create or replace function _pymem.lexical_corpus(p_user_id text, out documents double precision,
                                                 out average_length double precision)
    language plpgsql stable security definer  -- plpgsql: acting_tenant comes later (085_privacy.sql)
    set search_path = pg_catalog, pg_temp
as $$
begin
    select coalesce(s.documents, 0)::float8, greatest(coalesce(s.lexemes::float8 / nullif(s.documents, 0), 1), 1)
      into documents, average_length
    from (select (_pymem.acting_tenant()).tenant_id) t
    left join _pymem.lexical_stats s on s.tenant_id = t.tenant_id and s.user_id = p_user_id;
end
$$;
comment on function _pymem.lexical_corpus(text) is
    'BM25''s memory count and average distinct lexemes for the acting tenant''s user (pymem.retrieve). '
    'Internal; tenant roles (through retrieve).';

-- The lexical candidates of retrieve: BM25 (above) over the acting tenant's user's visible
-- rows that hold a query lexeme, the best p_limit (ids and scores, best first). p_big (a user
-- past exact_scan_max_rows): scoring every row that holds a common word took 124 ms p50 /
-- 221 ms p95 for the 50,000-memory user of pymem bench retrieval, so (MaxScore's idea: a
-- row holding only common words cannot reach the top) rows are read for the rarest query
-- lexemes only, as many as together make about p_limit rows by ANALYZE's lexeme
-- frequencies of the partition (the rarest always; at most 2 x p_limit rows read), and
-- scored on every query lexeme, the others' document frequency taken from that estimate.
-- SECURITY DEFINER, naming only the acting tenant's partition and filtering on its tenant
-- id: under row security the planner may not use the GIN index (@@ is not leakproof; a
-- tenant's query read all 50,000 rows), and pg_stats shows a tenant nothing of its table.
-- Lexemes and filters travel as parameters; only constants are spliced.
create or replace function _pymem.lexical_hits(p_user_id text, p_lexemes text[], p_kinds text[], p_filters jsonb,
                                               p_as_of timestamptz, p_big boolean, p_k1 double precision,
                                               p_b double precision, p_limit integer,
                                               out ids uuid[], out scores double precision[])
    language plpgsql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant    _pymem.tenants := _pymem.acting_tenant();
    v_partition text := format('_pymem.%I', 'memories_' || v_tenant.storage_suffix);
    v_filters   jsonb := coalesce(p_filters, '{}');
    v_limit     integer := least(greatest(coalesce(p_limit, 1), 1), 100000);
    v_read      tsquery;
    v_estimates double precision[];
    v_elems     text[];
    v_freqs     real[];
    v_rows      real;
    v_stats     record;
begin
    ids := '{}';
    scores := '{}';
    perform _pymem.check_id('user_id', p_user_id);
    perform _pymem.check_filters(v_filters);
    if coalesce(cardinality(p_lexemes), 0) = 0 then
        return;
    end if;
    if cardinality(p_lexemes) > 1000 or p_k1 is null or p_k1 not between 0 and 10 or p_b is null
       or p_b not between 0 and 1 then
        raise exception 'pymem: invalid lexical search arguments' using errcode = '22023';
    end if;
    select to_tsquery('simple', string_agg(quote_literal(l), ' | ')) into v_read from unnest(p_lexemes) l;
    v_estimates := array_fill(0::float8, array[cardinality(p_lexemes)]);
    if p_big then
        -- pg_stats once per call: its anyarray parsed per lexeme cost 1.5 ms a lexeme
        select st.most_common_elems::text::text[], st.most_common_elem_freqs into v_elems, v_freqs
        from pg_stats st
        where st.schemaname = '_pymem' and st.tablename = 'memories_' || v_tenant.storage_suffix
          and st.attname = 'lexemes';
        select greatest(c.reltuples, 0) into v_rows from pg_class c where c.oid = v_partition::regclass;
        v_estimates := array(select coalesce(v_freqs[array_position(v_elems, l.lexeme)], 0)::float8 * v_rows
                             from unnest(p_lexemes) with ordinality l(lexeme, n) order by l.n);
        select to_tsquery('simple', string_agg(quote_literal(c.lexeme), ' | ')) into v_read
        from (select t.lexeme, sum(t.estimate) over (order by t.estimate, t.lexeme) as running,
                     row_number() over (order by t.estimate, t.lexeme) as n
              from unnest(p_lexemes, v_estimates) t(lexeme, estimate)) c
        where c.n = 1 or c.running <= v_limit;
    end if;
    select s.documents, s.lexemes into v_stats from _pymem.lexical_stats s
    where s.tenant_id = v_tenant.tenant_id and s.user_id = p_user_id;
    execute format($x$
        with terms as materialized (
            select t.lexeme, to_tsquery('simple', quote_literal(t.lexeme)) as tq, t.estimate
            from unnest($8::text[], $12::float8[]) t(lexeme, estimate)),
        -- planned for all its rows (a LIMIT here lets the planner walk the user's rows in key
        -- order), read only as far as docs asks
        matching as materialized (
            select m.id, m.lexemes, length(m.lexemes)::float8 as len
            from %1$s m where m.tenant_id = $13 and %2$s and m.lexemes @@ $7),
        docs as materialized (select * from matching limit $11),
        hits as materialized (select d.id, d.len, t.lexeme, t.estimate from docs d join terms t on d.lexemes @@ t.tq),
        -- materialized: as a subquery the count was the inner side of a nested loop and
        -- counted docs again for every hit (409 hits: 170,000 rows read, 46 ms)
        n as materialized (select count(*)::float8 as docs from docs),
        df as (select h.lexeme, greatest(count(*)::float8, max(h.estimate)) as df from hits h group by h.lexeme),
        scored as (
            select h.id, sum(ln(1 + (greatest($9, n.docs) - df.df + 0.5) / (df.df + 0.5))
                             * ($14 + 1) / (1 + $14 * (1 - $15 + $15 * h.len / $10))) as score
            from hits h join df on df.lexeme = h.lexeme cross join n
            group by h.id
            order by score desc, h.id limit %3$s)
        select coalesce(array_agg(s.id order by s.score desc, s.id), '{}'),
               coalesce(array_agg(s.score order by s.score desc, s.id), '{}')
        from scored s$x$,
        v_partition, _pymem.visible_predicate(p_as_of is not null, p_kinds is not null, v_filters), v_limit)
    into ids, scores
    using p_user_id, null::text, null::vector, p_kinds, v_filters, p_as_of, v_read, p_lexemes,
          coalesce(v_stats.documents, 0)::float8,
          greatest(coalesce(v_stats.lexemes::float8 / nullif(v_stats.documents, 0), 1), 1),
          case when p_big then 2 * v_limit end, v_estimates, v_tenant.tenant_id, p_k1, p_b;
end
$$;
comment on function _pymem.lexical_hits(text, text[], text[], jsonb, timestamptz, boolean, double precision,
                                        double precision, integer) is
    'BM25 candidates of pymem.retrieve among the acting tenant''s user''s visible memories (ids and scores, '
    'best first). Internal; tenant roles (through retrieve).';

-- pg_textsearch's reader, gone with its index.
drop function if exists _pymem.bm25_hits(text, text, text[], jsonb, timestamptz, integer, integer, integer);

-- Before 0.2 retrieve had eight parameters and fewer result columns; CREATE OR REPLACE can
-- change neither, so the old signature goes first (a no-op once it is gone).
drop function if exists pymem.retrieve(text, text, vector, integer, integer, text[], jsonb, timestamptz);
-- Its rows once had no earlier_than column.
do $$
begin
    if exists (select from pg_proc p
               where p.oid = to_regprocedure('pymem.retrieve(text, text, vector, integer, integer, text[], jsonb, timestamptz, jsonb)')
                 and not 'earlier_than' = any(p.proargnames)) then
        drop function pymem.retrieve(text, text, vector, integer, integer, text[], jsonb, timestamptz, jsonb);
    end if;
end
$$;

create or replace function pymem.retrieve(
    p_user_id         text,
    p_query           text,
    p_query_embedding vector default null,
    p_top_k           integer default 10,
    p_token_budget    integer default null,
    p_kinds           text[] default null,
    p_filters         jsonb default null,
    p_as_of           timestamptz default null,
    p_options         jsonb default null)
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
        token_count   integer,
        context_score double precision,
        earlier_than  uuid)
    -- volatile: it PREPAREs its main statement (see the end of the body)
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
    set hnsw.iterative_scan = relaxed_order
    set hnsw.ef_search = 120  -- set per call below; the clause restores the caller's on return
    set plan_cache_mode = force_generic_plan  -- for the prepared main statement (see below)
as $$
declare
    v_tenant    _pymem.tenants := _pymem.require_tenant();
    v_settings  jsonb;
    v_partition text := format('_pymem.%I', 'memories_' || v_tenant.storage_suffix);
    v_filters   jsonb := coalesce(p_filters, '{}');
    v_query     text := coalesce(btrim(p_query), '');
    v_tsquery   tsquery;
    v_pool      integer;
    v_exact_max integer;
    v_rows      integer;
    v_tenant_rows real;
    v_documents double precision;
    v_average_length double precision;
    v_lexical   text;
    v_lex_best  text;
    v_window    integer;
    v_current   text;
    v_context   double precision[];
    v_session_w double precision;
    v_exact     boolean;
    v_visible   text;
    v_head      text;
    v_fetch     text;
    v_distance  text;
    v_components text;
    v_weighted  text;
    v_anchors   integer;
    v_terms     text[];
    v_lex_ids   uuid[] := '{}';
    v_lex_raw   double precision[] := '{}';
    v_vec_ids   uuid[] := '{}';
    v_graph_ids uuid[] := '{}';
    v_graph_raw double precision[] := '{}';
    v_sql       text;
    v_statement text;
    v_execute   text;
    v_keep      text;
    v_old       text;
    v_planner   text[];
    v_links     text;
    v_base      text;
    -- Stage timings for `pymem bench retrieval --profile`: with pymem.profile_retrieve = on
    -- the call ends with a NOTICE 'pymem.retrieve profile {...}' (ms per stage, the caller's
    -- own call only). Off, the cost is one setting read.
    v_profile   boolean := coalesce(current_setting('pymem.profile_retrieve', true), '') = 'on';
    v_started   timestamptz := clock_timestamp();
    v_ends      jsonb := '{}';  -- stage -> when it ended
    v_reused    boolean;
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
    if p_kinds is not null then
        perform _pymem.check_kind('each of kinds', k) from unnest(p_kinds) k;
    end if;
    perform _pymem.check_filters(v_filters);
    perform _pymem.check_time('as_of', p_as_of);
    perform _pymem.check_settings(p_options, true);

    v_settings := _pymem.settings(v_tenant) || coalesce(p_options, '{}');
    v_pool := greatest((v_settings->>'candidate_pool')::numeric::int, p_top_k);
    v_exact_max := (v_settings->>'exact_scan_max_rows')::numeric::int;
    select coalesce(array_agg(w::float8 order by o), '{}') into v_context
    from jsonb_array_elements_text(v_settings->'context_weights') with ordinality e(w, o);
    v_session_w := (v_settings->>'context_session_weight')::float8;
    perform set_config('hnsw.ef_search', greatest((v_settings->>'hnsw_ef_search')::numeric::int, v_pool)::text, true);
    if v_profile then v_ends := v_ends || jsonb_build_object('setup', clock_timestamp()); end if;

    -- What the user may see: current memories, or those valid at p_as_of; only the filters
    -- given become conditions (a shorter query plans faster).
    -- $1 user  $2 query text  $3 query embedding  $4 kinds  $5 filters  $6 as_of
    -- $7 token budget  $8 context weights  $9 tsquery (any query word)  $10 tenant id
    -- $11 lexical hit ids, $12 their raw scores (best first)  $13 HNSW hit ids
    -- $14 graph hit ids, $15 their graph scores  $16 the query's lexemes  $17 the user's
    -- memories of any status, $18 their average distinct lexemes (BM25 on the exact path)
    v_visible := _pymem.visible_predicate(p_as_of is not null, p_kinds is not null, v_filters);

    -- 1. Which path: exact for users with few rows, HNSW past exact_scan_max_rows. A
    -- partition that holds no more rows than that (by its statistics) needs no count, nor
    -- does a user whose memories of any status (BM25's document count, kept by a trigger)
    -- are no more than that (a user of 500 turns in a tenant of 5,000: the count read 500
    -- rows, 1.3 ms of CPU); else the user's visible rows are counted, stopping there.
    select c.documents, c.average_length into v_documents, v_average_length from _pymem.lexical_corpus(p_user_id) c;
    select c.reltuples into v_tenant_rows from pg_class c where c.oid = v_partition::regclass;
    if v_tenant_rows between 0 and v_exact_max then
        v_rows := null;
    elsif v_documents <= v_exact_max then
        v_rows := v_documents::int;  -- a bound: the visible rows are no more
    elsif p_as_of is null and p_kinds is null and v_filters = '{}' then
        -- No filter narrows the user's rows: their active rows are a bound too (store items
        -- among them), and they are the documents less the rows of any other status. Those
        -- are few as a rule, and counted from the (tenant, user, status) index alone, only as
        -- far as decides (documents - exact_scan_max_rows of them leave no more than that
        -- many active). Counting the visible rows read the rows themselves: 5.5 ms p50 for a
        -- user of 5,000 turns (the planner read the whole partition through its primary
        -- key). A user whose store items alone lift them past exact_scan_max_rows takes the
        -- HNSW path.
        execute format('select count(*) from (
                            select 1 from %1$s m where m.tenant_id = $2 and m.user_id = $1 and m.status < ''active''
                            union all
                            select 1 from %1$s m where m.tenant_id = $2 and m.user_id = $1 and m.status > ''active''
                            limit $3) s', v_partition)
            into v_rows using p_user_id, v_tenant.tenant_id, (v_documents - v_exact_max)::bigint;
        v_rows := (v_documents - v_rows)::int;
    else
        execute format('select count(*) from (select 1 from %s m where %s limit %s) s',
                       v_partition, v_visible, v_exact_max + 1)
            into v_rows using p_user_id, v_query, p_query_embedding, p_kinds, v_filters, p_as_of;
    end if;
    v_exact := p_query_embedding is null or v_rows is null or v_rows <= v_exact_max;
    if v_profile then v_ends := v_ends || jsonb_build_object('count', clock_timestamp()); end if;

    -- Lexical candidates: BM25 (above _pymem.set_memory_lexemes) over every visible row of
    -- the user that holds a query word (a big user: see below), the best lexical_scan_limit
    -- kept with their scores (best first). On the HNSW path a statement of its own
    -- (lexical_hits): the rows matching are read once, through the GIN index or the user's
    -- rows, whichever the planner finds cheaper, and scored there. On the exact path the main
    -- statement scores the rows it reads anyway (v_lexical below): the same formula, summed
    -- in the same order (by lexeme), without a second read of the matching rows, a
    -- statement planned per call and the hits sent back to it as literals (5.6 ms of CPU
    -- for a LoCoMo question over 500 turns, most of them matching a speaker's name).
    select coalesce(array_agg(l order by l), '{}') into v_terms
    from unnest(tsvector_to_array(to_tsvector((v_settings->>'text_config')::regconfig, v_query))) l;
    if cardinality(v_terms) > 0 and v_rows is distinct from 0 then
        -- Any query word may match (websearch_to_tsquery would demand all of them).
        select to_tsquery('simple', string_agg(quote_literal(l), ' | ')) into v_tsquery from unnest(v_terms) l;
    end if;
    if cardinality(v_terms) > 0 and v_rows is distinct from 0 and not v_exact then
        select h.ids, h.scores into v_lex_ids, v_lex_raw
        from _pymem.lexical_hits(p_user_id, v_terms, p_kinds, v_filters, p_as_of, not v_exact,
                                 (v_settings->>'bm25_k1')::float8, (v_settings->>'bm25_b')::float8,
                                 (v_settings->>'lexical_scan_limit')::numeric::int) h;
    end if;

    if v_profile then v_ends := v_ends || jsonb_build_object('lexical', clock_timestamp()); end if;

    -- Graph candidates, a statement of their own (weight_graph 0: the graph adds no
    -- candidates either).
    if (v_settings->>'weight_graph')::float8 > 0 and v_rows is distinct from 0 then
        select coalesce(array_agg(g.memory_id order by g.graph_score desc, g.memory_id desc), '{}'),
               coalesce(array_agg(g.graph_score order by g.graph_score desc, g.memory_id desc), '{}')
          into v_graph_ids, v_graph_raw
        from _pymem.graph_scores(v_tenant.tenant_id, p_user_id, v_query, v_pool) g;
    end if;
    if v_profile then v_ends := v_ends || jsonb_build_object('graph', clock_timestamp()); end if;

    -- 2. Where candidate rows come from:
    --   exact  user_rows: every visible row of the user, read once (narrow columns and the
    --          distance to the query); vector hits, turn positions and candidate rows all come
    --          from it. Materialized, which also keeps the HNSW index out (it would filter
    --          after the fact and lose rows).
    --   hnsw   the index for the vector hits; neighbours through the episode-order index
    --          (a few probes per anchor turn); candidate rows by primary key.
    -- Context: the context_anchors best pool turns (by the weighted score) bring the turns up
    -- to cardinality(context_weights) positions before and after them in their session.
    v_anchors := case when cardinality(v_context) > 0 then (v_settings->>'context_anchors')::numeric::int else 0 end;
    if v_exact then
        v_head := format($h$
        user_rows as materialized (
            select m.id, m.kind, m.session_id, m.observed_at, m.created_at, m.importance, m.token_count, m.superseded_by,
                   case when $3 is null or m.embedding is null then null::float8
                        else (m.embedding <=> $3)::float8 end as distance,
                   case when m.lexemes @@ $9 then m.lexemes end as lexemes  -- $9: any query word
            from %1$s m where %2$s),
        vector_hits as (
            select r.id from user_rows r where r.distance is not null order by r.distance, r.id limit %3$s),$h$,
            v_partition, v_visible, v_pool);
        -- BM25 as _pymem.lexical_hits computes it ($16 the query's lexemes, $17 the user's
        -- memories, $18 their average distinct lexemes), over the visible rows read above.
        v_lexical := format($x$
        lexical_terms as materialized (
            select t.lexeme, to_tsquery('simple', quote_literal(t.lexeme)) as tq from unnest($16::text[]) t(lexeme)),
        lexical_docs as materialized (
            select r.id, r.lexemes, length(r.lexemes)::float8 as len from user_rows r where r.lexemes is not null),
        lexical_term_hits as materialized (
            select d.id, d.len, t.lexeme from lexical_docs d join lexical_terms t on d.lexemes @@ t.tq),
        lexical_df as (select h.lexeme, count(*)::float8 as df from lexical_term_hits h group by h.lexeme),
        lexical_all as materialized (
            select s.id, s.lex, row_number() over (order by s.lex desc, s.id) as n
            from (select h.id,
                         sum(ln(1 + (greatest($17, c.docs) - df.df + 0.5) / (df.df + 0.5))
                             * (%1$L::float8 + 1) / (1 + %1$L::float8 * (1 - %2$L::float8 + %2$L::float8 * h.len / $18))
                             order by h.lexeme) as lex
                  from lexical_term_hits h
                  join lexical_df df on df.lexeme = h.lexeme
                  cross join (select count(*)::float8 as docs from lexical_docs) c
                  group by h.id) s
            order by s.lex desc, s.id limit %3$s),$x$,
            v_settings->>'bm25_k1', v_settings->>'bm25_b',
            least(greatest((v_settings->>'lexical_scan_limit')::numeric::int, 1), 100000));
        v_lex_best := '(select max(b.lex) from lexical_all b)';
        v_links := format($l$
            with turns as materialized (  -- of the anchors' sessions only: positions count within one
                select r.id, r.session_id,
                       row_number() over (partition by r.session_id order by r.observed_at, r.id) as pos
                from user_rows r where r.kind = 'episode' and r.session_id in (select a.session_id from anchors a)),
            anchor_turns as materialized (select t.id, t.session_id, t.pos from anchors a join turns t on t.id = a.id)
            select a.id as a, t.id as b, abs(d.offs) as distance
            from anchor_turns a
            cross join (select o from generate_series(-%1$s, %1$s) o where o <> 0) d(offs)
            join turns t on t.session_id = a.session_id and t.pos = a.pos + d.offs$l$,
            cardinality(v_context));
        v_fetch := 'select m.* from %s c join user_rows m on m.id = c.id';
        v_distance := 'm.distance';
    else
        -- The HNSW scan runs as a statement of its own, with the planner left no other way
        -- (a user this big must not get a sort of all their rows); the main statement then
        -- has no plan-sensitive part and can be prepared once per session.
        if p_query_embedding is not null then
            v_planner := array[current_setting('enable_seqscan'), current_setting('enable_bitmapscan'),
                               current_setting('enable_sort')];
            perform set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
                    set_config('enable_sort', 'off', true);
            execute format('select coalesce(array_agg(h.id), ''{}'')
                            from (select m.id from %1$s m
                                  where %2$s and m.embedding is not null
                                  order by m.embedding <=> $3 limit %3$s) h',
                           v_partition, v_visible, v_pool)
                into v_vec_ids
                using p_user_id, v_query, p_query_embedding, p_kinds, v_filters, p_as_of;
            perform set_config('enable_seqscan', v_planner[1], true), set_config('enable_bitmapscan', v_planner[2], true),
                    set_config('enable_sort', v_planner[3], true);
        end if;
        v_head := 'vector_hits as (select h.id from unnest($13::uuid[]) h(id)),';
        v_lexical := '
        lexical_all as materialized (select l.id, l.score as lex, l.n from _pymem.scored_ids($11, $12) l),';
        v_lex_best := '$12[1]';
        v_links := format($l$
            select a.id as a, n.id as b, n.distance
            from anchors a
            cross join lateral (
                (select x.id, (row_number() over (order by x.observed_at desc, x.id desc))::int as distance
                 from (select m.id, m.observed_at from %1$s m
                       where m.tenant_id = $10 and m.kind = 'episode' and m.session_id = a.session_id
                         and (m.observed_at, m.id) < (a.observed_at, a.id) and %2$s
                       order by m.observed_at desc, m.id desc limit %3$s) x)
                union all
                (select x.id, (row_number() over (order by x.observed_at, x.id))::int as distance
                 from (select m.id, m.observed_at from %1$s m
                       where m.tenant_id = $10 and m.kind = 'episode' and m.session_id = a.session_id
                         and (m.observed_at, m.id) > (a.observed_at, a.id) and %2$s
                       order by m.observed_at, m.id limit %3$s) x)
            ) n$l$, v_partition, v_visible, cardinality(v_context));
        -- One primary-key probe per candidate, spelled out: with a cached generic plan the
        -- planner may otherwise hash all of a big user's rows to join a hundred candidates.
        v_fetch := format('select m.* from %%s c cross join lateral (
                               select m.* from %1$s m where m.tenant_id = $10 and m.id = c.id and %2$s offset 0) m',
                          v_partition, v_visible);
        v_distance := 'case when $3 is null or m.embedding is null then null::float8 else (m.embedding <=> $3)::float8 end';
    end if;

    if v_profile then v_ends := v_ends || jsonb_build_object('vector', clock_timestamp()); end if;

    -- 3. Every component of a candidate (lexical divided by the best lexical match, which is
    -- always among the candidates), and the base score.
    v_components := format($c$
            select m.id, m.kind, m.session_id, m.observed_at, m.created_at, m.token_count,
                   -- a raw turn whose extracted memory was replaced (not asked as of a past moment)
                   case when m.kind = 'episode' and $6 is null then m.superseded_by end as replaced_by,
                   coalesce(greatest(0::float8, 1 - %1$s), 0::float8) as vector_score,
                   coalesce(l.lex / nullif(%5$s, 0), 0::float8) as lexical_score,
                   coalesce(g.graph_score, 0::float8) as graph_score,
                   greatest(%2$L::float8,
                            power(0.5::float8, greatest(0::float8,
                                  extract(epoch from (coalesce($6, now()) - m.observed_at))::float8 / 86400.0)
                                  / %3$L::float8))
                     * (0.5 + 0.5 * m.importance) as recency_score
            from (%4$s) m
            left join lexical_all l on l.id = m.id
            left join graph_hits g on g.id = m.id$c$,
        v_distance, v_settings->>'decay_floor', v_settings->>'decay_half_life_days', v_fetch, v_lex_best);
    v_weighted := format('%1$L::float8 * n.vector_score + %2$L::float8 * n.lexical_score
                          + %3$L::float8 * n.recency_score + %4$L::float8 * n.graph_score',
                         v_settings->>'weight_vector', v_settings->>'weight_lexical', v_settings->>'weight_temporal',
                         v_settings->>'weight_graph');
    v_base := case when v_settings->>'fusion' = 'rrf'
        then format('  %1$L::float8 * case when n.vector_score > 0 then 1 / (%5$L::float8 + rank() over (order by n.vector_score desc)) else 0 end
                     + %2$L::float8 * case when n.lexical_score > 0 then 1 / (%5$L::float8 + rank() over (order by n.lexical_score desc)) else 0 end
                     + %3$L::float8 * case when n.recency_score > 0 then 1 / (%5$L::float8 + rank() over (order by n.recency_score desc)) else 0 end
                     + %4$L::float8 * case when n.graph_score > 0 then 1 / (%5$L::float8 + rank() over (order by n.graph_score desc)) else 0 end',
                    v_settings->>'weight_vector', v_settings->>'weight_lexical', v_settings->>'weight_temporal',
                    v_settings->>'weight_graph', v_settings->>'rrf_k')
        else v_weighted
    end;

    -- The current value first, for a query about now (_pymem.asks_about_now): the window's
    -- CTEs, else two empty ones (no window: nothing is lifted or marked earlier; left out,
    -- not run empty, the main statement costs 0.9 ms less CPU to start and run).
    v_window := case when _pymem.asks_about_now(v_query)
                     then (v_settings->>'currentness_window')::numeric::int else 0 end;
    if v_window > 0 then
        v_current := format($w$
        -- The current value first (a query about now; currentness_window rows, else none):
        -- among the window's best, a statement that announces a change (a change cue the
        -- learned change head does not veto, or the head alone: _pymem.announces_change,
        -- 019_change_reading.sql) ranks above every older one about the same thing (cosine at
        -- least currentness_similarity) that outranked it, and so does a plain statement about
        -- now that restates it (at least currentness_restatement_similarity close), the newest
        -- highest; those stay in the answer, marked earlier_than it. A memory read from
        -- a turn also ranks above that turn (the turn may name the old value beside the new).
        window_rows as materialized (
            select w.*, m.kind, m.content, m.source, m.embedding,
                   -- a memory read from a turn is compared through that turn too: "User is on
                   -- page 200" reads unlike "so I'm up to page 220", the turn it came from does not
                   coalesce(t.embedding, m.embedding) as said,
                   case when $3 is not null and m.embedding is not null
                        then greatest(0::float8, 1 - (m.embedding <=> $3)::float8) end as asked
            from (select s.* from settled_scores s order by s.score desc, s.created_at desc, s.id desc limit %2$s) w
            cross join lateral (select m.kind, m.content, m.source, m.embedding from %1$s m
                                where m.tenant_id = $10 and m.id = w.id offset 0) m
            -- (the tenant's own partition: read through the parent, the plan would lock every
            -- tenant's; a turn is matched as text)
            left join lateral (
                select t.embedding from _pymem.episodes e
                join %1$s t on t.tenant_id = $10 and t.id = any(e.memory_ids)
                where m.kind <> 'episode' and e.tenant_id = $10 and e.id = _pymem.source_episode(m.source)
                  and (t.source->>'turn_index' = m.source->'turns'->>0 or t.source->>'turn_id' = m.source->'turns'->>0)
                order by t.id limit 1) t on true
        ),
        changes as materialized (
            select c.*, row_number() over (order by c.observed_at, c.created_at, c.id) as nth
            from (select w.*, _pymem.announces_change(w.content, w.embedding) as announced
                  from window_rows w
                  where w.content !~ '[?][[:space:]"'')]*$') c  -- a question states no value
            -- a plain statement about now (no past cue: "our previous conclusion X was wrong"
            -- restates X only to take it back)
            where c.announced or not _pymem.says(c.content, 'past')
        ),
        outranked as (
            select a.id as older, a.score, b.id as newer, b.nth, a.observed_at < b.observed_at as earlier
            from changes b
            join window_rows a on a.score >= b.score and a.id <> b.id
             -- about the same thing: a change at least currentness_similarity close, a plain
             -- restatement at least currentness_restatement_similarity; a newer statement
             -- about something else stays where it is
             and greatest(1 - (a.embedding <=> b.embedding), 1 - (a.said <=> b.said))
                 >= case when b.announced then %3$L::float8 else %4$L::float8 end
             -- a plain restatement must answer the question too: at least half as close to the
             -- query as the result it outranks ("Alice commutes by train" reads like "Alice is
             -- allergic to dogs", but not like "which pets make her sneeze?"); without a query
             -- embedding, none
             and (b.announced or b.asked >= 0.5 * a.asked)
             and (a.observed_at < b.observed_at
                  or (a.kind = 'episode' and b.kind <> 'episode' and b.source->>'episode_id' = a.source->>'episode_id'
                      and b.source->'turns' @> jsonb_build_array(a.source->'turn_index')))
        ),
        lifted as (
            select o.newer as id, max(o.score) + 1e-9 * o.nth as score from outranked o group by o.newer, o.nth
        ),
        earlier as (
            select distinct on (o.older) o.older as id, o.newer from outranked o where o.earlier
            order by o.older, o.nth desc
        ),$w$, v_partition, v_window, v_settings->>'currentness_similarity',
               coalesce(v_settings->>'currentness_restatement_similarity', '1'));
    else
        v_current := '
        lifted as (select null::uuid as id, null::float8 as score where false),
        earlier as (select null::uuid as id, null::uuid as newer where false),';
    end if;

    -- 4. Context, final score, order, cut. Intermediate rows stay narrow (ids and numbers);
    -- content, metadata and source are fetched for the final top_k only.
    v_sql := format($q$
        with %1$s%17$s
        lexical_hits as (select l.id from lexical_all l where l.n <= %2$s),
        graph_hits as materialized (
            select g.id, g.score as graph_score from _pymem.scored_ids($14, $15) g),
        pool as materialized (
            select v.id from vector_hits v
            union select l.id from lexical_hits l
            union select g.id from graph_hits g),
        pool_scored as materialized (%3$s),
        anchors as materialized (
            select n.id, n.session_id, n.observed_at from pool_scored n
            where n.kind = 'episode' and n.session_id is not null
            order by %4$s desc, n.id limit %5$s),
        links as materialized (%6$s),
        extra as (select distinct l.b as id from links l where not exists (select from pool p where p.id = l.b)),
        extra_scored as materialized (%7$s),
        based as materialized (
            select n.*, (%8$s)::float8 * case when n.replaced_by is not null then %12$L::float8 else 1 end as base
            from (select * from pool_scored union all select * from extra_scored) n
        ),
        neighbour_context as (
            select d.a as id, sum($8[d.distance] * d.best) as context
            from (select l.a, l.distance, max(b.base) as best
                  from (select a, b, distance from links union all select b, a, distance from links) l
                  join based b on b.id = l.b
                  group by l.a, l.distance) d
            group by d.a
        ),
        -- The best and second-best base of each session: "the best of the other turns".
        session_best as (
            select b.session_id, (array_agg(b.id order by b.base desc, b.id))[1] as best_id,
                   max(b.base) as best, (array_agg(b.base order by b.base desc, b.id))[2] as second
            from based b where b.kind = 'episode' and b.session_id is not null
            group by b.session_id
        ),
        contextual as (
            select b.*,
                   coalesce(nc.context, 0::float8)
                   + %9$L::float8 * coalesce(case when sb.best_id = b.id then sb.second else sb.best end, 0::float8)
                     as context_score
            from based b
            left join neighbour_context nc on nc.id = b.id
            left join session_best sb on b.kind = 'episode' and sb.session_id = b.session_id
        ),
        -- Newer first where two results say the same thing: the best top_k + 10 are settled so
        -- that a raw turn never ranks above the memory that replaced what it said, and of two
        -- near-duplicates (cosine >= near_duplicate_similarity) the newer ranks first.
        head as materialized (
            select c.id, c.kind, c.base + c.context_score as raw_score, c.created_at, c.replaced_by
            from contextual c
            order by c.base + c.context_score desc, c.created_at desc, c.id desc
            limit %11$s + 10
        ),
        head_vec as materialized (
            select h.*, v.embedding from head h
            cross join lateral (select m.embedding from %10$s m where m.tenant_id = $10 and m.id = h.id offset 0) v
        ),
        settled as (
            select h.id, least(h.raw_score,
                       coalesce((select max(r.raw_score) - 1e-9 from head r where r.id = h.replaced_by), 'Infinity'::float8),
                       -- statements, not raw turns: a conversation may say the same thing twice
                       coalesce((select min(n.raw_score) - 1e-9 from head_vec n
                                 where n.id <> h.id and n.created_at > h.created_at
                                   and h.kind <> 'episode' and n.kind <> 'episode'
                                   and (n.embedding <=> h.embedding) <= 1 - %13$L::float8), 'Infinity'::float8)) as score
            from head_vec h
        ),
        settled_scores as materialized (
            select c.id, c.observed_at, c.created_at, coalesce(s.score, c.base + c.context_score) as score
            from contextual c left join settled s on s.id = c.id
        ),%18$s
        ordered as (
            select c.*, coalesce(l.score, s.score) as final_score, e.newer as earlier_than,
                   row_number() over w as rank,
                   sum(c.token_count) over w as tokens_so_far
            from contextual c
            join settled_scores s on s.id = c.id
            left join lifted l on l.id = c.id
            left join earlier e on e.id = c.id
            window w as (order by coalesce(l.score, s.score) desc, c.created_at desc, c.id desc)
        )
        select m.id, m.tenant_id, m.user_id, m.kind, m.content, o.final_score, o.vector_score,
               o.lexical_score, o.recency_score, o.graph_score, m.importance, m.created_at, m.observed_at,
               m.session_id, m.agent_id, m.metadata, m.source, m.token_count, o.context_score, o.earlier_than
        from ordered o
        -- by primary key, one row at a time: the planner cannot tell that only top_k remain
        cross join lateral (select m.* from %10$s m where m.tenant_id = $10 and m.id = o.id offset 0) m
        where o.rank <= %11$s and ($7::int is null or o.tokens_so_far <= $7::int)%14$s
        order by o.rank
        $q$,
        v_head, v_pool, format(v_components, 'pool'), v_weighted, v_anchors,
        case when v_anchors > 0 then v_links
             else 'select null::uuid as a, null::uuid as b, null::int as distance where false' end,
        format(v_components, 'extra'), v_base, v_session_w, v_partition, p_top_k,
        v_settings->>'outdated_turn_weight', v_settings->>'near_duplicate_similarity',
        -- min_score: weak matches are left out (ranks keep counting them, so the order and
        -- the token budget are those of the unfiltered answer)
        case when v_settings ? 'min_score' then format(' and o.final_score >= %L::float8', v_settings->>'min_score') else '' end,
        -- a query that does not ask about now has an empty window
        v_window,
        v_settings->>'currentness_similarity', v_lexical, v_current);

    if v_profile then v_ends := v_ends || jsonb_build_object('build', clock_timestamp()); end if;

    -- Preparing and planning this statement takes 3-4 ms, more than running it (1.5-2 ms for
    -- a user of 100 memories). It is prepared once per session and shape (the name is the
    -- hash of its text: another tenant, other settings or a changed function make another)
    -- and executed with its arguments as literals (EXECUTE of a prepared statement cannot
    -- take USING parameters). A session keeps the pymem.retrieve_statements (default 64)
    -- most recently prepared, ~0.6 MB each (plan and query tree, measured with
    -- pg_backend_memory_contexts); the oldest goes first. A pooled connection serves many
    -- tenants: the more of them its statements cover, the fewer calls wait for the planner.
    -- It reads the tenant's own partition by name, so a cached generic plan locks that
    -- partition only; the row-security plan is tied to the role and re-planned for another.
    -- Trying EXECUTE first costs a subtransaction (microseconds); looking the name up in
    -- pg_prepared_statements would copy every statement's text (0.3 ms a call at 128).
    -- Only in sessions that act for the tenant through SET ROLE (the service's, the
    -- client's): they cannot run SQL of their caller's. A login role's session can PREPARE a
    -- statement of its own under a name it has seen in pg_prepared_statements, which
    -- EXECUTE would then run as the tenant role; its calls are planned each time instead.
    -- The exact path reads the user's rows through memories_user_idx, never the whole
    -- partition: a generic plan estimates a user's rows as the partition's divided by its
    -- users, and in a tenant of two 5,000-turn users a user of a few rows was read by a
    -- sequential scan of all 10,000 (26 ms). The setting weighs on planning only.
    if v_exact then
        v_planner := array[current_setting('enable_seqscan')];
        perform set_config('enable_seqscan', 'off', true);
    end if;
    if current_setting('role') in ('none', session_user::text) then
        return query execute v_sql
            using p_user_id, v_query, p_query_embedding, p_kinds, v_filters, p_as_of, p_token_budget,
                  v_context, v_tsquery, v_tenant.tenant_id, v_lex_ids, v_lex_raw, v_vec_ids, v_graph_ids, v_graph_raw,
                  v_terms, v_documents, v_average_length;
    else
        v_statement := 'pymem_retrieve_' || md5(v_sql);
        v_execute := format('execute %I(%L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L)',
            v_statement, p_user_id, v_query, p_query_embedding, p_kinds, v_filters, p_as_of, p_token_budget,
            v_context, v_tsquery, v_tenant.tenant_id, v_lex_ids, v_lex_raw, v_vec_ids, v_graph_ids, v_graph_raw,
            v_terms, v_documents, v_average_length);
        v_reused := true;
        begin
            return query execute v_execute;
        exception when invalid_sql_statement_name or syntax_error then
            -- Not prepared in this session (or evicted): prepare it below. RETURN QUERY reports
            -- a missing statement as "EXECUTE query does not return tuples" (42601); any other
            -- error comes back from the second try, outside this block.
            v_reused := false;
        end;
        if not v_reused then
            v_keep := coalesce(nullif(current_setting('pymem.retrieve_statements', true), ''), '64');
            -- At most 1024 (~600 MB): any session may set it, and the statements live in its backend.
            if v_keep !~ '^[0-9]{1,4}$' or v_keep::int not between 1 and 1024 then
                raise exception 'pymem: pymem.retrieve_statements must be a whole number from 1 to 1024, not %',
                    quote_literal(left(v_keep, 40)) using errcode = '22023';
            end if;
            for v_old in select ps.name from pg_prepared_statements ps where ps.name like 'pymem\_retrieve\_%'
                         order by ps.prepare_time desc, ps.name offset v_keep::int - 1 loop
                execute format('deallocate %I', v_old);
            end loop;
            execute format('prepare %I (text, text, vector, text[], jsonb, timestamptz, integer, double precision[],
                                       tsquery, text, uuid[], double precision[], uuid[], uuid[],
                                       double precision[], text[], double precision,
                                       double precision) as %s', v_statement, v_sql);
            if v_profile then v_ends := v_ends || jsonb_build_object('prepare', clock_timestamp()); end if;
            return query execute v_execute;
        end if;
    end if;
    if v_exact then
        perform set_config('enable_seqscan', v_planner[1], true);
    end if;
    if v_profile then
        -- Milliseconds per stage: from the end of the one before (the call's start for the first).
        v_ends := v_ends || jsonb_build_object('main', clock_timestamp());
        raise notice 'pymem.retrieve profile %', (
            select jsonb_object_agg(d.stage, round((extract(epoch from d.took) * 1000)::numeric, 3))
            from (select e.stage, e.ended - coalesce(lag(e.ended) over (order by e.ended), v_started) as took
                  from (select key as stage, (value #>> '{}')::timestamptz as ended from jsonb_each(v_ends)) e) d)
            || jsonb_build_object('path', case when v_exact then 'exact' else 'hnsw' end,
                                  'reused_statement', coalesce(v_reused, false));
    end if;
end
$$;
comment on function pymem.retrieve(text, text, vector, integer, integer, text[], jsonb, timestamptz, jsonb) is
    'Top-k memories of one user of the calling tenant for a query: candidates from the vector index '
    '(exact scan for small users, HNSW for big ones), BM25 and the graph, plus neighbouring turns of '
    'matching conversation turns; scored by vector, lexical, recency x importance, graph and context '
    '(each returned), weighted or reciprocal-rank fused; for a query about now a newer statement of a '
    'change ranks above the older ones (earlier_than names it); deterministic order (score, newer, id); cut to '
    'token_budget when given. p_options overrides retrieval settings for this call. Tenant roles only.';
