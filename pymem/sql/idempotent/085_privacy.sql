-- 085_privacy: erasure, export and import, audit, retention, and login roles.
--
-- Why some of these are SECURITY DEFINER: erasure must delete history that tenants can
-- only append to, and the audit log is closed to tenants. Inside a definer function
-- current_user is the owner, so the tenant comes from _pymem.acting_tenant(): the role the
-- session acts as (the `role` setting, which only SET ROLE changes and which checks
-- membership; not a free GUC), or, for a login role, the session user. Tenant ids are
-- never parameters of these functions.

create or replace function _pymem.acting_tenant() returns _pymem.tenants
    language plpgsql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_role   name := case when current_setting('role') = 'none' then session_user
                          else current_setting('role')::name end;
    v_tenant _pymem.tenants;
begin
    select t.* into v_tenant from _pymem.tenants t
    where t.role_name = v_role
       or t.tenant_id = (select l.tenant_id from _pymem.logins l where l.role_name = v_role);
    if not found then
        raise exception 'pymem: role "%" does not act for any tenant', v_role
            using errcode = '42501',
                  hint = 'SET ROLE to the tenant''s role first (pymem.tenant_role(tenant_id) names it).';
    end if;
    return v_tenant;
end
$$;

-- HMAC-SHA256 (RFC 2104; no pgcrypto needed): for keys up to 64 bytes.
create or replace function _pymem.hmac_sha256(p_key bytea, p_message bytea) returns bytea
    language sql immutable strict parallel safe security invoker
    set search_path = pg_catalog, pg_temp
