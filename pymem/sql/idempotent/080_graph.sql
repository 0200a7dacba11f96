-- 080_graph: the knowledge graph.
--
-- Each tenant has one AGE graph. Tenants reach it only through the functions here, which
-- are SECURITY DEFINER (they run as the install's owner, who owns every graph) and derive the
-- graph from the acting tenant (_pymem.acting_tenant()); no caller ever names a graph, and no
-- tenant role has USAGE on ag_catalog, so AGE's own functions (age_vle, age_vertex_stats,
-- cypher, ...) are out of reach: AGE's RLS support is young (variable-length paths bypass
-- it), and some of its functions crash the backend on bad input. A tenant owns no graph
-- table, so it can add no policy or trigger that owner-run code (erasure) would execute.
-- pymem.cypher() accepts read-only Cypher from an allow-list of clauses and functions.
-- The graph holds:
--   (:User {user_id})  -[:ALLERGIC_TO|LIKES|... {memory_id, valid_from, valid_to, confidence}]->
--   (:Entity {key, name, type})  -[:RELATED {user_id, memory_id}]-  (:Entity)   (same memory)
-- Supersession closes edges (valid_to); erasure removes the user's vertices and edges.
-- Times are stored as epoch seconds (numbers compare correctly inside Cypher).
--
-- Retrieval does not traverse AGE: it reads _pymem.memory_entities (entity -> memory per
-- user, maintained here on write), which answers in well under a millisecond.

-- Typed entities in free text, where they are: every gazetteer term, longest match first
-- ("hot dogs" before "dogs"), left to right, a match consuming its words. word_index counts
-- words from 1; words_before is up to six words in front of the match (what the statement
-- analysis reads to tell "from X to Y"). Entity recognition lives here and nowhere else:
-- extraction, the slot logic and retrieval's graph term all call it. Linear in the text:
-- the runs of up to four words come from window functions over the words (subscripting a
-- slice per position made it quadratic: 1.35 s for 32,000 characters), one indexed lookup
-- each, then one pass over the hits; every step is a query, so a cancel or statement
-- timeout stops it. Text past the first 20,000 words is not read.
drop function if exists _pymem.recognize_spans(text);

create or replace function _pymem.recognize_spans(p_text text, p_plurals boolean default false)
    returns table (entity_name text, entity_type text, word_index integer, words integer, words_before text)
    language plpgsql stable security invoker parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_next  integer := 1;
    v_hit   record;
    v_words text[];
