-- 060_consistency: every non-episode write goes through _pymem.write_memory(), which
-- decides between five outcomes, in one place, inside the caller's transaction. Its slot is
-- the caller's (subject + attribute) or, when none is given, what pymem.analyze_statement()
-- (055_statements.sql) reads in the statement, for every writer alike:
--
--   ceased      the statement ends something ("I no longer use Vim"): stored as it is, and
--               the current memories it names are closed (never a positive fact)
--   duplicate   same slot and value, or an embedding at least dedup_similarity (0.95)
--               close: no new row; the existing memory gains a mention, last_seen,
--               importance and the new source.
--   superseded  same slot, different value (or, without slots, similarity at least
--               supersession_similarity, 0.92; or, for a statement with an update cue and
--               no vocabulary slot, update_cue_similarity): by the tenant's policy
--                 newest_wins    the newer observation becomes current, the older is
--                                closed (valid_to, superseded_by), never deleted
--                 most_frequent  the value mentioned more often stays current
--                 manual         the candidate waits as 'contested' in the
--                                contradictions queue for a person to decide
--   created     nothing related exists.
-- Every conflict is recorded in _pymem.contradictions (resolved or open), and every
-- change in memory_versions, so history can answer "what did the agent know at time X".
-- Episodes (raw turns) are a log: they are never deduplicated or superseded.

-- Before 0.2 the cap took no count; CREATE OR REPLACE cannot change that, so the old one goes.
drop function if exists _pymem.check_capacity(_pymem.tenants);

-- The tenant's cap (max_memories, default 100,000): refuses p_adding more memories when
-- the tenant holds max_memories already, with its own SQLSTATE (PM429) so callers can tell
-- it from bad input; the HTTP API answers 409. Raw turns count: ingest checks too.
create or replace function _pymem.check_capacity(p_tenant _pymem.tenants, p_adding integer default 1) returns void
    language plpgsql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_limit bigint := (_pymem.settings(p_tenant)->>'max_memories')::bigint;
    v_count bigint;