as $$
    select sha256(pad.outer_key || sha256(pad.inner_key || p_message))
    from (select decode(string_agg(lpad(to_hex(get_byte(k.key, i) # 92), 2, '0'), '' order by i), 'hex') as outer_key,
                 decode(string_agg(lpad(to_hex(get_byte(k.key, i) # 54), 2, '0'), '' order by i), 'hex') as inner_key
          from (select p_key || decode(repeat('00', 64 - octet_length(p_key)), 'hex') as key) k,
               generate_series(0, 63) i) pad
$$;

-- Subject hashes are keyed with the install's secret (0010_secrets.sql; no role but the
-- owner reads it): a tombstone cannot be checked against a guessed user id without it.
create or replace function _pymem.subject_hash(p_tenant_id text, p_user_id text) returns text
    language sql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select encode(_pymem.hmac_sha256(s.value, convert_to(p_tenant_id || ':' || p_user_id, 'UTF8')), 'hex')
    from _pymem.secrets s where s.name = 'subject_hash_key'
$$;

create or replace function _pymem.write_audit(p_tenant_id text, p_action text, p_subject_hash text, p_details jsonb)
    returns void
    language sql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    insert into _pymem.audit_log (tenant_id, actor, action, subject_hash, details)
    values (p_tenant_id,
            case when current_setting('role') = 'none' then session_user::text
                 else current_setting('role') || ' via ' || session_user end,
            p_action, p_subject_hash, coalesce(p_details, '{}'))
$$;

-- Tenants record their own events (forget, export, import) through this; the tenant is
-- the acting one, and the actor column names the role and session behind the call.
create or replace function _pymem.audit_event(p_action text, p_user_id text, p_details jsonb default '{}')
    returns void
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.acting_tenant();
begin
    -- Only the events the tenant-run functions record, about the acting tenant, with a
    -- small object of details: a tenant cannot write an erasure or an admin action here.
    if p_action is null or p_action not in ('forget', 'export_user', 'import_user') then
        raise exception 'pymem: tenants record only forget, export_user and import_user events, not %',
            quote_literal(left(coalesce(p_action, 'null'), 40)) using errcode = '42501';
    end if;
    if jsonb_typeof(coalesce(p_details, '{}')) <> 'object' or octet_length(p_details::text) > 2048 then
        raise exception 'pymem: audit details must be a JSON object of at most 2048 bytes' using errcode = '22023';
    end if;
    -- A forget event stands for a forget that happened: the memory's own, in this very
    -- transaction (pymem.forget records the version, then the event). A tenant role could
    -- otherwise write forget events for memories it never forgot.
    if p_action = 'forget' and not exists (
            select from _pymem.memory_versions v
            where v.tenant_id = v_tenant.tenant_id and v.user_id = p_user_id and v.operation = 'forget'
              and v.memory_id::text = p_details->>'memory_id' and v.recorded_at = now()) then
        raise exception 'pymem: no memory was forgotten in this transaction for that event' using errcode = '42501';
    end if;
    perform _pymem.write_audit(v_tenant.tenant_id, p_action,
                               case when p_user_id is null then null else _pymem.subject_hash(v_tenant.tenant_id, p_user_id) end,
                               p_details);
end
$$;

-- Where a user could remain, counted: the verifier behind every erasure report.
create or replace function _pymem.user_footprint(p_tenant _pymem.tenants, p_user_id text) returns jsonb
    language plpgsql stable security definer
    set search_path = ag_catalog, pg_catalog, @extensions@, pg_temp
as $$
declare
    v_vertices bigint;
    v_edges    bigint;
begin
    execute format('select count(*) from ag_catalog.cypher(%L, $c$ MATCH (u:User {user_id: $uid}) RETURN u $c$, $1) as (u agtype)',
                   p_tenant.graph_name)
        into v_vertices using jsonb_build_object('uid', p_user_id)::text::agtype;
    -- Relation edges hang off the user's vertex; co-mention edges carry the user id.
    execute format('select count(*) from ag_catalog.cypher(%L, $c$ MATCH (u:User {user_id: $uid})-[r]-() RETURN r $c$, $1) as (r agtype)',
                   p_tenant.graph_name)
        into v_edges using jsonb_build_object('uid', p_user_id)::text::agtype;
    execute format('select %s + count(*) from ag_catalog.cypher(%L, $c$ MATCH ()-[r]->() WHERE r.user_id = $uid RETURN r $c$, $1) as (r agtype)',
                   v_edges, p_tenant.graph_name)
        into v_edges using jsonb_build_object('uid', p_user_id)::text::agtype;
    return jsonb_build_object(
        'memories', (select count(*) from _pymem.memories m where m.tenant_id = p_tenant.tenant_id and m.user_id = p_user_id),
        'memory_versions', (select count(*) from _pymem.memory_versions v where v.tenant_id = p_tenant.tenant_id and v.user_id = p_user_id),
        'episodes', (select count(*) from _pymem.episodes e where e.tenant_id = p_tenant.tenant_id and e.user_id = p_user_id),
        'entity_links', (select count(*) from _pymem.memory_entities me where me.tenant_id = p_tenant.tenant_id and me.user_id = p_user_id),
        'contradictions', (select count(*) from _pymem.contradictions c where c.tenant_id = p_tenant.tenant_id and c.user_id = p_user_id),
        'users', (select count(*) from _pymem.users u where u.tenant_id = p_tenant.tenant_id and u.user_id = p_user_id),
        'graph_vertices', v_vertices,
        'graph_edges', v_edges);
end
$$;

create or replace function pymem.erase_user(p_user_id text) returns jsonb
    language plpgsql volatile security definer
    set search_path = ag_catalog, pg_catalog, @extensions@, pg_temp
    set client_min_messages = warning
as $$
declare
    v_tenant   _pymem.tenants := _pymem.acting_tenant();
    v_before   jsonb;
    v_after    jsonb;
    v_residual bigint;
    v_report   jsonb;
begin
    perform _pymem.check_id('user_id', p_user_id);
    -- The user's row is the lock every write for the user takes first (touch_user;
    -- apply_extraction before its episode): an erasure waits for writes in flight and
    -- later writes wait for it, so none commits between its deletes and its check.
    -- (An advisory lock here could be held by any session of any role.)
    insert into _pymem.users (tenant_id, user_id) values (v_tenant.tenant_id, p_user_id) on conflict do nothing;
    perform from _pymem.users u where u.tenant_id = v_tenant.tenant_id and u.user_id = p_user_id for update;
    v_before := _pymem.user_footprint(v_tenant, p_user_id);

    -- The queue first: a worker applying an episode holds it until it commits.
    delete from _pymem.episodes e where e.tenant_id = v_tenant.tenant_id and e.user_id = p_user_id;
    delete from _pymem.memory_entities me where me.tenant_id = v_tenant.tenant_id and me.user_id = p_user_id;
    delete from _pymem.contradictions c where c.tenant_id = v_tenant.tenant_id and c.user_id = p_user_id;
    delete from _pymem.memory_versions v where v.tenant_id = v_tenant.tenant_id and v.user_id = p_user_id;
    delete from _pymem.memories m where m.tenant_id = v_tenant.tenant_id and m.user_id = p_user_id;
    delete from _pymem.users u where u.tenant_id = v_tenant.tenant_id and u.user_id = p_user_id;
    -- The graph: the user's vertex with its edges, co-mention edges tagged with the user,
    -- then entity vertices nobody links to any more.
    execute format('select count(*) from ag_catalog.cypher(%L, $c$ MATCH ()-[r]->() WHERE r.user_id = $uid DELETE r RETURN 1 $c$, $1) as (r agtype)',
                   v_tenant.graph_name) using jsonb_build_object('uid', p_user_id)::text::agtype;
    execute format('select count(*) from ag_catalog.cypher(%L, $c$ MATCH (u:User {user_id: $uid}) DETACH DELETE u RETURN 1 $c$, $1) as (r agtype)',
                   v_tenant.graph_name) using jsonb_build_object('uid', p_user_id)::text::agtype;
    execute format('select count(*) from ag_catalog.cypher(%L, $c$ MATCH (e:Entity) OPTIONAL MATCH (e)-[r]-() WITH e, count(r) AS links WHERE links = 0 DELETE e RETURN 1 $c$) as (r agtype)',
                   v_tenant.graph_name);

    v_after := _pymem.user_footprint(v_tenant, p_user_id);
    select coalesce(sum(value::bigint), 0) into v_residual from jsonb_each_text(v_after);
    v_report := v_before || jsonb_build_object(
        'tenant_id', v_tenant.tenant_id,
        'subject_hash', _pymem.subject_hash(v_tenant.tenant_id, p_user_id),
        'residual', v_residual,
        'residual_by_store', v_after,
        'erased_at', now());
    if v_residual <> 0 then
        raise exception 'pymem: erasure left % rows behind (%); nothing was erased', v_residual, v_after
            using errcode = 'P0003';
    end if;
    perform _pymem.write_audit(v_tenant.tenant_id, 'erase_user', v_report->>'subject_hash', v_before);
    -- Services drop their cached query embeddings on commit (the payload names nobody).
    perform _pymem.hint('pymem_forget');
    return v_report;
end
$$;
comment on function pymem.erase_user(text) is
    'Erases a user of the calling tenant everywhere (memories and vectors, history, episodes and queue, '
    'entity links, contradictions, graph vertices and edges) in one transaction, verifies nothing remains, '
    'and leaves an audit tombstone (a keyed hash and the counts). Unknown users report zeros. '
    'Tenant roles. Returns counts per store, residual (always 0) and subject_hash.';

create or replace function pymem.export_user(p_user_id text) returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.require_tenant();
    v_export jsonb;
begin
    perform _pymem.check_id('user_id', p_user_id);
    select jsonb_build_object(
        'format', 'pymem-export', 'version', 1,
        'tenant_id', v_tenant.tenant_id, 'user_id', p_user_id, 'exported_at', now(),
        'memories', coalesce((select jsonb_agg(to_jsonb(m) - 'tenant_id' - 'token_count'
                                                 || jsonb_build_object('embedding', m.embedding::text)
                                               order by m.created_at, m.id)
                                from _pymem.memories m where m.tenant_id = v_tenant.tenant_id and m.user_id = p_user_id), '[]'),
        'memory_versions', coalesce((select jsonb_agg(to_jsonb(v) - 'tenant_id' order by v.memory_id, v.version)
                                       from _pymem.memory_versions v
                                      where v.tenant_id = v_tenant.tenant_id and v.user_id = p_user_id), '[]'),
        'episodes', coalesce((select jsonb_agg(to_jsonb(e) - 'tenant_id' - 'worker_id' - 'lease_until' order by e.enqueued_at, e.id)
                                from _pymem.episodes e where e.tenant_id = v_tenant.tenant_id and e.user_id = p_user_id), '[]'),
        'contradictions', coalesce((select jsonb_agg(to_jsonb(c) - 'tenant_id' order by c.detected_at, c.id)
                                      from _pymem.contradictions c
                                     where c.tenant_id = v_tenant.tenant_id and c.user_id = p_user_id), '[]'),
        'graph_facts', coalesce((select jsonb_agg(to_jsonb(f)) from pymem.graph_facts(p_user_id) f), '[]'))
      into v_export;
    perform _pymem.audit_event('export_user', p_user_id,
                               jsonb_build_object('memories', jsonb_array_length(v_export->'memories')));
    return v_export;
end
$$;
comment on function pymem.export_user(text) is
    'Everything stored about a user of the calling tenant, as one JSON document (memories with vectors, '
    'their version history, episodes, contradictions, graph facts). Tenant roles only. Audited.';

create or replace function pymem.import_user(p_export jsonb, p_user_id text default null) returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.require_tenant();
    v_user   text := coalesce(p_user_id, p_export->>'user_id');
    v_memory _pymem.memories;
    v_item   jsonb;
    v_counts jsonb;
begin
    if jsonb_typeof(p_export) is distinct from 'object' or p_export->>'format' is distinct from 'pymem-export'
       or (p_export->>'version')::int is distinct from 1 then
        raise exception 'pymem: not a pymem export (format pymem-export, version 1)' using errcode = '22023';
    end if;
    perform _pymem.check_id('user_id', v_user);
    if exists (select from _pymem.memories m where m.tenant_id = v_tenant.tenant_id and m.user_id = v_user) then
        raise exception 'pymem: user % already has memories in this tenant; erase them or import under another user id',
            quote_literal(v_user) using errcode = '42710';
    end if;
    -- The import counts against the tenant's cap like any other write (over it: PM429, nothing imported).
    perform _pymem.check_capacity(v_tenant, jsonb_array_length(coalesce(p_export->'memories', '[]')));
    perform _pymem.touch_user(v_tenant, v_user);
    for v_item in select value from jsonb_array_elements(coalesce(p_export->'memories', '[]')) loop
        v_memory := jsonb_populate_record(null::_pymem.memories,
                                          (v_item - 'embedding' - 'token_count')
                                          || jsonb_build_object('tenant_id', v_tenant.tenant_id, 'user_id', v_user));
        v_memory.embedding := (v_item->>'embedding')::vector;
        perform _pymem.check_embedding(v_memory.embedding);
        insert into _pymem.memories (tenant_id, id, user_id, agent_id, session_id, kind, content, embedding, subject,
                                     attribute, value, status, importance, confidence, mention_count, created_at,
                                     updated_at, observed_at, last_seen_at, valid_from, valid_to, superseded_by,
                                     source, metadata, decay_weight, stale, archived_at, decay_checked_at, statement)
        values (v_memory.tenant_id, v_memory.id, v_memory.user_id, v_memory.agent_id, v_memory.session_id,
                v_memory.kind, v_memory.content, v_memory.embedding, v_memory.subject, v_memory.attribute,
                v_memory.value, v_memory.status, v_memory.importance, v_memory.confidence, v_memory.mention_count,
                v_memory.created_at, v_memory.updated_at, v_memory.observed_at, v_memory.last_seen_at,
                v_memory.valid_from, v_memory.valid_to, v_memory.superseded_by, v_memory.source, v_memory.metadata,
                v_memory.decay_weight, v_memory.stale, v_memory.archived_at, v_memory.decay_checked_at, v_memory.statement)
        returning * into v_memory;
        if v_memory.status in ('active', 'superseded') then
            perform _pymem.graph_link(v_memory);
        end if;
    end loop;
    insert into _pymem.memory_versions (tenant_id, id, memory_id, user_id, version, operation, actor, reason, recorded_at, snapshot)
    select v_tenant.tenant_id, (x->>'id')::uuid, (x->>'memory_id')::uuid, v_user, (x->>'version')::int, x->>'operation',
           (x->>'actor')::name, x->>'reason', (x->>'recorded_at')::timestamptz,
           (x->'snapshot') || jsonb_build_object('tenant_id', v_tenant.tenant_id, 'user_id', v_user)
    from jsonb_array_elements(coalesce(p_export->'memory_versions', '[]')) x;
    insert into _pymem.episodes (tenant_id, id, user_id, agent_id, session_id, messages, metadata, status, attempts,
                                 last_error, enqueued_at, processed_at, observed_at, memory_ids, memories_extracted)
    select v_tenant.tenant_id, (x->>'id')::uuid, v_user, x->>'agent_id', x->>'session_id', x->'messages',
           coalesce(x->'metadata', '{}'),
           -- imported work is not re-run: pending jobs of the old tenant arrive as done
           case when x->>'status' in ('pending', 'processing') then 'done' else x->>'status' end,
           coalesce((x->>'attempts')::int, 0), x->>'last_error', (x->>'enqueued_at')::timestamptz,
           (x->>'processed_at')::timestamptz, (x->>'observed_at')::timestamptz,
           coalesce((select array_agg(value::uuid) from jsonb_array_elements_text(x->'memory_ids')), '{}'),
           (x->>'memories_extracted')::int
    from jsonb_array_elements(coalesce(p_export->'episodes', '[]')) x;
    v_counts := jsonb_build_object(
        'user_id', v_user,
        'memories', jsonb_array_length(coalesce(p_export->'memories', '[]')),
        'memory_versions', jsonb_array_length(coalesce(p_export->'memory_versions', '[]')),
        'episodes', jsonb_array_length(coalesce(p_export->'episodes', '[]')));
    perform _pymem.audit_event('import_user', v_user, v_counts - 'user_id');
    return v_counts;
end
$$;
comment on function pymem.import_user(jsonb, text) is
    'Restores a pymem.export_user() document into the calling tenant (optionally under another user '
    'id): memories with ids, vectors and timestamps, their history, episodes, and the graph links. '
    'Tenant roles only. Returns the counts imported.';

create or replace function pymem.audit_log(p_tenant_id text default null, p_limit integer default 100)
    returns table (recorded_at timestamptz, tenant_id text, actor text, action text, subject_hash text, details jsonb)
    language sql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select a.recorded_at, a.tenant_id, a.actor, a.action, a.subject_hash, a.details
    from _pymem.audit_log a
    where p_tenant_id is null or a.tenant_id = p_tenant_id
    order by a.recorded_at desc, a.id desc
    limit least(greatest(coalesce(p_limit, 100), 1), 10000)
$$;
comment on function pymem.audit_log(text, integer) is
    'The audit trail (erasures, exports, imports, forgets, tenant and login changes), newest first. '
    'Service role only (DBAs: select * from pymem.audit_log();).';

-- Raw episodes past a tenant's retention (episode_retention_days; null keeps them) are
-- deleted: the queue rows of finished jobs and the episode memories with their history.
create or replace function pymem.retention_sweep() returns jsonb
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant   _pymem.tenants;
    v_days     integer;
    v_episodes bigint := 0;
    v_memories bigint := 0;
    v_count    bigint;
begin
    for v_tenant in select * from _pymem.tenants order by tenant_id loop
        v_days := (_pymem.settings(v_tenant)->>'episode_retention_days')::int;
        continue when v_days is null;
        with gone as (
            delete from _pymem.memories m
            where m.tenant_id = v_tenant.tenant_id and m.kind = 'episode'
              and m.observed_at < now() - make_interval(days => v_days)
            returning m.id
        ), versions as (
            delete from _pymem.memory_versions v using gone where v.tenant_id = v_tenant.tenant_id and v.memory_id = gone.id
        ), entities as (
            delete from _pymem.memory_entities me using gone where me.tenant_id = v_tenant.tenant_id and me.memory_id = gone.id
        )
        select count(*) into v_count from gone;
        v_memories := v_memories + v_count;
        delete from _pymem.episodes e
        where e.tenant_id = v_tenant.tenant_id and e.status in ('done', 'dead')
          and e.enqueued_at < now() - make_interval(days => v_days);
        get diagnostics v_count = row_count;
        v_episodes := v_episodes + v_count;
    end loop;
    if v_episodes + v_memories > 0 then
        perform _pymem.write_audit(null, 'retention_sweep', null,
                                   jsonb_build_object('episodes', v_episodes, 'episode_memories', v_memories));
    end if;
    return jsonb_build_object('episodes', v_episodes, 'episode_memories', v_memories);
end
$$;
comment on function pymem.retention_sweep() is
    'Deletes raw episodes older than each tenant''s episode_retention_days. Service role (scheduled with '
    'the decay sweep). Returns the counts deleted.';

-- Login roles for other languages. A login role is not a member of the tenant role and
-- holds no table privileges: it reaches the tenant's data only through the tenant's API
-- schema, whose functions are SECURITY DEFINER owned by the tenant role and call the
-- public functions (so RLS sees the tenant role). Its search_path puts that schema first:
-- `select * from retrieve('alice', 'theme')` works from psql or any driver.
create or replace function _pymem.api_schema(p_tenant _pymem.tenants) returns name
    language sql immutable security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select ('pm_api_' || p_tenant.storage_suffix)::name $$;

create or replace function _pymem.provision_api(p_tenant _pymem.tenants) returns name
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_schema name := _pymem.api_schema(p_tenant);
    v_fn     record;
    v_args   text;
begin
    -- The schema belongs to the installing role (a tenant role owning it could create
    -- objects there); the wrappers belong to the tenant role, so that they act as it.
    -- (Giving a function to a role needs that role's CREATE on the schema, for a moment.)
    execute format('create schema if not exists %I', v_schema);
    execute format('revoke all on schema %I from public', v_schema);
    execute format('grant create, usage on schema %I to %I', v_schema, p_tenant.role_name);
    for v_fn in
        select p.oid, p.proname, p.pronargs, p.proretset,
               pg_get_function_arguments(p.oid) as args, pg_get_function_result(p.oid) as result
        from pg_proc p
        where p.pronamespace = 'pymem'::regnamespace
          and p.proname in ('remember', 'retrieve', 'forget', 'history', 'ingest', 'register_user',
                            'get_memory', 'list_memories', 'update_memory', 'list_users',
                            'graph_facts', 'graph_neighbors', 'graph_entities', 'graph_paths',
                            'graph_relation_types', 'contradictions',
                            'resolve_contradiction', 'compact', 'export_user', 'erase_user')
    loop
        select string_agg('$' || i, ', ') into v_args from generate_series(1, v_fn.pronargs) i;
        execute format('create or replace function %I.%I(%s) returns %s language sql volatile security definer '
                       'set search_path = pg_catalog, pg_temp as %L',
                       v_schema, v_fn.proname, v_fn.args, v_fn.result,
                       case when v_fn.proretset then format('select * from pymem.%I(%s)', v_fn.proname, coalesce(v_args, ''))
                            else format('select pymem.%I(%s)', v_fn.proname, coalesce(v_args, '')) end);
        execute format('alter function %I.%I(%s) owner to %I', v_schema, v_fn.proname,
                       pg_get_function_identity_arguments(v_fn.oid), p_tenant.role_name);
        execute format('revoke all on function %I.%I(%s) from public', v_schema, v_fn.proname,
                       pg_get_function_identity_arguments(v_fn.oid));
    end loop;
    -- A wrapper whose function left the API (pymem.cypher) goes with it.
    for v_fn in
        select w.proname, pg_get_function_identity_arguments(w.oid) as args
        from pg_proc w
        where w.pronamespace = v_schema::regnamespace
          and not exists (select from pg_proc p where p.pronamespace = 'pymem'::regnamespace and p.proname = w.proname)
    loop
        execute format('drop function %I.%I(%s)', v_schema, v_fn.proname, v_fn.args);
    end loop;
    execute format('revoke create on schema %I from %I', v_schema, p_tenant.role_name);
    return v_schema;
end
$$;

-- A login's limits, from its tenant's login_* settings: CONNECTION LIMIT (enforced by
-- PostgreSQL at connect) and session defaults for its timeouts (a session may lower or
-- lift its own; pymem.enforce_login_limits() holds it to them).
create or replace function _pymem.apply_login_limits(p_tenant _pymem.tenants, p_login name) returns void
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_settings jsonb := _pymem.settings(p_tenant);
begin
    execute format('alter role %I connection limit %s', p_login, (v_settings->>'login_connection_limit')::int);
    execute format('alter role %I set statement_timeout = %s', p_login, (v_settings->>'login_statement_timeout_ms')::int);
    execute format('alter role %I set idle_in_transaction_session_timeout = %s', p_login,
                   (v_settings->>'login_idle_in_transaction_timeout_ms')::int);
    execute format('alter role %I set transaction_timeout = %s', p_login, (v_settings->>'login_transaction_timeout_ms')::int);
    execute format('alter role %I set lock_timeout = %s', p_login, (v_settings->>'login_lock_timeout_ms')::int);
    execute format('alter role %I set idle_session_timeout = %s', p_login,
                   (v_settings->>'login_idle_session_timeout_ms')::int);
    execute format('alter role %I set work_mem = %s', p_login, (v_settings->>'login_work_mem_kb')::int);
    -- temp_file_limit is a superuser's setting: a login cannot lift it, and only a superuser
    -- owner can set it (elsewhere docs/security.md tells the DBA the ALTER ROLE to run).
    if (select rolsuper from pg_roles where rolname = current_user) then
        execute format('alter role %I set temp_file_limit = %s', p_login, (v_settings->>'login_temp_file_limit_kb')::int);
    end if;
end
$$;

-- Ends the sessions of login roles that run a statement, sit idle in a transaction or
-- keep a transaction open longer than their tenant's login_* settings allow. A login can
-- set its own timeouts to 0; an open transaction would then hold back vacuum for every
-- tenant and hold its locks indefinitely. Scheduled every minute (pg_cron, or the worker).
-- A non-superuser owner needs to be allowed to signal the login roles (pg_signal_backend);
-- sessions it may not end are counted, not skipped silently.
create or replace function pymem.enforce_login_limits() returns jsonb
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_session    record;
    v_terminated integer := 0;
    v_denied     integer := 0;
begin
    for v_session in
        select a.pid, a.usename, l.tenant_id,
               case when a.state = 'active' and a.query_start < now() - make_interval(secs => (s.v->>'login_statement_timeout_ms')::float8 / 1000)
                        then 'statement'
                    when a.state like 'idle in transaction%'
                         and a.state_change < now() - make_interval(secs => (s.v->>'login_idle_in_transaction_timeout_ms')::float8 / 1000)
                        then 'idle_in_transaction'
                    when a.xact_start < now() - make_interval(secs => (s.v->>'login_transaction_timeout_ms')::float8 / 1000)
                        then 'transaction'
                    -- idle (a LISTEN that never reads holds the cluster's NOTIFY queue)
                    when a.state = 'idle'
                         and a.state_change < now() - make_interval(secs => (s.v->>'login_idle_session_timeout_ms')::float8 / 1000)
                        then 'idle_session'
               end as reason
        from pg_stat_activity a
        join _pymem.logins l on l.role_name = a.usename
        join _pymem.tenants t on t.tenant_id = l.tenant_id
        cross join lateral (select _pymem.settings(t) as v) s
        where a.datname = current_database() and a.backend_type = 'client backend'
    loop
        continue when v_session.reason is null;
        begin
            if pg_terminate_backend(v_session.pid) then
                v_terminated := v_terminated + 1;
                perform _pymem.write_audit(v_session.tenant_id, 'end_login_session', null,
                                           jsonb_build_object('login', v_session.usename, 'reason', v_session.reason));
            end if;
        exception when insufficient_privilege then
            v_denied := v_denied + 1;
        end;
    end loop;
    return jsonb_build_object('terminated', v_terminated, 'not_permitted', v_denied);
end
$$;
comment on function pymem.enforce_login_limits() is
    'Ends login-role sessions past their tenant''s login_statement_timeout_ms, '
    'login_idle_in_transaction_timeout_ms, login_transaction_timeout_ms or login_idle_session_timeout_ms (audited). Service role; '
    'scheduled every minute. Returns {terminated, not_permitted}.';

create or replace function pymem.create_login(p_tenant_id text, p_login text default null, p_password text default null)
    returns table (login name, tenant_id text, api_schema name)
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants;
    v_login  name;
    v_schema name;
    v_fn     record;
begin
    v_tenant := _pymem.tenant(p_tenant_id);
    v_login := coalesce(p_login, format('pm_%s_%s_login_%s', _pymem.install_id(), v_tenant.storage_suffix,
                                        substr(md5(random()::text), 1, 6)));
    if v_login !~ '^[a-z_][a-z0-9_]{2,62}$' then
        raise exception 'pymem: login names are 3-63 characters of a-z, 0-9 and _, starting with a letter or _'
            using errcode = '22023';
    end if;
    if exists (select from pg_roles r where r.rolname = v_login) then
        raise exception 'pymem: role % exists already', v_login using errcode = '42710';
    end if;
    v_schema := _pymem.provision_api(v_tenant);
    if p_password is null then
        execute format('create role %I login noinherit', v_login);
    else
        execute format('create role %I login noinherit password %L', v_login, p_password);
    end if;
    -- Its own database only: pymem databases are closed to PUBLIC (admin.restrict_connect).
    if has_database_privilege(current_user, current_database(), 'connect with grant option') then
        execute format('grant connect on database %I to %I', current_database(), v_login);
    end if;
    if not (select rolsuper from pg_roles where rolname = current_user) then
        -- The installing role ends the login's sessions (enforce_login_limits) and drops
        -- what was granted to it (drop_login): both need the login's privileges.
        execute format('grant %I to %I with inherit true, set false', v_login, current_user);
    end if;
    execute format('grant usage on schema %I to %I', v_schema, v_login);
    for v_fn in select p.proname, pg_get_function_identity_arguments(p.oid) as args from pg_proc p
                where p.pronamespace = v_schema::regnamespace loop
        execute format('grant execute on function %I.%I(%s) to %I', v_schema, v_fn.proname, v_fn.args, v_login);
    end loop;
    execute format('alter role %I set search_path = %I', v_login, v_schema);
    perform _pymem.apply_login_limits(v_tenant, v_login);
    insert into _pymem.logins (role_name, tenant_id) values (v_login, v_tenant.tenant_id);
    perform _pymem.write_audit(v_tenant.tenant_id, 'create_login', null, jsonb_build_object('login', v_login));
    return query select v_login, v_tenant.tenant_id, v_schema;
end
$$;
comment on function pymem.create_login(text, text, text) is
    'Creates a LOGIN role that acts for one tenant only through its API schema (the public data '
    'functions, no table access), with that schema on its search_path. Service role only.';

create or replace function pymem.drop_login(p_login text) returns boolean
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_row _pymem.logins;
begin
    select * into v_row from _pymem.logins l where l.role_name = p_login;
    if not found then
        return false;
    end if;
    delete from _pymem.logins l where l.role_name = p_login;
    execute format('drop owned by %I', p_login);
    execute format('drop role %I', p_login);
    perform _pymem.write_audit(v_row.tenant_id, 'drop_login', null, jsonb_build_object('login', p_login));
    return true;
end
$$;
comment on function pymem.drop_login(text) is 'Drops a tenant login role. Service role only.';

-- Before 0.2 the tenant role owned its API schema. Give it to the installing role.
do $$
declare
    v_tenant _pymem.tenants;
begin
    for v_tenant in
        select t.* from _pymem.tenants t join pg_namespace n on n.nspname = _pymem.api_schema(t)
        where n.nspowner = (select oid from pg_roles where rolname = t.role_name)
    loop
        execute format('alter schema %I owner to %I', _pymem.api_schema(v_tenant), current_user);
        execute format('revoke create on schema %I from %I', _pymem.api_schema(v_tenant), v_tenant.role_name);
        execute format('grant usage on schema %I to %I', _pymem.api_schema(v_tenant), v_tenant.role_name);
    end loop;
end
$$;

-- Logins created before a function joined the API get its wrapper on the next migrate.
do $$
declare
    v_tenant _pymem.tenants;
    v_login  name;
    v_fn     record;
begin
    for v_tenant in select t.* from _pymem.tenants t where exists (select from _pymem.logins l where l.tenant_id = t.tenant_id) loop
        perform _pymem.provision_api(v_tenant);
        for v_login in select l.role_name from _pymem.logins l where l.tenant_id = v_tenant.tenant_id loop
            for v_fn in select p.proname, pg_get_function_identity_arguments(p.oid) as args from pg_proc p
                        where p.pronamespace = _pymem.api_schema(v_tenant)::regnamespace loop
                execute format('grant execute on function %I.%I(%s) to %I', _pymem.api_schema(v_tenant), v_fn.proname,
                               v_fn.args, v_login);
            end loop;
        end loop;
    end loop;
end
$$;