begin
    -- A run can match only where its first word starts a term (with p_plurals a one-word
    -- run may match as a singular, which is its own first word): a text none of whose words
    -- does names nothing. Most texts stop here, after one split and a lookup per word
    -- (the whole reading below costs ~0.13 ms for a 10-word question, on every retrieve).
    if length(coalesce(p_text, '')) < 4000 then
        v_words := regexp_split_to_array(lower(coalesce(p_text, '')), '[^a-z0-9+#/]+');
        if p_plurals then
            v_words := v_words || array(select regexp_replace(w, '([a-z]{3})s$', '\1') from unnest(v_words) w);
        end if;
        if not _pymem.gazetteer_first_words() ?| v_words then
            return;
        end if;
    end if;
    for v_hit in
        with w as (
            select u.i::int as i, u.word,
                   lead(u.word, 1) over o as w2, lead(u.word, 2) over o as w3, lead(u.word, 3) over o as w4,
                   string_agg(u.word, ' ') over (o rows between 6 preceding and 1 preceding) as before
            from regexp_split_to_table(lower(left(coalesce(p_text, ''), 400000)), '[^a-z0-9+#/]+')
                 with ordinality u(word, i)
            where u.word <> ''
            window o as (order by u.i)
        ),
        numbered as (select row_number() over (order by w.i)::int as i, w.word, w.w2, w.w3, w.w4, w.before
                     from w order by w.i limit 20000),
        runs as (
            select n.i, r.n, r.term, n.before,
                   case when p_plurals then regexp_replace(r.term, '([a-z]{3})s$', '\1') end as singular
            from numbered n
            cross join lateral (values (1, n.word), (2, n.word || ' ' || n.w2),
                                       (3, n.word || ' ' || n.w2 || ' ' || n.w3),
                                       (4, n.word || ' ' || n.w2 || ' ' || n.w3 || ' ' || n.w4)) r(n, term)
            where r.term is not null
        ),
        -- equality joins (hashed): an OR of the two terms would test every gazetteer row
        hits as (
            select r.i, r.n, g.canonical, g.entity_type, r.before, true as exact
            from runs r join _pymem.gazetteer g on g.term = r.term
            -- with p_plurals, a plural the gazetteer lists in the singular ("americanos")
            -- counts too (statement analysis; retrieval's graph term keeps exact terms: on
            -- LoCoMo the plural matches moved recall@10 by -0.0008)
            union all
            select r.i, r.n, g.canonical, g.entity_type, r.before, false
            from runs r join _pymem.gazetteer g on g.term = r.singular
            where r.singular <> r.term
        )
        -- the longest known run per start word
        select distinct on (h.i) h.i, h.n, h.canonical, h.entity_type, h.before
        from hits h
        order by h.i, h.n desc, h.exact desc
    loop
        continue when v_hit.i < v_next;  -- inside an earlier match
        entity_name := v_hit.canonical;
        entity_type := v_hit.entity_type;
        word_index := v_hit.i;
        words := v_hit.n;
        words_before := coalesce(v_hit.before, '');
        return next;
        v_next := v_hit.i + v_hit.n;
    end loop;
end
$$;

-- The distinct typed entities of a text, in the order they first appear.
create or replace function _pymem.recognize(p_text text)
    returns table (entity_name text, entity_type text)
    language sql stable security invoker parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select s.entity_name, s.entity_type
    from (select distinct on (r.entity_type, r.entity_name) r.entity_name, r.entity_type, r.word_index
          from _pymem.recognize_spans(p_text) r
          order by r.entity_type, r.entity_name, r.word_index) s
    order by s.word_index
$$;

create or replace function _pymem.entity_key(p_type text, p_name text) returns text
    language sql immutable parallel safe security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select lower(btrim(p_type)) || ':' || lower(btrim(p_name)) $$;

-- The relations a memory may put in the graph: each is an edge label, created once by the
-- owner; anything else in metadata.relations is ignored (no label per request).
create or replace function _pymem.relation_predicates() returns text[]
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select array['ALLERGIC_TO', 'LIKES', 'DISLIKES', 'PREFERS', 'WORKS_ON', 'WORKS_AT', 'USES', 'LIVES_IN',
                 'HAS_TIMEZONE', 'KNOWS', 'HAS_CONDITION', 'FOLLOWS_DIET', 'HAS_NAME', 'HAS_OCCUPATION', 'HAS_PET',
                 'SPEAKS', 'COMMUTES', 'HAS_PRONOUNS']
$$;

-- The acting tenant's own memory, or 42501: what a graph function may be asked to link or
-- close (the row comes from the caller, so it is checked against the table).
create or replace function _pymem.own_memory(p_memory _pymem.memories) returns _pymem.tenants
    language plpgsql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.acting_tenant();
begin
    if p_memory.tenant_id is distinct from v_tenant.tenant_id
       or not exists (select from _pymem.memories m where m.tenant_id = v_tenant.tenant_id and m.id = p_memory.id
                      and m.user_id = p_memory.user_id) then
        raise exception 'pymem: no such memory for this tenant' using errcode = '42501';
    end if;
    return v_tenant;
end
$$;

-- Runs one Cypher statement on the calling tenant's graph with agtype parameters.
-- p_cypher is always a constant written in this file, never caller text.
create or replace function _pymem.graph_exec(p_graph name, p_cypher text, p_params jsonb) returns void
    language plpgsql volatile security invoker
    set search_path = ag_catalog, pg_catalog, @extensions@, pg_temp
