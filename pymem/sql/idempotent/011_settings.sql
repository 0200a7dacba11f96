-- 011_settings: every setting a tenant may have or a retrieve call may pass, described once:
-- the rows of _pymem.setting_specs (0019_setting_specs.sql). Idempotent, like 015-017: the
-- table is made to hold exactly these rows. What reads them:
--   _pymem.setting_defaults()  the product defaults, written below from the rows
--   _pymem.settings(tenant)    those defaults overlaid with the tenant's own
--   _pymem.check_settings()    validation of a tenant's settings and a call's options
--   pymem tenant settings describe, and docs/settings.md (a test holds both to the rows)
-- Adding a setting is one row here, and the code that reads it.
--
-- Columns: key, type, default (null: none, a call's option only), minimum and maximum (of
-- the value, or of each element of a number[]), max_items (arrays), choices (text), per_tenant,
-- per_call (a retrieve call may override it), about.

with spec (key, value_type, default_value, minimum, maximum, max_items, choices, per_tenant, per_call, about) as (
    values
    -- retrieval: hybrid scoring (sql/idempotent/040_retrieve.sql explains each)
    ('weight_vector', 'number', '0.6'::jsonb, 0::numeric, 100::numeric, null::integer, null::text[], true, true,
     'weight of the vector score (weighted fusion)'),
    ('weight_lexical', 'number', '0.25', 0, 100, null, null, true, true, 'weight of the lexical (BM25) score'),
    ('weight_temporal', 'number', '0.15', 0, 100, null, null, true, true, 'weight of the recency score'),
    -- The graph term adds to the three above (a memory the question names by entity gains up
    -- to 0.2); 0 turns it off.
    ('weight_graph', 'number', '0.2', 0, 100, null, null, true, true,
     'weight of the graph score (added to the other three); 0 turns the graph off'),
    ('fusion', 'text', '"weighted"', null, null, null, array['weighted', 'rrf'], true, true,
     'how the components combine: weighted sum, or reciprocal rank fusion'),
    ('rrf_k', 'number', '60', 0, 100000, null, null, true, true, 'the k of reciprocal rank fusion'),
    ('candidate_pool', 'integer', '50', 1, 1000, null, null, true, true,
     'candidates taken from each side (vector, lexical) before scoring; at least top_k'),
    -- Read by nothing: retrieve's p_top_k (default 10) decides. Kept so that stored settings stay valid.
    ('top_k', 'integer', '10', 1, 1000, null, null, true, false, 'not read: a retrieve call''s top_k (default 10) decides'),
    -- Users with at most this many visible memories get an exact scan (recall 1.0, 0.5-3 ms
    -- measured up to a few thousand rows); bigger ones use the partition's HNSW index with
    -- iterative scan.
    ('exact_scan_max_rows', 'integer', '4000', 0, 10000000, null, null, true, true,
     'a user with at most this many memories is searched exactly; more, through the HNSW index'),
    -- A denser graph, so that a small ef_search reaches the recall target. On a 50k-memory
    -- user of clustered vectors (pymem bench retrieval), recall@10:
    --   m 16, ef_construction 64:   ef_search 100 0.964, 200 0.972-0.986, 300 0.986-0.991
    --   m 24, ef_construction 128:  ef_search 100 0.988, 120 0.993, 160 0.995
    -- and the index scan alone: 5.9 ms p50 (m 16, ef 300) against 2.6 ms (m 24, ef 120).
    -- The 50k-row build took 32 s with m 24 / 128.
    ('hnsw_m', 'integer', '24', 2, 100, null, null, true, false, 'HNSW links per node (applies after pymem admin reindex)'),
    ('hnsw_ef_construction', 'integer', '128', 4, 1000, null, null, true, false,
     'HNSW build candidate list (applies after pymem admin reindex)'),
    ('hnsw_ef_search', 'integer', '120', 1, 1000, null, null, true, true, 'HNSW search candidate list (at least candidate_pool)'),
    -- LoCoMo (pymem bench locomo, tuned on conversations 0-4) chose the context weights and
    -- bm25_b 0.3: context turns lift recall@10 by ~0.05 there.
    ('context_weights', 'number[]', '[0.35, 0.2]', 0, 100, 5, null, true, true,
     'a conversation turn gains these weights times the best score of the turns 1, 2, ... positions away'),
    ('context_session_weight', 'number', '0.2', 0, 100, null, null, true, true,
     'a conversation turn gains this weight times the best score of the other candidate turns of its session'),
    ('context_anchors', 'integer', '30', 0, 1000, null, null, true, true, 'best candidate turns whose neighbours join the candidates'),
    ('lexical_scan_limit', 'integer', '500', 1, 100000, null, null, true, true, 'lexical matches kept (the best BM25 first)'),
    ('bm25_k1', 'number', '1.2', 0, 10, null, null, true, false, 'BM25 term-frequency saturation'),
    ('bm25_b', 'number', '0.3', 0, 1, null, null, true, false, 'BM25 length normalisation'),
    ('text_config', 'text search config', '"english"', null, null, null, null, true, false,
     'text search configuration of the lexemes (applies after pymem admin reindex)'),
    ('decay_half_life_days', 'number', '90', 0.001, 1000000, null, null, true, false, 'recency halves every this many days'),
    ('decay_floor', 'number', '0.1', 0, 1, null, null, true, false, 'the lowest recency factor'),
    -- A raw turn whose extracted memory was replaced says something outdated.
    ('outdated_turn_weight', 'number', '0.5', 0, 1, null, null, true, true,
     'a raw turn whose memory was replaced: its score times this, never above the replacement'),
    ('near_duplicate_similarity', 'number', '0.92', 0, 1, null, null, true, true,
     'of two results this close (cosine), the newer ranks first'),
    -- Among this many best results of a query about now, a newer statement that announces a
    -- change ranks above the older ones (0: off; 017_cues.sql) ...
    ('currentness_window', 'integer', '10', 0, 100, null, null, true, true,
     'among this many best results of a question about now, a newer change ranks first (0: off)'),
    -- ... and is about the same thing as the older one: their cosine at least this. On
    -- StateBench train 0.1 and 0.2 cost nothing (0.972), 0.3 cost 0.048 (a short correction
    -- clause reads unlike the turn it corrects); without it, "moved to Lisbon" came first for
    -- "editor colour theme dark mode" (tests/integration/test_replica.py).
    ('currentness_similarity', 'number', '0.2', 0, 1, null, null, true, true,
     'how close (cosine) the newer change must be to an older result to rank above it'),
    -- A newer statement that announces no change ranks above an older result about the same
    -- thing only this close (cosine, the statements or the turns they were read from).
    ('currentness_restatement_similarity', 'number', '0.45', 0, 1, null, null, true, true,
     'how close (cosine) a newer statement without a change cue must be to an older result to rank above it'),
    ('min_score', 'number', null, 0, 1000, null, null, false, true, 'results below this score are left out'),
    -- consistency: supersession and deduplication (060_consistency.sql)
    ('supersession_similarity', 'number', '0.92', 0, 1, null, null, true, false,
     'a new memory this close (cosine) to a current one of the same slot replaces it'),
    ('dedup_similarity', 'number', '0.95', 0, 1, null, null, true, false, 'a new memory this close to a current one is a mention of it'),
    -- Without a slot, a statement with an update cue ("now", "actually", "switched",
    -- "instead", ...) replaces the nearest current memory of the same kind this close
    -- (calibrated on the tuning half of pymem bench updates; see docs/consistency.md).
    ('update_cue_similarity', 'number', '0.6', 0, 1, null, null, true, false,
     'a statement with an update cue replaces the nearest current memory of its kind this close'),
    ('supersession_policy', 'text', '"newest_wins"', null, null, null, array['newest_wins', 'most_frequent', 'manual'],
     true, false, 'which of two conflicting values stays current (manual: the contradiction queue)'),
    ('max_memories', 'integer', '100000', 1, 1000000000, null, null, true, false,
     'memories a tenant may hold; past it, writes answer PM429'),
    -- decay and consolidation (070_lifecycle.sql)
    ('stale_weight', 'number', '0.25', 0, 1, null, null, true, false, 'a memory whose decayed weight falls below this is stale'),
    ('archive_below_weight', 'number', '0.05', 0, 1, null, null, true, false, 'a memory whose decayed weight falls below this is archived, unless important'),
    ('archive_protect_importance', 'number', '0.9', 0, 1, null, null, true, false, 'memories this important are never archived'),
    ('episode_summary_age_days', 'integer', '30', 1, 36500, null, null, true, false, 'raw episodes older than this are summarised by compact'),
    ('compact_max_rows', 'integer', '2000', 1, 1000000, null, null, true, false, 'rows one compact call of a user reads'),
    -- privacy: delete raw episodes after this many days (null keeps them)
    ('episode_retention_days', 'integer', 'null', 1, 36500, null, null, true, false,
     'raw episodes are deleted after this many days (null keeps them)'),
    -- ingest (050_ingest.sql)
    ('auto_register_users', 'boolean', 'true', null, null, null, null, true, false,
     'ingest and remember register unknown users (false: pymem.register_user first)'),
    ('max_messages_per_ingest', 'integer', '200', 1, 100000, null, null, true, false, 'messages one ingest call may carry'),
    ('max_message_chars', 'integer', '32000', 1, 10000000, null, null, true, false, 'characters of one message'),
    ('max_ingest_bytes', 'integer', '1048576', 1, 100000000, null, null, true, false, 'bytes of one ingest call'),
    ('index_roles', 'text[]', '["user"]', null, null, 10, null, true, false, 'the message roles whose turns are indexed for search'),
    ('episode_importance', 'number', '0.3', 0, 1, null, null, true, false, 'importance of a raw turn'),
    -- a tenant's episodes waiting for extraction; past it, ingest answers PM429
    ('max_pending_episodes', 'integer', '20000', 1, 100000000, null, null, true, false,
     'episodes a tenant may have waiting for extraction; past it, ingest answers PM429'),
    -- login roles (pymem.create_login): at most this many connections, and these session
    -- defaults; pymem.enforce_login_limits() ends sessions past them (a session may change
    -- its own settings, so the defaults alone bind only the willing)
    ('login_connection_limit', 'integer', '10', 1, 1000, null, null, true, false, 'connections of one login role'),
    ('login_statement_timeout_ms', 'integer', '30000', 100, 86400000, null, null, true, false, 'statement_timeout of a login''s sessions'),
    ('login_idle_in_transaction_timeout_ms', 'integer', '60000', 100, 86400000, null, null, true, false,
     'idle_in_transaction_session_timeout of a login''s sessions'),
    ('login_transaction_timeout_ms', 'integer', '300000', 100, 86400000, null, null, true, false,
     'transaction_timeout of a login''s sessions'),
    ('login_lock_timeout_ms', 'integer', '5000', 10, 3600000, null, null, true, false, 'lock_timeout of a login''s sessions'),
    -- an idle session is ended after this long: a login that LISTENs and never reads holds
    -- back the cluster's one NOTIFY queue
    ('login_idle_session_timeout_ms', 'integer', '300000', 1000, 86400000, null, null, true, false,
     'idle_session_timeout of a login''s sessions'),
    -- memory per sort or hash and temporary files of a login's session (temp_file_limit only
    -- where the installing role is a superuser: PostgreSQL lets no one else set it)
    ('login_work_mem_kb', 'integer', '16384', 64, 2097151, null, null, true, false, 'work_mem of a login''s sessions'),
    ('login_temp_file_limit_kb', 'integer', '262144', 0, 2147483647, null, null, true, false,
     'temp_file_limit of a login''s sessions (where the installing role is a superuser)')
), upserted as (
    insert into _pymem.setting_specs (key, value_type, default_value, minimum, maximum, max_items, choices,
                                      per_tenant, per_call, about)
    select * from spec
    on conflict (key) do update
        set (value_type, default_value, minimum, maximum, max_items, choices, per_tenant, per_call, about) =
            (excluded.value_type, excluded.default_value, excluded.minimum, excluded.maximum, excluded.max_items,
             excluded.choices, excluded.per_tenant, excluded.per_call, excluded.about)
    returning key
)
delete from _pymem.setting_specs s where not exists (select from spec where spec.key = s.key);

