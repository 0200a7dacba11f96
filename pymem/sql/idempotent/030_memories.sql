-- 030_memories: writing, forgetting and reading the history of single memories.
-- Data functions: SECURITY INVOKER, executable by the tenant group. They run as the
-- tenant's role, so RLS on every table they touch is the isolation boundary; the tenant
-- id they write comes from _pymem.require_tenant(), never from a parameter.

create or replace function pymem.remember(
    p_user_id     text,
    p_content     text,
    p_embedding   vector default null,
    p_kind        text default 'fact',
    p_importance  real default 0.5,
    p_metadata    jsonb default '{}',
    p_session_id  text default null,
    p_agent_id    text default null,
    p_observed_at timestamptz default null,
    p_source      jsonb default '{}',
    p_subject     text default null,
    p_attribute   text default null,
    p_value       text default null)
    returns uuid
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.require_tenant();
    v_memory _pymem.memories;
begin
    perform _pymem.check_id('user_id', p_user_id);
    if p_session_id is not null then perform _pymem.check_id('session_id', p_session_id); end if;
    if p_agent_id is not null then perform _pymem.check_id('agent_id', p_agent_id); end if;
    if p_content is null or length(btrim(p_content)) = 0 then
        raise exception 'pymem: content must be a non-empty string' using errcode = '22023';
    end if;
    if length(p_content) > 100000 then
        raise exception 'pymem: content is % characters long; the limit is 100000', length(p_content)
            using errcode = '22023';
    end if;
    perform _pymem.check_kind('kind', p_kind);
    if p_importance is null or p_importance < 0 or p_importance > 1 or p_importance = 'NaN' then
        raise exception 'pymem: importance must be between 0 and 1' using errcode = '22023';
    end if;
    if jsonb_typeof(coalesce(p_metadata, '{}')) <> 'object' or jsonb_typeof(coalesce(p_source, '{}')) <> 'object' then
        raise exception 'pymem: metadata and source must be JSON objects' using errcode = '22023';
    end if;
    perform _pymem.check_json('metadata', p_metadata);
    perform _pymem.check_json('source', p_source);
    perform _pymem.check_time('observed_at', p_observed_at);
    if (p_subject is null) <> (p_attribute is null) then
        raise exception 'pymem: subject and attribute name a slot together: give both or neither'
            using errcode = '22023';
    end if;
    if p_subject is not null then
        perform _pymem.check_id('subject', p_subject);
        perform _pymem.check_id('attribute', p_attribute);
    end if;
    perform _pymem.check_embedding(p_embedding);
    perform _pymem.touch_user(v_tenant, p_user_id);

    v_memory.tenant_id := v_tenant.tenant_id;
    v_memory.user_id := p_user_id;
    v_memory.agent_id := p_agent_id;
    v_memory.session_id := p_session_id;
    v_memory.kind := p_kind;
    v_memory.content := p_content;
    v_memory.embedding := p_embedding;
    v_memory.subject := p_subject;
    v_memory.attribute := p_attribute;
    v_memory.value := case when p_subject is not null then coalesce(p_value, p_content) end;
    v_memory.importance := p_importance;
    v_memory.observed_at := coalesce(p_observed_at, now());
    v_memory.valid_from := v_memory.observed_at;
    v_memory.source := coalesce(p_source, '{}');
    v_memory.metadata := coalesce(p_metadata, '{}');
    return (_pymem.write_memory(v_tenant, v_memory, 'remember')->>'id')::uuid;
end
$$;
comment on function pymem.remember(text, text, vector, text, real, jsonb, text, text, timestamptz, jsonb, text, text, text) is
    'Writes one memory for a user of the calling tenant, synchronously, through the consistency '
    'engine: a duplicate adds a mention to the existing memory, a new value for the same slot '
    '(subject, attribute) supersedes the old one by the tenant''s policy. Tenant roles only. '
    'Returns the id of the memory that now holds the statement.';

create or replace function pymem.forget(p_memory_id uuid, p_reason text default null) returns boolean
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.require_tenant();
    v_memory _pymem.memories;
begin
    update _pymem.memories m
       set status = 'forgotten', valid_to = coalesce(m.valid_to, now()), updated_at = now()
     where m.tenant_id = v_tenant.tenant_id and m.id = p_memory_id and m.status <> 'forgotten'
    returning * into v_memory;
    if not found then
        return false;
    end if;
    perform _pymem.record_version(v_memory, 'forget', p_reason);
    perform _pymem.graph_close(v_memory);
    perform _pymem.audit_event('forget', v_memory.user_id, jsonb_build_object('memory_id', v_memory.id));
    return true;
end
$$;
comment on function pymem.forget(uuid, text) is
    'Marks one memory of the calling tenant forgotten: retrieval never returns it again; the '
    'history keeps the change. Tenant roles only. Returns false when no such memory is visible.';

