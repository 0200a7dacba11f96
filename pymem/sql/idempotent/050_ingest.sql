-- 050_ingest: the asynchronous write path.
--
--   pymem.ingest()             tenant role: validate, enqueue the episode, make its user
--                              turns searchable at once (BM25), NOTIFY. Returns at once.
--   _pymem.claim_episodes()    service role (the worker): claim due jobs with SKIP LOCKED
--                              under a lease; expired leases come back.
--   pymem.apply_extraction()   tenant role: apply one episode's extraction in one call, in
--                              one transaction, only for the worker that holds the claim.
--   _pymem.fail_episode()      service role: back to pending with a delay, or dead letter.
--   _pymem.release_episodes()  service role: hand back a stopping worker's claims.
--   pymem.retry_dead()         service role: re-queue dead letters.
--   pymem.queue_stats()        service role: queue depth per tenant and state.

-- Registers the user on first write (and refreshes last_seen at most once a minute), or,
-- for tenants with auto_register_users = false, refuses users nobody registered.
create or replace function _pymem.touch_user(p_tenant _pymem.tenants, p_user_id text) returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    if (_pymem.settings(p_tenant)->>'auto_register_users')::boolean then
        insert into _pymem.users as u (tenant_id, user_id) values (p_tenant.tenant_id, p_user_id)
        on conflict (tenant_id, user_id) do update set last_seen_at = now()
        where u.last_seen_at < now() - interval '1 minute';
    -- (FOR SHARE: the row is the lock an erasure of the user takes; see erase_user.)
    elsif not exists (select from _pymem.users u where u.tenant_id = p_tenant.tenant_id and u.user_id = p_user_id
                      for share) then
        raise exception 'pymem: unknown user %', quote_literal(left(p_user_id, 80))
            using errcode = '42704', hint = 'This tenant registers users explicitly: pymem.register_user(user_id).';
    end if;
end
$$;

create or replace function pymem.register_user(p_user_id text) returns boolean
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.require_tenant();
begin
    perform _pymem.check_id('user_id', p_user_id);
    insert into _pymem.users (tenant_id, user_id) values (v_tenant.tenant_id, p_user_id)
    on conflict do nothing;
    return found;
end
$$;
comment on function pymem.register_user(text) is
    'Registers a user of the calling tenant (needed only where auto_register_users is false). '
    'Tenant roles only. Returns false when the user existed already.';

-- The calling tenant's users, by id, a page at a time (p_after: the last id of the page
-- before), each with how many current memories it has (raw turns not counted).
create or replace function pymem.list_users(p_limit integer default 100, p_after text default null)
    returns table (user_id text, memories bigint, created_at timestamptz, last_seen_at timestamptz)
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    if p_limit is null or p_limit < 1 or p_limit > 1000 then
        raise exception 'pymem: limit must be between 1 and 1000' using errcode = '22023';
    end if;
    if p_after is not null then
        perform _pymem.check_id('after', p_after);
    end if;
    return query
        select u.user_id,
               (select count(*) from _pymem.memories m
                where m.tenant_id = u.tenant_id and m.user_id = u.user_id and m.status = 'active'
                  and m.kind <> 'episode'),
               u.created_at, u.last_seen_at
        from _pymem.users u
        where u.tenant_id = (select _pymem.current_tenant_id()) and (p_after is null or u.user_id > p_after)
        order by u.user_id
        limit p_limit;
end
$$;
comment on function pymem.list_users(integer, text) is
    'The calling tenant''s users in id order, at most p_limit (1-1000) after p_after, each with its '
    'count of current memories. Tenant roles only.';

-- A turn's text normalised for "said again" (case and spacing ignored), hashed. Episodes
-- keep it in memories.turn_hash, set by the trigger below on every insert and content change:
-- ingest finds an earlier identical turn by that column (0012_turn_hash.sql says why a column).
create or replace function _pymem.turn_hash(p_content text) returns text
    language sql immutable parallel safe security invoker
    set search_path = pg_catalog, pg_temp