-- The product defaults: one JSON object of the rows' defaults, written into the function as
-- a constant each time the rows are. Retrieve reads settings on every call; overlaying a
-- constant cost 17-35 us a call where building the object (60 arguments to
-- jsonb_build_object) or aggregating the rows cost 150-300 us (a loop of 5,000 calls, one
-- transaction each, on 2 busy cores).
do $$
begin
    execute format($f$create or replace function _pymem.setting_defaults() returns jsonb
        language sql immutable security invoker parallel safe
        set search_path = pg_catalog, pg_temp
    as %L$f$, format('select %L::jsonb',
                     (select jsonb_object_agg(key, default_value order by key) from _pymem.setting_specs where per_tenant)));
end
$$;
comment on function _pymem.setting_defaults() is
    'The product defaults of every tenant setting (written from _pymem.setting_specs by 011_settings.sql). Internal.';

-- A tenant's settings: the product defaults overlaid with its own.
create or replace function _pymem.settings(p_tenant _pymem.tenants) returns jsonb
    language sql immutable security invoker
    set search_path = pg_catalog, pg_temp
as $$ select _pymem.setting_defaults() || p_tenant.settings $$;

-- Validates a tenant's settings (p_per_call false) or a retrieve call's options (true) against
-- the rows: the key is one of them, the value of its type and in its range. Raises 22023
-- naming the key. A JSON null passes only where the default is null; update_tenant_settings
-- strips the nulls that restore defaults before it asks.
create or replace function _pymem.check_settings(p_settings jsonb, p_per_call boolean) returns void
    language plpgsql stable security invoker
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_what  text := case when p_per_call then 'retrieval option' else 'tenant setting' end;
    v_key   text;
    v_value jsonb;
    v_spec  _pymem.setting_specs;
    v_json_type text;