begin
    -- An early answer before any work, from the exact count (0015_tenant_counters.sql);
    -- the count trigger below is what holds the cap under concurrent writers. Definer (the
    -- count is the owner's), so only for the acting tenant's own row.
    if p_tenant.tenant_id is distinct from (_pymem.acting_tenant()).tenant_id then
        raise exception 'pymem: capacity of another tenant' using errcode = '42501';
    end if;
    if v_limit is null then
        return;
    end if;
    select u.memories into v_count from _pymem.tenant_usage u where u.tenant_id = p_tenant.tenant_id;
    if coalesce(v_count, 0) + greatest(p_adding, 0) > v_limit then
        perform _pymem.raise_capacity(p_tenant.tenant_id, coalesce(v_count, 0), v_limit);
    end if;
end
$$;

create or replace function _pymem.raise_capacity(p_tenant_id text, p_count bigint, p_limit bigint) returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, pg_temp
as $$
begin
    raise exception 'pymem: tenant % holds % memories; its limit is % (max_memories)', quote_literal(p_tenant_id),
        p_count, p_limit using errcode = 'PM429',
        hint = 'Raise max_memories in the tenant settings, or forget, compact or erase memories. Nothing was written.';
end
$$;

-- The exact count of a tenant's memories that are not forgotten, changed by every insert,
-- delete and forget on any partition, in the writing transaction. The count row's lock
-- orders a tenant's concurrent writers, so the cap holds exactly; other tenants' writers
-- never wait on it. Definer: the count is the installing role's, no tenant writes it.
create or replace function _pymem.count_memories() returns trigger
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant_id text := case when tg_op = 'DELETE' then old.tenant_id else new.tenant_id end;
    v_delta     integer := case when tg_op = 'INSERT' then 1
                                when tg_op = 'DELETE' then -1
                                when new.status = 'forgotten' then -1 else 1 end;
    v_count     bigint;
    v_limit     bigint;
begin
    insert into _pymem.tenant_usage as u (tenant_id, memories)
    values (v_tenant_id, greatest(v_delta, 0))
    on conflict (tenant_id) do update set memories = greatest(u.memories + v_delta, 0)
    returning u.memories into v_count;
    if v_delta > 0 then
        select (_pymem.settings(t)->>'max_memories')::bigint into v_limit from _pymem.tenants t
        where t.tenant_id = v_tenant_id;
        if v_count > v_limit then
            perform _pymem.raise_capacity(v_tenant_id, v_count - 1, v_limit);
        end if;
    end if;
    return null;
end
$$;

-- Its triggers are in 0015_tenant_counters.sql (created once: re-creating a trigger on every
-- migrate would lock every partition).

create or replace function _pymem.same_value(a text, b text) returns boolean
    language sql immutable parallel safe security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select lower(btrim(coalesce(a, ''))) = lower(btrim(coalesce(b, ''))) $$;

-- The existing memory gains a mention instead of a twin.
create or replace function _pymem.add_mention(p_existing _pymem.memories, p_new _pymem.memories) returns uuid
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_memory _pymem.memories;
begin
    update _pymem.memories m
       set mention_count = m.mention_count + 1,
           last_seen_at = greatest(m.last_seen_at, p_new.observed_at),
           importance = greatest(m.importance, p_new.importance),
           confidence = greatest(m.confidence, p_new.confidence),
           source = jsonb_set(m.source, '{mentions}',
                              (select coalesce(jsonb_agg(x), '[]') from (
                                   select x from jsonb_array_elements(coalesce(m.source->'mentions', '[]')
                                                                       || jsonb_build_array(p_new.source)) x
                                   offset greatest(jsonb_array_length(coalesce(m.source->'mentions', '[]')) + 1 - 20, 0)) s)),
           updated_at = now()
     where m.tenant_id = p_existing.tenant_id and m.id = p_existing.id
    returning * into v_memory;
    perform _pymem.record_version(v_memory, 'update', 'mentioned again');
    return v_memory.id;
end
$$;

create or replace function _pymem.insert_memory(p_memory _pymem.memories, p_reason text) returns _pymem.memories
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_memory _pymem.memories;
begin
    insert into _pymem.memories (tenant_id, user_id, agent_id, session_id, kind, content, embedding, subject,
                                 attribute, value, status, importance, confidence, observed_at, last_seen_at,
                                 valid_from, valid_to, superseded_by, source, metadata, statement)
    values (p_memory.tenant_id, p_memory.user_id, p_memory.agent_id, p_memory.session_id, p_memory.kind,
            p_memory.content, p_memory.embedding, p_memory.subject, p_memory.attribute, p_memory.value,
            coalesce(p_memory.status, 'active'), coalesce(p_memory.importance, 0.5), coalesce(p_memory.confidence, 1.0),
            coalesce(p_memory.observed_at, now()), coalesce(p_memory.observed_at, now()),
            coalesce(p_memory.valid_from, p_memory.observed_at, now()), p_memory.valid_to, p_memory.superseded_by,
            coalesce(p_memory.source, '{}'), coalesce(p_memory.metadata, '{}'), p_memory.statement)
    returning * into v_memory;
    perform _pymem.record_version(v_memory, 'create', p_reason);
    if v_memory.status <> 'contested' then
        perform _pymem.graph_link(v_memory);  -- a contested memory joins the graph when accepted
    end if;
    return v_memory;
end
$$;

-- The raw turns an extracted memory came from say something outdated once that memory is
-- replaced (closed by a newer one, or stored already outdated because it arrived late): they
-- point at the replacement, and retrieval ranks them below it. A turn is named by its
-- message id when the message had one, else by its position (the extractor records either).
create or replace function _pymem.mark_turns_outdated(p_memory _pymem.memories, p_by uuid) returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_turns uuid[];
begin
    if p_memory.kind = 'episode' or not p_memory.source ? 'episode_id'
       or jsonb_typeof(p_memory.source->'turns') is distinct from 'array' then
        return;
    end if;
    select e.memory_ids into v_turns from _pymem.episodes e
    where e.tenant_id = p_memory.tenant_id and e.id = (p_memory.source->>'episode_id')::uuid;
    update _pymem.memories t set superseded_by = p_by, updated_at = now()
     where t.tenant_id = p_memory.tenant_id and t.id = any(v_turns) and t.kind = 'episode'
       and (t.source->>'turn_index' in (select x from jsonb_array_elements_text(p_memory.source->'turns') x)
            or t.source->>'turn_id' in (select x from jsonb_array_elements_text(p_memory.source->'turns') x));
end
$$;

-- p_old stops being current because p_new replaces it from p_new.valid_from on. The raw
-- turns p_old was extracted from now say something outdated: they keep their row (what was
-- said stays searchable) and point at the replacement, which retrieval ranks above them.
create or replace function _pymem.close_memory(p_old _pymem.memories, p_new _pymem.memories, p_reason text) returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_memory _pymem.memories;
begin
    update _pymem.memories m
       set status = 'superseded', valid_to = greatest(p_new.valid_from, m.valid_from),
           superseded_by = p_new.id, updated_at = now()
     where m.tenant_id = p_old.tenant_id and m.id = p_old.id
    returning * into v_memory;
    perform _pymem.record_version(v_memory, 'supersede', p_reason);
    perform _pymem.graph_close(v_memory);
    perform _pymem.mark_turns_outdated(v_memory, p_new.id);
end
$$;

-- Regular-expression metacharacters of a text, escaped (to match a value as words).
create or replace function _pymem.regex_escape(p_text text) returns text
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$ select regexp_replace(coalesce(p_text, ''), '([.^$*+?()\[\]{}|\\/-])', '\\\1', 'g') $$;

-- A cessation ("I no longer use Vim"): the statement is stored as it is (it never holds a
-- slot, so it never reads as a positive fact), and the current memories it ends are closed,
-- superseded by it: those of the slot it names with the value it names, or whose value is
-- the thing it names ("coffee" in "I stopped drinking coffee" ends drink:coffee and
-- likes:coffee). Only where none is, the one memory that mentions it ("I do most of my work
-- in Photoshop" for "I no longer use Photoshop", "I'm on a rugby team" for "I gave up
-- rugby"); two or more such mentions are ambiguous and close nothing. (analyze_statement
-- reads a cessation only where its cue ends exactly the clean value it names.) Before that, any memory with the word
-- in it closed: "We're looking for economy tickets" ended six unrelated memories.
create or replace function _pymem.cease(p_tenant _pymem.tenants, p_memory _pymem.memories, p_statement jsonb,
                                        p_reason text) returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_new     _pymem.memories;
    v_old     _pymem.memories;
    v_closed  uuid[] := '{}';
    v_ids     uuid[];
    v_object  text := nullif(coalesce(p_statement->>'old_value', p_statement->>'object'), '');
    v_item    text := regexp_replace(_pymem.slug(v_object), '(?:e?s)$', '');
    v_words   text := case when length(v_object) >= 3 then '\m' || _pymem.regex_escape(v_object) || '(?:e?s)?\M' end;
begin
    p_memory.subject := null;
    p_memory.attribute := null;
    p_memory.value := null;
    v_new := _pymem.insert_memory(p_memory, p_reason);
    select coalesce(array_agg(m.id order by m.valid_from, m.id), '{}') into v_ids from _pymem.memories m
    where m.tenant_id = p_tenant.tenant_id and m.user_id = p_memory.user_id and m.status = 'active'
      and m.kind not in ('episode', 'procedural') and m.id <> v_new.id
      and coalesce(m.subject, 'user') = coalesce(p_statement->>'subject', 'user')
      and coalesce(m.statement->>'polarity', 'positive') <> 'cessation'
      and ((p_statement->>'cardinality' = 'one' and m.attribute = p_statement->>'attribute'
            and (p_statement->>'old_value' is null or _pymem.same_value(m.value, p_statement->>'old_value')))
           or (p_statement->>'cardinality' <> 'one' and m.attribute = p_statement->>'attribute')
           or (v_item <> '' and (regexp_replace(_pymem.slug(m.value), '(?:e?s)$', '') = v_item
                                 or regexp_replace(_pymem.slug(split_part(m.attribute, ':', 2)), '(?:e?s)$', '') = v_item)));
    if v_ids = '{}' and v_words is not null then
        select array_agg(m.id) into v_ids from _pymem.memories m
        where m.tenant_id = p_tenant.tenant_id and m.user_id = p_memory.user_id and m.status = 'active'
          and m.kind not in ('episode', 'procedural') and m.id <> v_new.id
          and coalesce(m.subject, 'user') = coalesce(p_statement->>'subject', 'user')
          and coalesce(m.statement->>'polarity', 'positive') <> 'cessation'
          and (m.value ~* v_words or m.content ~* v_words);
        v_ids := case when cardinality(v_ids) = 1 then v_ids else '{}' end;
    end if;
    for v_old in
        select m.* from _pymem.memories m
        where m.tenant_id = p_tenant.tenant_id and m.id = any(v_ids) and m.status = 'active'
        order by m.valid_from, m.id
        for update
    loop
        perform _pymem.close_memory(v_old, v_new, 'cessation: ' || left(v_new.content, 200));
        v_closed := v_closed || v_old.id;
    end loop;
    return jsonb_build_object('id', v_new.id, 'action', 'ceased', 'closed', to_jsonb(v_closed));
end
$$;

create or replace function _pymem.record_contradiction(
    p_existing _pymem.memories, p_candidate _pymem.memories, p_policy text, p_status text) returns uuid
    language sql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    insert into _pymem.contradictions (tenant_id, user_id, subject, attribute, existing_memory_id,
                                       candidate_memory_id, policy, status, resolved_by, resolved_at)
    values (p_existing.tenant_id, p_existing.user_id, p_existing.subject, p_existing.attribute, p_existing.id,
            p_candidate.id, p_policy, p_status,
            case when p_status = 'open' then null else 'policy:' || p_policy end,
            case when p_status = 'open' then null else now() end)
    returning id
$$;

create or replace function _pymem.write_memory(p_tenant _pymem.tenants, p_memory _pymem.memories, p_reason text)
    returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_settings  jsonb := _pymem.settings(p_tenant);
    v_policy    text := v_settings->>'supersession_policy';
    v_partition text := format('_pymem.%I', 'memories_' || p_tenant.storage_suffix);
    v_statement jsonb := p_memory.statement;
    v_said      vector;  -- the statement as said, for the holds head
    v_episode   uuid;    -- the episode the memory was read from, if its source names one
    v_has_slot  boolean;
    v_own       boolean;
    v_cue       boolean;
    v_existing  _pymem.memories;
    v_near      _pymem.memories;
    v_sim       double precision;
    v_new       _pymem.memories;
begin
    perform _pymem.check_capacity(p_tenant, 1);
    if p_memory.kind = 'episode' then
        v_new := _pymem.insert_memory(p_memory, p_reason);
        return jsonb_build_object('id', v_new.id, 'action', 'created');
    end if;

    -- 0. The slot: the caller's (subject + attribute), or what the statement itself says,
    -- read by pymem.analyze_statement() the same way for every writer. The reading is kept
    -- (memories.statement), so history and retrieval can show why.
    if p_memory.subject is null and p_memory.attribute is null then
        if v_statement is null or jsonb_typeof(v_statement) <> 'object' then
            v_statement := pymem.analyze_statement(p_memory.content, p_memory.user_id, false) - 'entities' - 'content';
            p_memory.statement := v_statement;
        end if;
        if v_statement->>'polarity' = 'cessation' and v_statement->>'modality' = 'assertion'
           and coalesce(v_statement->>'attribute', v_statement->>'object', v_statement->>'old_value') is not null then
            return _pymem.cease(p_tenant, p_memory, v_statement, coalesce(p_reason, 'cessation'));
        end if;
        if v_statement->>'attribute' is not null and v_statement->>'polarity' = 'positive' then
            p_memory.subject := v_statement->>'subject';
            p_memory.attribute := left(v_statement->>'attribute', 256);
            p_memory.value := coalesce(v_statement->>'value', p_memory.content);
        end if;
    else
        v_statement := null;  -- the caller named the slot: it decides
    end if;
    v_has_slot := p_memory.subject is not null and p_memory.attribute is not null;
    -- A statement no vocabulary attribute covers has a slot of its own (or none). With an
    -- update cue it may still replace the nearest memory of its kind, below.
    v_own := v_statement is not null and coalesce(v_statement->>'cardinality', 'own') = 'own';
    -- A clause the extractor kept only because it corrects something (_pymem.extract) closes nothing.
    v_cue := v_own and coalesce((v_statement->>'update_cue')::boolean, false)
             and v_statement->>'kept_for' is distinct from 'correction'
             and v_statement->>'modality' = 'assertion' and v_statement->>'subject' = 'user';

    -- 1. The slot's current memory (locked: concurrent writers to one slot serialise).
    if v_has_slot then
        select * into v_existing from _pymem.memories m
        where m.tenant_id = p_tenant.tenant_id and m.user_id = p_memory.user_id
          and m.subject = p_memory.subject and m.attribute = p_memory.attribute and m.status = 'active'
        order by m.valid_from desc, m.id desc
        limit 1
        for update;
        if found and _pymem.same_value(v_existing.value, p_memory.value) then
            return jsonb_build_object('id', _pymem.add_mention(v_existing, p_memory), 'action', 'duplicate');
        end if;
        if v_policy = 'most_frequent' then
            -- A value said again that lost earlier may now be the most frequent one.
            select * into v_near from _pymem.memories m
            where m.tenant_id = p_tenant.tenant_id and m.user_id = p_memory.user_id
              and m.subject = p_memory.subject and m.attribute = p_memory.attribute
              and m.status = 'superseded' and _pymem.same_value(m.value, p_memory.value)
            order by m.mention_count desc, m.valid_from desc
            limit 1
            for update;
            if found then
                perform _pymem.add_mention(v_near, p_memory);
                if v_existing.id is not null and v_near.mention_count + 1 > v_existing.mention_count then
                    update _pymem.memories m set status = 'active', valid_to = null, superseded_by = null,
                                                 valid_from = greatest(m.valid_from, p_memory.valid_from), updated_at = now()
                     where m.tenant_id = v_near.tenant_id and m.id = v_near.id
                    returning * into v_near;
                    perform _pymem.record_version(v_near, 'restore', 'now the most frequent value');
                    perform _pymem.close_memory(v_existing, v_near, 'a more frequent value returned');
                    perform _pymem.record_contradiction(v_existing, v_near, v_policy, 'accepted_new');
                    return jsonb_build_object('id', v_near.id, 'action', 'superseded', 'superseded', v_existing.id);
                end if;
                return jsonb_build_object('id', v_near.id, 'action', 'duplicate');
            end if;
        end if;
    end if;

    -- 2. Without a slot decision, the nearest memory of the same kind by meaning.
    if v_existing.id is null and p_memory.embedding is not null then
        execute format('select m.* from %s m where m.user_id = $1 and m.status = ''active'' and m.kind = $2
                          and m.embedding is not null order by m.embedding <=> $3 limit 1 for update', v_partition)
            into v_near using p_memory.user_id, p_memory.kind, p_memory.embedding;
        if v_near.id is not null then
            v_sim := 1 - (v_near.embedding <=> p_memory.embedding);
            -- Slots that disagree outrank similarity: "likes:dog" and "likes:cat" read alike.
            -- Only a statement with an update cue and a slot of its own may replace a memory of
            -- another slot of its own (or of none): "Actually, aisle seats suit me now".
            if v_has_slot and v_near.attribute is not null
               and (v_near.subject, v_near.attribute) is distinct from (p_memory.subject, p_memory.attribute)
               and not (v_cue and coalesce(v_near.subject, 'user') = 'user'
                        and not exists (select from _pymem.attributes a where a.attribute = split_part(v_near.attribute, ':', 1))
                        and v_sim >= (v_settings->>'update_cue_similarity')::float8) then
                v_near := null;
            elsif v_sim >= (v_settings->>'dedup_similarity')::float8
                  and (not v_has_slot or v_near.attribute is null or _pymem.same_value(v_near.value, p_memory.value)) then
                return jsonb_build_object('id', _pymem.add_mention(v_near, p_memory), 'action', 'duplicate',
                                          'similarity', v_sim);
            elsif v_sim >= (v_settings->>'supersession_similarity')::float8 and p_memory.kind in ('fact', 'preference') then
                v_existing := v_near;
            elsif v_cue and coalesce(v_near.subject, 'user') = 'user'
                  and v_sim >= (v_settings->>'update_cue_similarity')::float8 then
                v_existing := v_near;
            end if;
        end if;
    end if;

    if v_existing.id is null then
        v_new := _pymem.insert_memory(p_memory, p_reason);
        return jsonb_build_object('id', v_new.id, 'action', 'created');
    end if;

    -- A reading the learned holds head doubts (another person's value, a plan or a one-off, a
    -- hypothetical, a hedge, a question: _pymem.holds_now, 019_change_reading.sql) replaces
    -- nothing: the memory is written without its slot, as the words were said ("An upper-deck
    -- seat is what User's colleague always books", not "User prefers upper-deck seat"), and
    -- retrieval orders the two by time. A slot a caller named by hand (no reading kept with
    -- the memory) is the caller's decision; an extractor's reading is a reading. The head
    -- reads the statement as said: the turn a memory was read from, else the memory.
    -- (The turn is read from the tenant's own partition: through the parent table the plan
    -- would lock every tenant's. A turn is matched as text.)
    if jsonb_typeof(p_memory.statement) = 'object' and p_memory.embedding is not null then
        v_episode := _pymem.source_episode(p_memory.source);
        if v_episode is not null then
            execute format('select t.embedding from _pymem.episodes e join %s t on t.tenant_id = e.tenant_id and t.id = any(e.memory_ids)
                            where e.tenant_id = $1 and e.id = $2
                              and (t.source->>''turn_index'' = $3 or t.source->>''turn_id'' = $3)
                            order by t.id limit 1', v_partition)
                into v_said using p_tenant.tenant_id, v_episode, p_memory.source->'turns'->>0;
        end if;
        v_said := coalesce(v_said, p_memory.embedding);
    end if;
    if v_said is not null and not _pymem.holds_now(v_said) then
        p_memory.subject := null;
        p_memory.attribute := null;
        p_memory.value := null;
        if coalesce(p_memory.statement->>'statement', '') ~ '[[:alnum:]]' then
            p_memory.content := left(_pymem.third_person(p_memory.statement->>'statement'), 100000);
            p_memory.embedding := v_said;
        end if;
        v_new := _pymem.insert_memory(p_memory, p_reason);
        return jsonb_build_object('id', v_new.id, 'action', 'created', 'held_back', v_existing.id);
    end if;

    -- 3. A conflict with v_existing: apply the tenant's policy.
    if v_policy = 'manual' then
        p_memory.status := 'contested';
        v_new := _pymem.insert_memory(p_memory, p_reason);
        perform _pymem.record_contradiction(v_existing, v_new, v_policy, 'open');
        return jsonb_build_object('id', v_new.id, 'action', 'contested', 'existing', v_existing.id);
    end if;
    if coalesce(p_memory.valid_from, p_memory.observed_at, now()) < v_existing.valid_from
       or (v_policy = 'most_frequent' and v_existing.mention_count > 1) then
        -- Older news (arrived late), or outvoted: recorded, but not current.
        p_memory.status := 'superseded';
        p_memory.superseded_by := v_existing.id;
        p_memory.valid_to := greatest(v_existing.valid_from, coalesce(p_memory.valid_from, p_memory.observed_at, now()));
        v_new := _pymem.insert_memory(p_memory, p_reason);
        perform _pymem.mark_turns_outdated(v_new, v_existing.id);
        perform _pymem.record_contradiction(v_existing, v_new, v_policy, 'kept_existing');
        return jsonb_build_object('id', v_new.id, 'action', 'outdated', 'current', v_existing.id);
    end if;
    v_new := _pymem.insert_memory(p_memory, p_reason);
    perform _pymem.close_memory(v_existing, v_new, coalesce(p_reason, 'newer statement'));
    perform _pymem.record_contradiction(v_existing, v_new, v_policy, 'accepted_new');
    return jsonb_build_object('id', v_new.id, 'action', 'superseded', 'superseded', v_existing.id);
end
$$;

-- A correction the caller makes by naming the memory: a new version of it with the new text
-- (its user, kind, importance, session and metadata kept), which supersedes the old one from
-- now on; the old one stays in history (status superseded, superseded_by the new id). The
-- caller names the memory, so unlike write_memory nothing is searched for: no duplicate
-- check, no slot lookup. The slot is what the new text says, else the old memory's own.
create or replace function pymem.update_memory(p_memory_id uuid, p_content text, p_embedding vector default null)
    returns uuid
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant    _pymem.tenants := _pymem.require_tenant();
    v_old       _pymem.memories;
    v_new       _pymem.memories;
    v_statement jsonb;
begin
    if p_content is null or length(btrim(p_content)) = 0 then
        raise exception 'pymem: content must be a non-empty string' using errcode = '22023';
    end if;
    if length(p_content) > 100000 then
        raise exception 'pymem: content is % characters long; the limit is 100000', length(p_content)
            using errcode = '22023';
    end if;
    perform _pymem.check_embedding(p_embedding);
    select * into v_old from _pymem.memories m
    where m.tenant_id = v_tenant.tenant_id and m.id = p_memory_id
    for update;
    if not found then
        raise exception 'pymem: no memory %', p_memory_id using errcode = '42704';
    end if;
    if v_old.kind = 'episode' then
        raise exception 'pymem: memory % is a conversation turn, kept as it was said; remember the correction instead',
            p_memory_id using errcode = '22023';
    end if;
    if v_old.status <> 'active' then
        raise exception 'pymem: memory % is %, not current%', p_memory_id, v_old.status,
            case when v_old.superseded_by is not null then '; update ' || v_old.superseded_by::text || ', which replaced it'
                 else '' end
            using errcode = '22023';
    end if;
    perform _pymem.check_capacity(v_tenant, 1);

    v_new := v_old;
    v_new.id := null;
    v_new.content := p_content;
    v_new.embedding := p_embedding;
    v_new.status := 'active';
    v_new.valid_to := null;
    v_new.superseded_by := null;
    v_new.observed_at := now();
    v_new.valid_from := now();
    v_new.source := jsonb_build_object('updates', p_memory_id);
    v_statement := pymem.analyze_statement(p_content, v_old.user_id, false) - 'entities' - 'content';
    v_new.statement := v_statement;
    if v_statement->>'attribute' is not null and v_statement->>'polarity' = 'positive' then
        v_new.subject := v_statement->>'subject';
        v_new.attribute := left(v_statement->>'attribute', 256);
        v_new.value := coalesce(v_statement->>'value', p_content);
    elsif v_old.subject is not null then
        v_new.value := p_content;
    end if;
    v_new := _pymem.insert_memory(v_new, 'update');
    perform _pymem.close_memory(v_old, v_new, 'updated');
    return v_new.id;
end
$$;
comment on function pymem.update_memory(uuid, text, vector) is
    'Replaces one current memory of the calling tenant with a new version holding p_content (and '
    'p_embedding): the old one is superseded from now on and stays in history. Tenant roles only. '
    'Returns the new memory''s id; 42704 for no such memory, 22023 for a raw turn or a memory no '
    'longer current (the message names its replacement).';

-- History: what the agent knew about a user at a moment, on the observation timeline
-- (valid_from/valid_to come from when statements were made, so back-filled conversations
-- answer for their own dates; for live traffic this is also when they were recorded).
create or replace function pymem.history(p_user_id text, p_as_of timestamptz)
    returns table (id uuid, kind text, content text, subject text, attribute text, value text,
                   status text, valid_from timestamptz, valid_to timestamptz, created_at timestamptz,
                   superseded_by uuid, mention_count integer)
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.require_tenant();
begin
    perform _pymem.check_id('user_id', p_user_id);
    if p_as_of is null then
        raise exception 'pymem: as_of is required' using errcode = '22023';
    end if;
    return query
    select m.id, m.kind, m.content, m.subject, m.attribute, m.value, m.status, m.valid_from, m.valid_to,
           m.created_at, m.superseded_by, m.mention_count
    from _pymem.memories m
    where m.tenant_id = v_tenant.tenant_id and m.user_id = p_user_id
      and m.status not in ('forgotten', 'contested')
      and m.valid_from <= p_as_of and (m.valid_to is null or m.valid_to > p_as_of)
      and (m.archived_at is null or m.archived_at > p_as_of)
    order by m.valid_from, m.id;
end
$$;
comment on function pymem.history(text, timestamptz) is
    'What the agent knew about a user of the calling tenant at p_as_of: the memories valid then '
    '(superseded later or not), oldest first. Tenant roles only.';

-- The contradictions queue (policy manual), and the record of automatic resolutions.
create or replace function pymem.contradictions(p_status text default 'open')
    returns table (id uuid, user_id text, subject text, attribute text, policy text, status text,
                   existing_memory_id uuid, existing_content text, candidate_memory_id uuid,
                   candidate_content text, detected_at timestamptz, resolved_at timestamptz)
    language sql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select c.id, c.user_id, c.subject, c.attribute, c.policy, c.status,
           c.existing_memory_id, e.content, c.candidate_memory_id, n.content, c.detected_at, c.resolved_at
    from _pymem.contradictions c
    left join _pymem.memories e on e.tenant_id = c.tenant_id and e.id = c.existing_memory_id
    left join _pymem.memories n on n.tenant_id = c.tenant_id and n.id = c.candidate_memory_id
    where c.tenant_id = (select _pymem.current_tenant_id()) and (p_status is null or c.status = p_status)
    order by c.detected_at, c.id
$$;
comment on function pymem.contradictions(text) is
    'Slot conflicts of the calling tenant, by status (open = waiting for review; null = all). Tenant roles only.';

create or replace function pymem.resolve_contradiction(p_id uuid, p_resolution text) returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant    _pymem.tenants := _pymem.require_tenant();
    v_row       _pymem.contradictions;
    v_existing  _pymem.memories;
    v_candidate _pymem.memories;
begin
    if p_resolution is null or p_resolution not in ('keep_existing', 'accept_new', 'keep_both') then
        raise exception 'pymem: resolution must be keep_existing, accept_new or keep_both' using errcode = '22023';
    end if;
    select * into v_row from _pymem.contradictions c
    where c.tenant_id = v_tenant.tenant_id and c.id = p_id for update;
    if not found then
        raise exception 'pymem: unknown contradiction %', p_id using errcode = '42704';
    end if;
    if v_row.status <> 'open' then
        raise exception 'pymem: contradiction % is already resolved (%)', p_id, v_row.status using errcode = '22023';
    end if;
    select * into v_existing from _pymem.memories m where m.tenant_id = v_tenant.tenant_id and m.id = v_row.existing_memory_id for update;
    select * into v_candidate from _pymem.memories m where m.tenant_id = v_tenant.tenant_id and m.id = v_row.candidate_memory_id for update;
    if p_resolution = 'keep_existing' then
        update _pymem.memories m set status = 'superseded', superseded_by = v_existing.id, valid_to = now(), updated_at = now()
         where m.tenant_id = v_tenant.tenant_id and m.id = v_candidate.id returning * into v_candidate;
        perform _pymem.record_version(v_candidate, 'supersede', 'contradiction resolved: kept existing');
    else
        update _pymem.memories m set status = 'active', valid_from = now(), updated_at = now()
         where m.tenant_id = v_tenant.tenant_id and m.id = v_candidate.id returning * into v_candidate;
        perform _pymem.record_version(v_candidate, 'restore', 'contradiction resolved: ' || p_resolution);
        perform _pymem.graph_link(v_candidate);
        if p_resolution = 'accept_new' and v_existing.status = 'active' then
            perform _pymem.close_memory(v_existing, v_candidate, 'contradiction resolved: accepted new');
        end if;
    end if;
    update _pymem.contradictions c
       set status = case p_resolution when 'keep_existing' then 'kept_existing'
                                      when 'accept_new' then 'accepted_new' else 'kept_both' end,
           resolved_at = now(), resolved_by = current_user
     where c.tenant_id = v_tenant.tenant_id and c.id = p_id;
    return jsonb_build_object('id', p_id, 'resolution', p_resolution,
                              'current', case when p_resolution = 'keep_existing' then v_existing.id else v_candidate.id end);
end
$$;
comment on function pymem.resolve_contradiction(uuid, text) is
    'Resolves an open contradiction of the calling tenant: keep_existing, accept_new or keep_both. '
    'Tenant roles only. Returns the decision and the current memory id.';