as $$ select md5(lower(regexp_replace(btrim(p_content), '\s+', ' ', 'g'))) $$;

create or replace function _pymem.set_turn_hash() returns trigger
    language plpgsql security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    new.turn_hash := case when new.kind = 'episode' then _pymem.turn_hash(new.content) end;
    return new;
end
$$;
create or replace trigger memories_turn_hash before insert or update of content, kind on _pymem.memories
    for each row execute function _pymem.set_turn_hash();

create or replace function pymem.ingest(
    p_user_id     text,
    p_messages    jsonb,
    p_session_id  text default null,
    p_metadata    jsonb default '{}',
    p_agent_id    text default null,
    p_observed_at timestamptz default null)
    returns uuid
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant   _pymem.tenants := _pymem.require_tenant();
    v_settings jsonb := _pymem.settings(v_tenant);
    v_episode  uuid := _pymem.new_id();
    v_observed timestamptz := coalesce(p_observed_at, now());
    v_message  jsonb;
    v_index    integer := 0;
    v_role     text;
    v_content  text;
    v_ids      uuid[] := '{}';
    v_memory   _pymem.memories;
begin
    perform _pymem.check_id('user_id', p_user_id);
    if p_session_id is not null then perform _pymem.check_id('session_id', p_session_id); end if;
    if p_agent_id is not null then perform _pymem.check_id('agent_id', p_agent_id); end if;
    if p_messages is null or jsonb_typeof(p_messages) <> 'array' then
        raise exception 'pymem: messages must be a JSON array of {role, content} objects' using errcode = '22023';
    end if;
    if jsonb_array_length(p_messages) = 0 then
        raise exception 'pymem: messages is empty' using errcode = '22023';
    end if;
    if jsonb_array_length(p_messages) > (v_settings->>'max_messages_per_ingest')::int then
        raise exception 'pymem: % messages in one ingest; the limit is %',
            jsonb_array_length(p_messages), v_settings->>'max_messages_per_ingest' using errcode = '22023';
    end if;
    if octet_length(p_messages::text) > (v_settings->>'max_ingest_bytes')::int then
        raise exception 'pymem: messages are % bytes; the limit is %',
            octet_length(p_messages::text), v_settings->>'max_ingest_bytes' using errcode = '22023';
    end if;
    if jsonb_typeof(coalesce(p_metadata, '{}')) <> 'object' then
        raise exception 'pymem: metadata must be a JSON object' using errcode = '22023';
    end if;
    perform _pymem.check_json('metadata', p_metadata);
    perform _pymem.check_json('messages', p_messages, 8, 2147483647);
    perform _pymem.check_time('observed_at', p_observed_at);
    -- Validate every message before writing anything: no half-written episodes.
    for v_message in select value from jsonb_array_elements(p_messages) loop
        if jsonb_typeof(v_message) <> 'object' then
            raise exception 'pymem: message % is not an object', v_index using errcode = '22023';
        end if;
        v_role := v_message->>'role';
        if v_role is null or v_role not in ('user', 'assistant', 'system', 'tool') then
            raise exception 'pymem: message % has role %; roles are user, assistant, system, tool',
                v_index, coalesce(quote_literal(left(v_role, 40)), 'NULL') using errcode = '22023';
        end if;
        if jsonb_typeof(v_message->'content') is distinct from 'string' or length(btrim(v_message->>'content')) = 0 then
            raise exception 'pymem: message % has no text content', v_index using errcode = '22023';
        end if;
        if length(v_message->>'content') > (v_settings->>'max_message_chars')::int then
            raise exception 'pymem: message % is % characters long; the limit is %',
                v_index, length(v_message->>'content'), v_settings->>'max_message_chars' using errcode = '22023';
        end if;
        if v_message ? 'name' then perform _pymem.check_id(format('message %s name', v_index), v_message->>'name', 100); end if;
        if v_message ? 'id' then perform _pymem.check_id(format('message %s id', v_index), v_message->>'id', 200); end if;
        v_index := v_index + 1;
    end loop;
    -- A tenant's backlog is bounded: one tenant's flood cannot fill the queue every tenant's
    -- extraction shares (claims take turns by tenant; this bounds what waits).
    if exists (select from _pymem.episodes e
               where e.tenant_id = v_tenant.tenant_id and e.status = 'pending'
               order by e.enqueued_at, e.id
               offset (v_settings->>'max_pending_episodes')::int - 1 limit 1) then
        raise exception 'pymem: tenant % has % episodes waiting for extraction (max_pending_episodes)',
            quote_literal(v_tenant.tenant_id), v_settings->>'max_pending_episodes' using errcode = 'PM429',
            hint = 'Retry later, run more workers (pymem worker), or raise max_pending_episodes. Nothing was written.';
    end if;
    -- The turns to index count against the tenant's cap; over it, nothing is written.
    perform _pymem.check_capacity(v_tenant, (select count(*)::int from jsonb_array_elements(p_messages) m
                                              where m->>'role' in (select jsonb_array_elements_text(v_settings->'index_roles'))));
    perform _pymem.touch_user(v_tenant, p_user_id);

    -- Raw turns of the indexed roles become episode memories now: BM25 finds them before
    -- any worker runs; the worker adds their vectors. A turn the user said before in the same
    -- session, word for word (up to case and spacing), is not stored twice: the earlier row
    -- gains a mention (the episode still points at it, so its extraction still runs).
    v_index := 0;
    for v_message in select value from jsonb_array_elements(p_messages) loop
        if v_message->>'role' in (select jsonb_array_elements_text(v_settings->'index_roles')) then
            v_content := case when v_message ? 'name' then (v_message->>'name') || ': ' else '' end
                         || (v_message->>'content');
            select * into v_memory from _pymem.memories m
            where m.tenant_id = v_tenant.tenant_id and m.user_id = p_user_id and m.kind = 'episode'
              and m.turn_hash = _pymem.turn_hash(left(v_content, 100000))
              and m.session_id is not distinct from p_session_id and m.status = 'active'
            order by m.observed_at desc, m.id desc
            limit 1
            for update;
            if found then
                update _pymem.memories m
                   set mention_count = m.mention_count + 1, last_seen_at = greatest(m.last_seen_at, v_observed),
                       updated_at = now()
                 where m.tenant_id = v_memory.tenant_id and m.id = v_memory.id
                returning * into v_memory;
                perform _pymem.record_version(v_memory, 'update', 'said again');
                v_ids := v_ids || v_memory.id;
                v_index := v_index + 1;
                continue;
            end if;
            v_memory := null;
            v_memory.tenant_id := v_tenant.tenant_id;
            v_memory.user_id := p_user_id;
            v_memory.agent_id := p_agent_id;
            v_memory.session_id := p_session_id;
            v_memory.kind := 'episode';
            v_memory.content := left(v_content, 100000);
            v_memory.importance := (v_settings->>'episode_importance')::real;
            v_memory.observed_at := v_observed;
            v_memory.valid_from := v_observed;
            v_memory.source := jsonb_strip_nulls(jsonb_build_object(
                'episode_id', v_episode, 'turn_index', v_index, 'turn_id', v_message->>'id', 'role', v_message->>'role'));
            v_memory.metadata := coalesce(p_metadata, '{}');
            v_memory := _pymem.insert_memory(v_memory, 'ingest');
            v_ids := v_ids || v_memory.id;
        end if;
        v_index := v_index + 1;
    end loop;

    insert into _pymem.episodes (tenant_id, id, user_id, agent_id, session_id, messages, metadata,
                                 observed_at, memory_ids)
    values (v_tenant.tenant_id, v_episode, p_user_id, p_agent_id, p_session_id, p_messages,
            coalesce(p_metadata, '{}'), v_observed, v_ids);
    return v_episode;