as $$
begin
    -- AGE takes the query only as a dollar-quoted constant.
    if position('$c$' in p_cypher) > 0 then
        raise exception 'pymem: internal Cypher text must not contain $c$' using errcode = '22023';
    end if;
    execute format('select * from ag_catalog.cypher(%L, $c$%s$c$, $1) as (r ag_catalog.agtype)', p_graph, p_cypher)
        using p_params::text::ag_catalog.agtype;
end
$$;

-- Links a new memory into the graph: the entity mapping for retrieval, and (for memories
-- that state relations) the User -> Entity edges and Entity - Entity co-mentions in AGE.
create or replace function _pymem.graph_link(p_memory _pymem.memories) returns void
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_graph     name := (_pymem.own_memory(p_memory)).graph_name;
    v_entities  jsonb := p_memory.metadata->'entities';
    v_relations jsonb := coalesce(p_memory.metadata->'relations', '[]');
    v_entity    jsonb;
    v_relation  jsonb;
    v_keys      text[] := '{}';
    i           integer;
    j           integer;
begin
    if v_entities is null or jsonb_typeof(v_entities) <> 'array' then
        select coalesce(jsonb_agg(jsonb_build_object('name', r.entity_name, 'type', r.entity_type)), '[]')
          into v_entities from _pymem.recognize(p_memory.content) r;
    end if;
    if jsonb_typeof(v_relations) <> 'array' then
        v_relations := '[]';
    end if;
    for v_entity in select value from jsonb_array_elements(v_entities) limit 50 loop
        continue when jsonb_typeof(v_entity->'name') <> 'string' or jsonb_typeof(v_entity->'type') <> 'string';
        insert into _pymem.memory_entities (tenant_id, user_id, memory_id, entity_key, entity_name, entity_type, predicate)
        values (p_memory.tenant_id, p_memory.user_id, p_memory.id,
                _pymem.entity_key(v_entity->>'type', v_entity->>'name'), left(v_entity->>'name', 200),
                left(v_entity->>'type', 60),
                (select r->>'predicate' from jsonb_array_elements(v_relations) r
                  where lower(r->>'entity') = lower(v_entity->>'name') limit 1))
        on conflict do nothing;
        v_keys := v_keys || _pymem.entity_key(v_entity->>'type', v_entity->>'name');
    end loop;

    if jsonb_array_length(v_relations) = 0 or p_memory.kind = 'episode' then
        return;
    end if;
    perform _pymem.graph_exec(v_graph, 'MERGE (u:User {user_id: $uid}) RETURN u', jsonb_build_object('uid', p_memory.user_id));
    for v_relation in select value from jsonb_array_elements(v_relations) limit 20 loop
        -- Labels cannot be parameters: only the relation vocabulary passes.
        continue when not coalesce(v_relation->>'predicate', '') = any(_pymem.relation_predicates())
                   or jsonb_typeof(v_relation->'entity') <> 'string';
        perform _pymem.graph_exec(v_graph, format(
            'MATCH (u:User {user_id: $uid}) MERGE (e:Entity {key: $key}) SET e.name = $name, e.type = $type '
            'CREATE (u)-[r:%s {memory_id: $mid, valid_from: $vf, valid_to: $vt, confidence: $conf}]->(e) RETURN r',
            v_relation->>'predicate'),
            jsonb_build_object('uid', p_memory.user_id,
                               'key', _pymem.entity_key(coalesce(v_relation->>'type', 'Thing'), v_relation->>'entity'),
                               'name', v_relation->>'entity', 'type', coalesce(v_relation->>'type', 'Thing'),
                               'mid', p_memory.id::text, 'vf', extract(epoch from p_memory.valid_from),
                               'vt', extract(epoch from p_memory.valid_to), 'conf', p_memory.confidence));
    end loop;
    -- Entities stated together are related (for graph_neighbors); at most ten of them.
    v_keys := v_keys[1:10];
    for i in 1 .. coalesce(array_length(v_keys, 1), 0) loop
        for j in i + 1 .. array_length(v_keys, 1) loop
            perform _pymem.graph_exec(v_graph,
                'MERGE (a:Entity {key: $a}) MERGE (b:Entity {key: $b}) '
                'CREATE (a)-[r:RELATED {user_id: $uid, memory_id: $mid}]->(b) RETURN r',
                jsonb_build_object('a', v_keys[i], 'b', v_keys[j], 'uid', p_memory.user_id, 'mid', p_memory.id::text));
        end loop;
    end loop;