create or replace function pymem.history(p_memory_id uuid)
    returns table (version integer, operation text, actor name, reason text, recorded_at timestamptz, snapshot jsonb)
    language sql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select v.version, v.operation, v.actor, v.reason, v.recorded_at, v.snapshot
    from _pymem.memory_versions v
    where v.tenant_id = (select _pymem.current_tenant_id()) and v.memory_id = p_memory_id
    order by v.version
$$;
comment on function pymem.history(uuid) is
    'The version chain of one memory of the calling tenant, oldest first. Tenant roles only.';

-- A memory as stored, without scores: the row shape of get_memory and list_memories
-- (pymem.StoredMemory in Python, the HTTP API's list and get).
drop function if exists pymem.get_memory(uuid);
create or replace function pymem.get_memory(p_memory_id uuid)
    returns table (id uuid, tenant_id text, user_id text, kind text, content text, status text,
                   importance real, confidence real, mention_count integer, created_at timestamptz,
                   updated_at timestamptz, observed_at timestamptz, valid_from timestamptz,
                   valid_to timestamptz, superseded_by uuid, session_id text, agent_id text,
                   subject text, attribute text, value text, stale boolean, metadata jsonb, source jsonb,
                   token_count integer)
    language sql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select m.id, m.tenant_id, m.user_id, m.kind, m.content, m.status, m.importance, m.confidence,
           m.mention_count, m.created_at, m.updated_at, m.observed_at, m.valid_from, m.valid_to,
           m.superseded_by, m.session_id, m.agent_id, m.subject, m.attribute, m.value, m.stale,
           m.metadata, m.source, m.token_count
    from _pymem.memories m
    where m.tenant_id = (select _pymem.current_tenant_id()) and m.id = p_memory_id
$$;
comment on function pymem.get_memory(uuid) is
    'One memory of the calling tenant as stored, whatever its status (superseded and forgotten '
    'ones too), or no row. Tenant roles only.';

-- A user's memories, newest first, a page at a time: what retrieve could return (current
-- ones, or those valid at p_as_of), with the same kinds and filters, without a query.
drop function if exists pymem.list_memories(text, text[], jsonb, timestamptz, integer, uuid);
create or replace function pymem.list_memories(
    p_user_id text,
    p_kinds   text[] default null,
    p_filters jsonb default null,
    p_as_of   timestamptz default null,
    p_limit   integer default 50,
    p_before  uuid default null)
    returns table (id uuid, tenant_id text, user_id text, kind text, content text, status text,
                   importance real, confidence real, mention_count integer, created_at timestamptz,
                   updated_at timestamptz, observed_at timestamptz, valid_from timestamptz,
                   valid_to timestamptz, superseded_by uuid, session_id text, agent_id text,
                   subject text, attribute text, value text, stale boolean, metadata jsonb, source jsonb,
                   token_count integer)
    language plpgsql stable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.require_tenant();
begin
    perform _pymem.check_id('user_id', p_user_id);
    if p_kinds is not null then
        perform _pymem.check_kind('each of kinds', k) from unnest(p_kinds) k;
    end if;
    perform _pymem.check_filters(coalesce(p_filters, '{}'));
    perform _pymem.check_time('as_of', p_as_of);
    if p_limit is null or p_limit not between 1 and 1000 then
        raise exception 'pymem: limit must be between 1 and 1000' using errcode = '22023';
    end if;
    -- Listing shows key-value store items too (they are the user's data), unless asked not to.
    p_filters := jsonb_build_object('store_items', true) || coalesce(p_filters, '{}');
    -- $1 user  $4 kinds  $5 filters  $6 as_of: the parameters visible_predicate names
    return query execute format(
        'select m.id, m.tenant_id, m.user_id, m.kind, m.content, m.status, m.importance, m.confidence,
                m.mention_count, m.created_at, m.updated_at, m.observed_at, m.valid_from, m.valid_to,
                m.superseded_by, m.session_id, m.agent_id, m.subject, m.attribute, m.value, m.stale,
                m.metadata, m.source, m.token_count
         from _pymem.memories m
         where m.tenant_id = $2 and %s and ($3::uuid is null or m.id < $3)
         order by m.id desc limit $7',
        _pymem.visible_predicate(p_as_of is not null, p_kinds is not null, coalesce(p_filters, '{}')))
        using p_user_id, v_tenant.tenant_id, p_before, p_kinds, coalesce(p_filters, '{}'), p_as_of, p_limit;
end
$$;
comment on function pymem.list_memories(text, text[], jsonb, timestamptz, integer, uuid) is
    'A user''s memories of the calling tenant, newest first: the current ones, or those valid at '
    'p_as_of, narrowed by kinds and filters as in retrieve (key-value store items included unless '
    'filters.store_items is false). Pages: pass the last id as p_before. '
    'Tenant roles only.';