end
$$;
comment on function pymem.ingest(text, jsonb, text, jsonb, text, timestamptz) is
    'Enqueues one conversation episode ([{role, content, name?, id?}]) for a user of the calling '
    'tenant and returns its id at once; user turns are searchable immediately (lexically), '
    'extracted memories follow from the workers. Tenant roles only.';

create or replace function _pymem.claim_episodes(
    p_worker_id text, p_limit integer default 16, p_lease_seconds integer default 60,
    p_max_attempts integer default 5)
    returns table (tenant_id text, id uuid, role_name name, user_id text, agent_id text, session_id text,
                   messages jsonb, metadata jsonb, attempts integer, enqueued_at timestamptz,
                   observed_at timestamptz, memory_ids uuid[], turn_texts text[])
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    -- A job whose lease expired max_attempts times keeps killing its workers: dead letter.
    update _pymem.episodes e
       set status = 'dead', lease_until = null, worker_id = null,
           last_error = coalesce(e.last_error || E'\n', '') || format('lease expired on attempt %s', e.attempts)
     where e.status = 'processing' and e.lease_until < now() and e.attempts >= p_max_attempts;

    -- Tenants take turns: the tenants with pending work (a skip scan of
    -- episodes_tenant_queue_idx), the longest-waiting first, each get an equal share of the
    -- claim (at least one episode) from the front of their own queue. One tenant's backlog
    -- of thousands delays another tenant's first episode by at most one claim. Expired
    -- leases come back first. The claimed episodes are returned in arrival order, which is
    -- the order the worker applies them in (an older statement applied after a newer one
    -- would be stored as the current value).
    return query
    with recursive active(tenant_id) as (
        (select e.tenant_id from _pymem.episodes e where e.status = 'pending' order by e.tenant_id limit 1)
        union all
        select (select e.tenant_id from _pymem.episodes e
                where e.status = 'pending' and e.tenant_id > a.tenant_id order by e.tenant_id limit 1)
        from active a where a.tenant_id is not null
    ),
    heads as (
        select a.tenant_id, h.enqueued_at
        from active a
        cross join lateral (select e.enqueued_at from _pymem.episodes e
                            where e.tenant_id = a.tenant_id and e.status = 'pending' and e.next_attempt_at <= now()
                            order by e.enqueued_at, e.id limit 1) h
        where a.tenant_id is not null
        order by h.enqueued_at, a.tenant_id
        limit p_limit
    ),
    share as (select greatest(1, ceil(p_limit::numeric / greatest(count(*), 1)))::int as n from heads),
    expired as (
        select e.tenant_id, e.id, e.enqueued_at, 0::bigint as turn, e.lease_until as waiting_since
        from _pymem.episodes e
        where e.status = 'processing' and e.lease_until < now()
        order by e.lease_until
        limit p_limit
        for update skip locked
    ),
    fair as (
        select c.tenant_id, c.id, c.enqueued_at, c.turn, h.enqueued_at as waiting_since
        from heads h cross join share s
        cross join lateral (select e.tenant_id, e.id, e.enqueued_at,
                                   row_number() over (order by e.enqueued_at, e.id) as turn
                            from (select e.tenant_id, e.id, e.enqueued_at from _pymem.episodes e
                                  where e.tenant_id = h.tenant_id and e.status = 'pending' and e.next_attempt_at <= now()
                                  order by e.enqueued_at, e.id
                                  limit s.n
                                  for update skip locked) e) c
    ),
    due as (
        select d.tenant_id, d.id from (select * from expired union all select * from fair) d
        order by d.turn, d.waiting_since, d.enqueued_at, d.id
        limit p_limit
    ),
    claimed as (
        update _pymem.episodes e
           set status = 'processing', worker_id = p_worker_id, claimed_at = now(),
               lease_until = now() + make_interval(secs => p_lease_seconds), attempts = e.attempts + 1
          from due, _pymem.tenants t
         where e.tenant_id = due.tenant_id and e.id = due.id and t.tenant_id = e.tenant_id
        returning e.tenant_id, e.id, t.role_name, e.user_id, e.agent_id, e.session_id, e.messages, e.metadata,
                  e.attempts, e.enqueued_at, e.observed_at, e.memory_ids,
                  -- the indexed turns' text, one per memory_ids entry (a turn said twice in
                  -- one episode is one row listed twice): what the worker embeds
                  (select array_agg(m.content order by u.i)
                     from unnest(e.memory_ids) with ordinality u(id, i)
                     join _pymem.memories m on m.tenant_id = e.tenant_id and m.id = u.id) as turn_texts
    )
    select c.tenant_id, c.id, c.role_name, c.user_id, c.agent_id, c.session_id, c.messages, c.metadata,
           c.attempts, c.enqueued_at, c.observed_at, c.memory_ids, c.turn_texts
    from claimed c
    order by c.enqueued_at, c.id;