end
$$;

-- A superseded (or forgotten) memory's edges stay, closed at p_valid_to.
create or replace function _pymem.graph_close(p_memory _pymem.memories) returns void
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    perform _pymem.own_memory(p_memory);
    if not exists (select from _pymem.memory_entities me
                   where me.tenant_id = p_memory.tenant_id and me.memory_id = p_memory.id and me.predicate is not null) then
        return;  -- it never had edges
    end if;
    perform _pymem.graph_exec((select t.graph_name from _pymem.tenants t where t.tenant_id = p_memory.tenant_id),
        'MATCH (u:User {user_id: $uid})-[r]->(e:Entity) WHERE r.memory_id = $mid SET r.valid_to = $vt RETURN r',
        jsonb_build_object('uid', p_memory.user_id, 'mid', p_memory.id::text,
                           'vt', extract(epoch from coalesce(p_memory.valid_to, now()))));
end
$$;

create or replace function pymem.graph_facts(p_user_id text, p_as_of timestamptz default null)
    returns table (predicate text, entity text, entity_type text, memory_id uuid,
                   valid_from timestamptz, valid_to timestamptz, confidence double precision)
    language plpgsql stable security definer
    set search_path = ag_catalog, pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.acting_tenant();
begin
    perform _pymem.check_id('user_id', p_user_id);
    return query execute format(
        $q$select trim(both '"' from p::text), trim(both '"' from e::text), trim(both '"' from t::text),
                  trim(both '"' from m::text)::uuid, to_timestamp(vf::text::float8),
                  case when vt::text = 'null' or vt is null then null else to_timestamp(vt::text::float8) end,
                  c::text::float8
           from ag_catalog.cypher(%L, $c$
               MATCH (u:User {user_id: $uid})-[r]->(e:Entity)
               WHERE r.valid_from <= $at AND (r.valid_to IS NULL OR r.valid_to > $at)
               RETURN type(r), e.name, e.type, r.memory_id, r.valid_from, r.valid_to, r.confidence
           $c$, $1) as (p agtype, e agtype, t agtype, m agtype, vf agtype, vt agtype, c agtype)
           order by 1, 2, 4$q$, v_tenant.graph_name)
        using jsonb_build_object('uid', p_user_id, 'at', extract(epoch from coalesce(p_as_of, now())))::text::agtype;
end
$$;
comment on function pymem.graph_facts(text, timestamptz) is
    'The relations (User -[predicate]-> entity) valid for a user of the calling tenant at p_as_of '
    '(default now), from the tenant''s own graph. Tenant roles only.';

create or replace function pymem.graph_neighbors(p_user_id text, p_entity text, p_depth integer default 1)
    returns table (entity text, entity_type text, hops integer)
    language plpgsql stable security definer
    set search_path = ag_catalog, pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.acting_tenant();
    v_keys   text[];
begin
    perform _pymem.check_id('user_id', p_user_id);
    perform _pymem.check_id('entity', p_entity, 200);
    if p_depth is null or p_depth not between 1 and 3 then
        raise exception 'pymem: depth must be 1, 2 or 3' using errcode = '22023';
    end if;
    -- The entity as the user's memories know it (any type), or as the gazetteer types it.
    select array_agg(distinct me.entity_key) into v_keys from _pymem.memory_entities me
    where me.tenant_id = v_tenant.tenant_id and me.user_id = p_user_id and lower(me.entity_name) = lower(btrim(p_entity));
    if v_keys is null then
        return;
    end if;
    return query execute format(
        $q$select trim(both '"' from n::text), trim(both '"' from t::text), min(h::text::int)
           from ag_catalog.cypher(%L, $c$
               MATCH p = (e:Entity)-[:RELATED*1..%s {user_id: $uid}]-(n:Entity)
               WHERE e.key IN $keys AND NOT n.key IN $keys
               RETURN n.name, n.type, length(p)
           $c$, $1) as (n agtype, t agtype, h agtype)
           group by 1, 2 order by 3, 1$q$, v_tenant.graph_name, p_depth)
        using jsonb_build_object('uid', p_user_id, 'keys', to_jsonb(v_keys))::text::agtype;
