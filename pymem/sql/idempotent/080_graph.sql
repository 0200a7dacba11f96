-- 080_graph: the knowledge graph.
--
-- Each tenant has one AGE graph. Tenants reach it only through the functions here, which
-- are SECURITY DEFINER (they run as the install's owner, who owns every graph) and derive the
-- graph from the acting tenant (_pymem.acting_tenant()); no caller ever names a graph, and no
-- tenant role has USAGE on ag_catalog, so AGE's own functions (age_vle, age_vertex_stats,
-- cypher, ...) are out of reach: AGE's RLS support is young (variable-length paths bypass
-- it), and some of its functions crash the backend on bad input. A tenant owns no graph
-- table, so it can add no policy or trigger that owner-run code (erasure) would execute.
-- No caller text ever reaches Cypher (see pymem.graph_entities below).
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
    -- One constant text: only the graph's name is formatted in (%L); the depth filters the
    -- walk's lengths afterwards (a user's co-mention graph is small).
    return query execute format(
        $q$select trim(both '"' from n::text), trim(both '"' from t::text), min(h::text::int)
           from ag_catalog.cypher(%L, $c$
               MATCH p = (e:Entity)-[:RELATED*1..3 {user_id: $uid}]-(n:Entity)
               WHERE e.key IN $keys AND NOT n.key IN $keys
               RETURN n.name, n.type, length(p)
           $c$, $1) as (n agtype, t agtype, h agtype)
           where h::text::int <= $2
           group by 1, 2 order by 3, 1$q$, v_tenant.graph_name)
        using jsonb_build_object('uid', p_user_id, 'keys', to_jsonb(v_keys))::text::agtype, p_depth;
end
$$;
comment on function pymem.graph_neighbors(text, text, integer) is
    'Entities related to p_entity in a user''s memories (stated together), up to p_depth hops, '
    'from the calling tenant''s own graph. Tenant roles only.';

-- There is no way to send Cypher. AGE's C functions (cypher() itself, age_vle,
-- age_vertex_stats, ...) read any graph without privilege checks and crash the backend on
-- some inputs, and AGE's parser reads quotes differently from any checker written around it
-- (a quote inside a backtick name ended the text a check had stripped, and the rest ran as
-- SQL as the owner): an allow-list over text is the wrong design. pymem.cypher() is gone;
-- the graph is read through the fixed functions below (and graph_facts / graph_neighbors
-- above), whose queries pymem writes and whose inputs are bound values.
drop function if exists pymem.cypher(text, jsonb);

-- The relation types (edge labels) the graph can hold.
create or replace function pymem.graph_relation_types() returns setof text
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$ select unnest(_pymem.relation_predicates()) order by 1 $$;
comment on function pymem.graph_relation_types() is
    'The relation types a user''s graph may hold (User -[type]-> Entity). Anyone.';

-- A user's entities: what the user's memories name, with how many memories name each and
-- the relation types stated for it. Read from the entity map (no AGE involved); RLS keeps
-- it to the acting tenant.
create or replace function pymem.graph_entities(p_user_id text, p_limit integer default 100)
    returns table (entity text, entity_type text, memories bigint, relation_types text[])
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant_id text := _pymem.current_tenant_id();
begin
    perform _pymem.check_id('user_id', p_user_id);
    if p_limit is null or p_limit not between 1 and 1000 then
        raise exception 'pymem: limit must be between 1 and 1000' using errcode = '22023';
    end if;
    return query
    select min(me.entity_name), min(me.entity_type), count(distinct me.memory_id),
           coalesce(array_agg(distinct me.predicate order by me.predicate) filter (where me.predicate is not null), '{}')
    from _pymem.memory_entities me
    join _pymem.memories m on m.tenant_id = me.tenant_id and m.id = me.memory_id
    where me.tenant_id = v_tenant_id and me.user_id = p_user_id and m.status = 'active'
    group by me.entity_key
    order by count(distinct me.memory_id) desc, min(me.entity_name)
    limit p_limit;
end
$$;
comment on function pymem.graph_entities(text, integer) is
    'The entities a user''s active memories name (entity, type, how many memories, relation types), '
    'most mentioned first, at most p_limit (1-1000). Tenant roles and their logins.';

-- The shortest chains of co-mentions (entities stated in the same memory) that join two
-- entities of a user, up to p_max_hops (1-3). A recursive query over the entity map: the
-- same edges the graph's RELATED links hold, without handing AGE a path pattern.
create or replace function pymem.graph_paths(p_user_id text, p_from text, p_to text, p_max_hops integer default 3)
    returns table (path text[], hops integer)
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant_id text := _pymem.current_tenant_id();
begin
    perform _pymem.check_id('user_id', p_user_id);
    perform _pymem.check_id('from', p_from, 200);
    perform _pymem.check_id('to', p_to, 200);
    if p_max_hops is null or p_max_hops not between 1 and 3 then
        raise exception 'pymem: max_hops must be 1, 2 or 3' using errcode = '22023';
    end if;
    return query
    with recursive
    entities as (
        select me.memory_id, me.entity_key, min(me.entity_name) as name
        from _pymem.memory_entities me
        join _pymem.memories m on m.tenant_id = me.tenant_id and m.id = me.memory_id
        where me.tenant_id = v_tenant_id and me.user_id = p_user_id and m.status = 'active'
        group by me.memory_id, me.entity_key
    ),
    edges as (
        select distinct a.entity_key as a, b.entity_key as b
        from entities a join entities b on b.memory_id = a.memory_id and b.entity_key <> a.entity_key
    ),
    names as (select e.entity_key, min(e.name) as name from entities e group by e.entity_key),
    walk as (
        select array[n.entity_key] as keys, 0 as hops
        from names n where lower(n.name) = lower(btrim(p_from))
        union all
        select w.keys || e.b, w.hops + 1
        from walk w join edges e on e.a = w.keys[array_length(w.keys, 1)]
        where w.hops < p_max_hops and not e.b = any(w.keys)
    ),
    reached as (
        select w.keys, w.hops from walk w
        join names n on n.entity_key = w.keys[array_length(w.keys, 1)]
        where w.hops > 0 and lower(n.name) = lower(btrim(p_to))
    )
    select array(select n.name from unnest(r.keys) with ordinality k(key, i) join names n on n.entity_key = k.key
                 order by k.i), r.hops
    from reached r
    where r.hops = (select min(r2.hops) from reached r2)
    order by 1
    limit 20;
end
$$;
comment on function pymem.graph_paths(text, text, text, integer) is
    'The shortest chains of entities (stated together in a memory) joining p_from to p_to in a '
    'user''s active memories, at most p_max_hops (1-3) hops, at most 20 chains. Tenant roles and their logins.';

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