end
$$;
comment on function _pymem.claim_episodes(text, integer, integer, integer) is
    'Claims up to p_limit due episodes for one worker, tenants taking turns (FOR UPDATE SKIP LOCKED, '
    'lease p_lease_seconds), returned in arrival order. Service role only.';

-- One extracted candidate goes through the consistency engine (dedup, supersession). The
-- offline extractor's candidates carry their statement analysis; a model's slot counts only
-- when its attribute is in the vocabulary (_pymem.attributes), else the content is analysed
-- like any other statement (one slot logic for every writer).
create or replace function _pymem.store_candidate(
    p_tenant _pymem.tenants, p_episode _pymem.episodes, p_candidate jsonb, p_embedding vector)
    returns uuid
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_memory _pymem.memories;
begin
    v_memory.tenant_id := p_tenant.tenant_id;
    v_memory.user_id := p_episode.user_id;
    v_memory.agent_id := p_episode.agent_id;
    v_memory.session_id := p_episode.session_id;
    v_memory.kind := p_candidate->>'kind';
    v_memory.content := p_candidate->>'content';
    v_memory.embedding := p_embedding;
    if jsonb_typeof(p_candidate->'statement') = 'object' then
        if p_candidate->'statement'->>'attribute' is not null and p_candidate->'statement'->>'polarity' = 'positive' then
            v_memory.subject := left(p_candidate->'statement'->>'subject', 256);
            v_memory.attribute := left(p_candidate->'statement'->>'attribute', 256);
            v_memory.value := coalesce(p_candidate->'statement'->>'value', p_candidate->>'content');
        end if;
    elsif p_candidate->>'subject' is not null and p_candidate->>'attribute' is not null
          and exists (select from _pymem.attributes a where a.attribute = split_part(p_candidate->>'attribute', ':', 1)) then
        v_memory.subject := left(p_candidate->>'subject', 256);
        v_memory.attribute := left(p_candidate->>'attribute', 256);
        v_memory.value := coalesce(p_candidate->>'value', p_candidate->>'content');
    end if;
    v_memory.importance := coalesce((p_candidate->>'importance')::real, 0.5);
    v_memory.confidence := coalesce((p_candidate->>'confidence')::real, 1.0);
    v_memory.observed_at := p_episode.observed_at;
    v_memory.valid_from := p_episode.observed_at;
    v_memory.source := jsonb_build_object('episode_id', p_episode.id, 'turns', coalesce(p_candidate->'source_turns', '[]'));
    v_memory.metadata := jsonb_strip_nulls(jsonb_build_object('entities', p_candidate->'entities',
                                                              'relations', p_candidate->'relations',
                                                              'extractor', p_candidate->'extractor'));
    v_memory.statement := case when jsonb_typeof(p_candidate->'statement') = 'object' then p_candidate->'statement' end;
    return (_pymem.write_memory(p_tenant, v_memory, 'extraction')->>'id')::uuid;