end
$$;
comment on function pymem.graph_neighbors(text, text, integer) is
    'Entities related to p_entity in a user''s memories (stated together), up to p_depth hops, '
    'from the calling tenant''s own graph. Tenant roles only.';

-- Read-only Cypher on the caller's own graph, for exploring it: it runs as the owner (the only
-- role with AGE's functions), so what the text may say is an allow-list, checked word by word
-- before AGE sees it: the reading clauses, the functions below, no variable-length paths (a
-- pattern like [*] walks the whole graph), no casts (::) or qualified calls (x.f()), no
-- procedure calls. The query must RETURN one value (a map for several). It runs inside a
-- subtransaction that is always rolled back, read-only, under a 5 s statement timeout.
create or replace function pymem.cypher(p_query text, p_params jsonb default '{}')
    returns setof jsonb
    language plpgsql volatile security definer
    set search_path = ag_catalog, pg_catalog, @extensions@, pg_temp
as $fn$
declare
    c_clauses constant text[] := array['match', 'optional', 'where', 'with', 'return', 'order', 'by', 'skip', 'limit',
        'unwind', 'as', 'distinct', 'and', 'or', 'not', 'xor', 'in', 'is', 'null', 'true', 'false', 'asc', 'desc',
        'ascending', 'descending', 'starts', 'ends', 'contains', 'case', 'when', 'then', 'else', 'end'];
    c_functions constant text[] := array['count', 'collect', 'type', 'labels', 'keys', 'properties', 'id', 'size',
        'length', 'nodes', 'relationships', 'startnode', 'endnode', 'coalesce', 'tolower', 'toupper', 'tostring',
        'tointeger', 'tofloat', 'head', 'last', 'tail', 'abs', 'sum', 'min', 'max', 'avg', 'trim', 'ltrim', 'rtrim',
        'substring', 'replace', 'split', 'reverse', 'left', 'right', 'exists', 'range'];
    v_tenant _pymem.tenants := _pymem.acting_tenant();
    v_rows   jsonb[];
    v_code   text;
    v_call   text;
begin
    if p_query is null or length(p_query) > 10000 then
        raise exception 'pymem: a Cypher query of at most 10000 characters is required' using errcode = '22023';
    end if;
    if jsonb_typeof(coalesce(p_params, '{}')) <> 'object' then
        raise exception 'pymem: params must be a JSON object' using errcode = '22023';
    end if;
    -- The query without its string literals, for the checks (a name inside quotes is data).
    v_code := regexp_replace(p_query, '''(?:[^''\\]|\\.)*''|"(?:[^"\\]|\\.)*"', '''''', 'g');
    if v_code ~* '\m(create|merge|set|delete|remove|detach|call|load|drop|foreach|yield)\M' then
        raise exception 'pymem: pymem.cypher() is read-only (no CREATE, MERGE, SET, DELETE, REMOVE, CALL, LOAD)'
            using errcode = '25006';
    end if;
    if v_code ~ '::|\$c\$|;' or v_code ~ '\.\s*[A-Za-z_]\w*\s*\(' then
        raise exception 'pymem: pymem.cypher() allows no casts, qualified function calls or statement separators'
            using errcode = '42501';
    end if;
    if v_code ~ '\[[^\]]*\*[^\]]*\]' then
        raise exception 'pymem: pymem.cypher() allows no variable-length paths; use pymem.graph_neighbors()'
            using errcode = '42501';
    end if;
    for v_call in select lower(m[1]) from regexp_matches(v_code, '([A-Za-z_][\w]*)\s*\(', 'g') m loop
        continue when v_call = any(c_functions) or v_call = any(c_clauses);
        raise exception 'pymem: pymem.cypher() does not allow the function %', quote_literal(v_call)
            using errcode = '42501', hint = 'Allowed: ' || array_to_string(c_functions, ', ') || '.';
    end loop;
    begin
        perform set_config('transaction_read_only', 'on', true);
        perform set_config('statement_timeout', '5000', true);
        execute format('select array_agg(regexp_replace(ag_catalog.agtype_out(r)::text, ''::(vertex|edge|path)'', '''', ''g'')::jsonb)
                        from ag_catalog.cypher(%L, $c$%s$c$, $1) as (r ag_catalog.agtype)',
                       v_tenant.graph_name, p_query)
            into v_rows using coalesce(p_params, '{}')::text::ag_catalog.agtype;
        raise exception using errcode = 'P0004', message = 'pymem:rollback';
    exception
        when sqlstate 'P0004' then
            null;  -- the subtransaction (and its settings) is discarded; v_rows survives
    end;
    return query select unnest(coalesce(v_rows, '{}'));