begin
    if p_settings is null then
        return;
    end if;
    if jsonb_typeof(p_settings) <> 'object' then
        raise exception 'pymem: % must be a JSON object', case when p_per_call then 'options' else 'settings' end
            using errcode = '22023';
    end if;
    for v_key, v_value in select * from jsonb_each(p_settings) loop
        select * into v_spec from _pymem.setting_specs s
        where s.key = v_key and case when p_per_call then s.per_call else s.per_tenant end;
        if not found then
            raise exception 'pymem: unknown % %', v_what, quote_literal(left(v_key, 60))
                using errcode = '22023',
                      hint = case when p_per_call then 'Options: ' else 'Settings: ' end
                             || (select string_agg(s.key, ', ' order by s.key) from _pymem.setting_specs s
                                 where case when p_per_call then s.per_call else s.per_tenant end) || '.';
        end if;
        continue when v_value = 'null' and v_spec.default_value = 'null';
        v_json_type := case v_spec.value_type when 'number' then 'number' when 'integer' then 'number'
                                              when 'boolean' then 'boolean' when 'number[]' then 'array'
                                              when 'text[]' then 'array' else 'string' end;
        if jsonb_typeof(v_value) <> v_json_type then
            raise exception 'pymem: % % is a %, not a %', v_what, v_key, v_json_type, jsonb_typeof(v_value)
                using errcode = '22023';
        end if;
        if v_spec.value_type in ('number', 'integer')
           and ((v_value::text)::numeric not between v_spec.minimum and v_spec.maximum
                or (v_spec.value_type = 'integer' and (v_value::text)::numeric <> trunc((v_value::text)::numeric))) then
            raise exception 'pymem: % must be % between % and %', v_key,
                case v_spec.value_type when 'integer' then 'an integer' else 'a number' end, v_spec.minimum, v_spec.maximum
                using errcode = '22023';
        elsif v_spec.value_type = 'number[]'
              and (jsonb_array_length(v_value) > v_spec.max_items
                   or exists (select from jsonb_array_elements(v_value) e
                              where jsonb_typeof(e) <> 'number'
                                 or (e::text)::numeric not between v_spec.minimum and v_spec.maximum)) then
            raise exception 'pymem: % must be an array of at most % numbers between % and %', v_key,
                v_spec.max_items, v_spec.minimum, v_spec.maximum using errcode = '22023';
        elsif v_spec.value_type = 'text[]'
              and (jsonb_array_length(v_value) > v_spec.max_items
                   or exists (select from jsonb_array_elements(v_value) e
                              where jsonb_typeof(e) <> 'string' or length(e->>0) > 60)) then
            raise exception 'pymem: % must be an array of at most % strings', v_key, v_spec.max_items
                using errcode = '22023';
        elsif v_spec.choices is not null and not (v_value->>0) = any(v_spec.choices) then
            raise exception 'pymem: % must be %', v_key,
                (select string_agg('"' || c || '"', ', ' order by o) from unnest(v_spec.choices) with ordinality u(c, o)
                 where o < cardinality(v_spec.choices))
                || ' or "' || v_spec.choices[cardinality(v_spec.choices)] || '"'
                using errcode = '22023';
        elsif v_spec.value_type = 'text search config' then
            begin
                perform (v_value->>0)::regconfig;
            exception when others then
                raise exception 'pymem: % must name a text search configuration', v_key using errcode = '22023';
            end;
        end if;
    end loop;
end
$$;
comment on function _pymem.check_settings(jsonb, boolean) is
    'Raises 22023 for a tenant setting (or, with p_per_call, a retrieve option) that _pymem.setting_specs '
    'does not describe or whose value is not of its type and range. Used by pymem.retrieve, '
    'pymem.create_tenant and pymem.update_tenant_settings.';

-- The name this check had before the settings became rows.
drop function if exists _pymem.check_retrieval_settings(jsonb, boolean);