end
$$;

create or replace function _pymem.check_candidate(p_index integer, p_candidate jsonb) returns void
    language plpgsql immutable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
begin
    if jsonb_typeof(p_candidate) <> 'object' then
        raise exception 'pymem: extraction memory % is not an object', p_index using errcode = '22023';
    end if;
    perform _pymem.check_kind(format('extraction memory %s kind', p_index), p_candidate->>'kind', true);
    if jsonb_typeof(p_candidate->'content') is distinct from 'string'
       or length(btrim(p_candidate->>'content')) = 0 or length(p_candidate->>'content') > 100000 then
        raise exception 'pymem: extraction memory % has no usable content', p_index using errcode = '22023';
    end if;
    if (p_candidate ? 'importance' and (jsonb_typeof(p_candidate->'importance') <> 'number'
            or (p_candidate->>'importance')::float8 not between 0 and 1))
       or (p_candidate ? 'confidence' and (jsonb_typeof(p_candidate->'confidence') <> 'number'
            or (p_candidate->>'confidence')::float8 not between 0 and 1)) then
        raise exception 'pymem: extraction memory % has importance/confidence outside 0..1', p_index
            using errcode = '22023';
    end if;
end
$$;

create or replace function pymem.apply_extraction(
    p_episode_id        uuid,
    p_worker_id         text,
    p_extraction        jsonb,
    p_turn_embeddings   vector[] default null,
    p_memory_embeddings vector[] default null)
    returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant     _pymem.tenants := _pymem.require_tenant();
    v_episode    _pymem.episodes;
    v_candidates jsonb := coalesce(p_extraction->'memories', '[]');
    v_count      integer;
    v_ids        uuid[] := '{}';
    i            integer;