end
$fn$;

comment on function pymem.cypher(text, jsonb) is
    'Read-only Cypher on the calling tenant''s own graph, from an allow-list of clauses (MATCH, OPTIONAL '
    'MATCH, WHERE, WITH, RETURN, ORDER BY, SKIP, LIMIT, UNWIND) and functions, without variable-length '
    'paths, casts or qualified calls, at most 5 s; the query RETURNs one value per row (a map for several), '
    'returned as jsonb. Tenant roles and their logins.';

-- The retrieval signal: memories of a user linked to the entities a query names (1.0), to
-- entities stated together with those (0.5), or, when the question asks for a type
-- ("what food ..."), to entities of that type (0.7). An entity of another type is no match.
-- Most queries name no known entity and ask for no type: they end after the two lookups
-- (~0.3 ms) without touching memory_entities. Its own statement in retrieve, ahead of the
-- main one (as a subquery there it cost ~1 ms a call even when it found nothing).
create or replace function _pymem.graph_scores(p_tenant_id text, p_user_id text, p_query text, p_limit integer)
    returns table (memory_id uuid, graph_score double precision)
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_named  text[];
    v_hinted text[];
    -- split once: inside the query below the split would run again for every type_hints row
    v_words  text[] := regexp_split_to_array(lower(coalesce(p_query, '')), '[^a-z]+');
begin
    select array_agg(_pymem.entity_key(r.entity_type, r.entity_name)) into v_named from _pymem.recognize(p_query) r;
    select array_agg(distinct h.entity_type) into v_hinted from _pymem.type_hints h where h.word = any(v_words);
    if v_named is null and v_hinted is null then
        return;
    end if;
    return query
    with related as (
        select distinct b.entity_key as key
        from _pymem.memory_entities a
        join _pymem.memory_entities b on b.tenant_id = a.tenant_id and b.memory_id = a.memory_id
        where a.tenant_id = p_tenant_id and a.user_id = p_user_id and a.entity_key = any(v_named)
          and not b.entity_key = any(v_named)
    ),
    scored as (
        select me.memory_id, 1.0::float8 as s from _pymem.memory_entities me
        where me.tenant_id = p_tenant_id and me.user_id = p_user_id and me.entity_key = any(v_named)
        union all
        select me.memory_id, 0.5 from _pymem.memory_entities me join related r on me.entity_key = r.key
        where me.tenant_id = p_tenant_id and me.user_id = p_user_id
        union all
        select me.memory_id, 0.7 from _pymem.memory_entities me
        where me.tenant_id = p_tenant_id and me.user_id = p_user_id and me.entity_type = any(v_hinted)
    )
    select s.memory_id, max(s.s) from scored s
    group by s.memory_id
    order by max(s.s) desc, s.memory_id desc
    limit p_limit;
end
$$;