begin
    -- The user's row before the episode, in the order erase_user takes them: an erasure
    -- that started first finishes first (and the episode is gone); one that starts later
    -- waits for this transaction.
    perform from _pymem.users u
    where u.tenant_id = v_tenant.tenant_id
      and u.user_id = (select e.user_id from _pymem.episodes e where e.tenant_id = v_tenant.tenant_id and e.id = p_episode_id)
    for share;
    select * into v_episode from _pymem.episodes e
    where e.tenant_id = v_tenant.tenant_id and e.id = p_episode_id
    for update;
    if not found then
        raise exception 'pymem: unknown episode %', p_episode_id using errcode = '42704';
    end if;
    -- Only the holder of the current claim may complete the job: a worker whose lease
    -- expired (and whose job another worker re-claimed) is turned away here.
    if v_episode.status <> 'processing' or v_episode.worker_id is distinct from p_worker_id then
        return jsonb_build_object('applied', false, 'status', v_episode.status,
                                  'reason', 'the episode is not claimed by this worker');
    end if;
    if jsonb_typeof(p_extraction) is distinct from 'object' or jsonb_typeof(v_candidates) <> 'array' then
        raise exception 'pymem: extraction must be an object with a "memories" array' using errcode = '22023';
    end if;
    v_count := jsonb_array_length(v_candidates);
    if p_memory_embeddings is not null and cardinality(p_memory_embeddings) <> v_count then
        raise exception 'pymem: % memory embeddings for % memories', cardinality(p_memory_embeddings), v_count
            using errcode = '22023';
    end if;
    if p_turn_embeddings is not null and cardinality(p_turn_embeddings) <> cardinality(v_episode.memory_ids) then
        raise exception 'pymem: % turn embeddings for % indexed turns', cardinality(p_turn_embeddings),
            cardinality(v_episode.memory_ids) using errcode = '22023';
    end if;
    for i in 0 .. v_count - 1 loop
        perform _pymem.check_candidate(i, v_candidates->i);
        perform _pymem.check_embedding(p_memory_embeddings[i + 1]);
    end loop;

    for i in 1 .. coalesce(cardinality(p_turn_embeddings), 0) loop
        perform _pymem.check_embedding(p_turn_embeddings[i]);
        update _pymem.memories m set embedding = p_turn_embeddings[i], updated_at = now()
         where m.tenant_id = v_tenant.tenant_id and m.id = v_episode.memory_ids[i];
    end loop;
    for i in 0 .. v_count - 1 loop
        v_ids := v_ids || _pymem.store_candidate(v_tenant, v_episode, v_candidates->i, p_memory_embeddings[i + 1]);
    end loop;

    update _pymem.episodes e
       set status = 'done', processed_at = clock_timestamp(), lease_until = null, last_error = null,
           memories_extracted = v_count
     where e.tenant_id = v_tenant.tenant_id and e.id = p_episode_id;
    return jsonb_build_object(
        'applied', true, 'memories', v_count, 'memory_ids', to_jsonb(v_ids),
        'lag_seconds', extract(epoch from clock_timestamp() - v_episode.enqueued_at));
end
$$;
comment on function pymem.apply_extraction(uuid, text, jsonb, vector[], vector[]) is
    'Applies one episode''s extraction ({"memories": [...]}, plus vectors for its indexed turns and '
    'its memories) in one transaction, only for the worker holding the claim; marks the episode '
    'done. Tenant roles only (the worker SETs ROLE). Returns {applied, memories, memory_ids, lag_seconds}.';

create or replace function _pymem.fail_episode(
    p_tenant_id text, p_episode_id uuid, p_worker_id text, p_error text,
    p_retry_in_seconds double precision, p_max_attempts integer default 5)
    returns text
    language sql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    update _pymem.episodes e
       set status = case when p_retry_in_seconds is null or e.attempts >= p_max_attempts then 'dead' else 'pending' end,
           next_attempt_at = now() + make_interval(secs => coalesce(p_retry_in_seconds, 0)),
           last_error = left(p_error, 4000), lease_until = null, worker_id = null
     where e.tenant_id = p_tenant_id and e.id = p_episode_id and e.status = 'processing'
       and e.worker_id = p_worker_id
    returning e.status
$$;
comment on function _pymem.fail_episode(text, uuid, text, text, double precision, integer) is
    'Records a failed attempt: pending again after p_retry_in_seconds, or dead (retry_in null, or '
    'attempts exhausted) with the error kept. Service role only. Returns the new status.';

create or replace function _pymem.release_episodes(p_worker_id text) returns integer
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_count integer;
begin
    update _pymem.episodes e
       set status = 'pending', worker_id = null, lease_until = null, next_attempt_at = now(),
           attempts = greatest(e.attempts - 1, 0)  -- a graceful stop is not the job's fault
     where e.status = 'processing' and e.worker_id = p_worker_id;
    get diagnostics v_count = row_count;
    if v_count > 0 then
        perform _pymem.hint('pymem_episodes');
    end if;
    return v_count;
end
$$;
comment on function _pymem.release_episodes(text) is
    'Returns a stopping worker''s claimed episodes to the queue. Service role only.';

create or replace function pymem.retry_dead(p_tenant_id text default null) returns integer
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_count integer;
begin
    update _pymem.episodes e
       set status = 'pending', attempts = 0, next_attempt_at = now(), worker_id = null, lease_until = null
     where e.status = 'dead' and (p_tenant_id is null or e.tenant_id = p_tenant_id);
    get diagnostics v_count = row_count;
    if v_count > 0 then
        perform _pymem.hint('pymem_episodes');
    end if;
    return v_count;
end
$$;
comment on function pymem.retry_dead(text) is
    'Re-queues dead-letter episodes (of one tenant, or all); their last error stays until they '
    'succeed. Service role only. Returns how many were re-queued.';

create or replace function pymem.queue_stats()
    returns table (tenant_id text, pending bigint, processing bigint, dead bigint,
                   oldest_pending_seconds double precision)
    language sql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select e.tenant_id,
           count(*) filter (where e.status = 'pending'),
           count(*) filter (where e.status = 'processing'),
           count(*) filter (where e.status = 'dead'),
           extract(epoch from now() - min(e.enqueued_at) filter (where e.status = 'pending'))::float8
    from _pymem.episodes e
    where e.status in ('pending', 'processing', 'dead')  -- done jobs are history, not depth
    group by e.tenant_id
    order by e.tenant_id
$$;
comment on function pymem.queue_stats() is
    'Episodes per tenant and state, and the age of the oldest pending one. Service role only.';

-- The queue's insert trigger (0002) sends its hint through _pymem.hint: a full NOTIFY queue
-- must not fail the ingest that fired it.
create or replace function _pymem.notify_episodes() returns trigger
    language plpgsql security invoker
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform _pymem.hint('pymem_episodes');
    return null;
end
$$;
