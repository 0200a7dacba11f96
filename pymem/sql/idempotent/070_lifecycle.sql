-- 070_lifecycle: decay, consolidation, and the views the metrics exporter reads.
--
-- Decay weight = max(floor, 0.5 ^ (age / half_life)), age from the last time the memory
-- was observed or mentioned. retrieve() computes it at query time; decay_sweep() stores it
-- (to within 0.05), flags stale memories and archives (never deletes) those whose unfloored
-- weight fell below archive_below_weight, unless their importance protects them (an allergy
-- does not go stale) or they are procedural (standing instructions).

create or replace function _pymem.decay_weight(p_age_days double precision, p_half_life double precision,
                                               p_floor double precision) returns double precision
    language sql immutable parallel safe security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$ select greatest(p_floor, power(0.5::float8, greatest(p_age_days, 0) / p_half_life)) $$;

create or replace function pymem.decay_sweep(p_batch integer default 10000) returns jsonb
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_cursor  _pymem.decay_cursor;
    v_tenants text[];
    v_more    boolean;
    v_report  jsonb;
begin
    if p_batch is null or p_batch < 1 then
        raise exception 'pymem: batch must be positive' using errcode = '22023';
    end if;
    -- One sweep at a time: the row lock orders concurrent callers (pg_cron, workers).
    select * into v_cursor from _pymem.decay_cursor for update;
    if not found then
        insert into _pymem.decay_cursor default values returning * into v_cursor;
    end if;
    -- The next p_batch active memories after where the last batch stopped, in primary-key
    -- order, from at most 32 tenants: pg_textsearch holds a lock per BM25 index a
    -- transaction writes until it ends (one transaction over ~70 tenants ran out of them).
    -- The last batch of a pass says pass_done; the next call starts over.
    -- A row is written only when its stale flag or status changes or its stored weight is
    -- 0.05 or more off (with a 90-day half-life, every week or so while it is young): a
    -- write is a new row version, and one that changes an indexed column or finds no room
    -- in its page (a row with its embedding fills a quarter of one) adds an entry to every
    -- index of the partition, HNSW and BM25 included (0013_decay_cursor.sql says why).
    select array_agg(t.tenant_id order by t.tenant_id) into v_tenants
    from (select t.tenant_id from _pymem.tenants t
          where v_cursor.tenant_id is null
             or t.tenant_id > v_cursor.tenant_id or (t.tenant_id = v_cursor.tenant_id and v_cursor.id is not null)
          order by t.tenant_id limit 32) t;
    v_more := exists (select from _pymem.tenants t where t.tenant_id > v_tenants[cardinality(v_tenants)]);
    with settings as materialized (
        select t.tenant_id, _pymem.settings(t) as s from _pymem.tenants t where t.tenant_id = any(v_tenants)
    ),
    batch as materialized (
        select m.tenant_id, m.id, m.importance, m.kind, m.decay_weight, m.stale,
               extract(epoch from now() - greatest(m.observed_at, m.last_seen_at)) / 86400.0 as age_days
        from _pymem.memories m
        where m.status = 'active' and m.tenant_id = any(v_tenants)
          and (v_cursor.id is null or (m.tenant_id, m.id) > (v_cursor.tenant_id, v_cursor.id))
        order by m.tenant_id, m.id
        limit p_batch
    ),
    weighed as (
        select b.tenant_id, b.id, b.decay_weight as stored, b.stale as was_stale,
               _pymem.decay_weight(b.age_days, (st.s->>'decay_half_life_days')::float8, (st.s->>'decay_floor')::float8) as weight,
               power(0.5::float8, greatest(b.age_days, 0) / (st.s->>'decay_half_life_days')::float8)
                 < (st.s->>'archive_below_weight')::float8
                 and b.importance < (st.s->>'archive_protect_importance')::float8
                 and b.kind <> 'procedural' as archive,
               (st.s->>'stale_weight')::float8 as stale_weight
        from batch b join settings st on st.tenant_id = b.tenant_id
    ),
    changed as (
        select w.* from weighed w
        where w.archive or (w.weight <= w.stale_weight) <> w.was_stale or abs(w.weight - w.stored) >= 0.05
    ),
    -- A memory another transaction holds (an update of the user's) waits for the next pass.
    locked as (
        select m.tenant_id, m.id from _pymem.memories m join changed c on c.tenant_id = m.tenant_id and c.id = m.id
        where m.status = 'active'
        for update of m skip locked
    ),
    updated as (
        update _pymem.memories m
           set decay_weight = c.weight,
               stale = c.weight <= c.stale_weight,
               decay_checked_at = now(),
               status = case when c.archive then 'archived' else m.status end,
               archived_at = case when c.archive then now() else m.archived_at end
          from changed c join locked l on l.tenant_id = c.tenant_id and l.id = c.id
         where m.tenant_id = c.tenant_id and m.id = c.id
        returning m.*
    ),
    versions as (
        insert into _pymem.memory_versions (tenant_id, memory_id, user_id, version, operation, reason, snapshot)
        select u.tenant_id, u.id, u.user_id,
               coalesce((select max(v.version) from _pymem.memory_versions v
                         where v.tenant_id = u.tenant_id and v.memory_id = u.id), 0) + 1,
               'archive', 'decayed below the archive threshold', to_jsonb(u) - 'embedding' - 'embedding_next'
        from updated u where u.status = 'archived'
        returning 1
    ),
    last_row as (
        select b.tenant_id, b.id from batch b order by b.tenant_id desc, b.id desc limit 1
    )
    select jsonb_build_object(
        'scanned', (select count(*) from batch),
        'updated', (select count(*) from updated),
        'stale', (select count(*) from weighed where weight <= stale_weight),
        'archived', (select count(*) from versions),
        'last_tenant', (select l.tenant_id from last_row l),
        'last_id', (select l.id from last_row l))
    into v_report;
    -- Where the next batch starts: after the last row of a full batch; else after the
    -- last tenant looked at, or at the beginning when that was the last tenant.
    if (v_report->>'scanned')::int = p_batch then
        update _pymem.decay_cursor set tenant_id = v_report->>'last_tenant', id = (v_report->>'last_id')::uuid;
    elsif v_more then
        update _pymem.decay_cursor set tenant_id = v_tenants[cardinality(v_tenants)], id = null;
    else
        update _pymem.decay_cursor set tenant_id = null, id = null;
    end if;
    return (v_report - 'last_tenant' - 'last_id')
           || jsonb_build_object('pass_done', (v_report->>'scanned')::int < p_batch and not coalesce(v_more, false));
end
$$;
comment on function pymem.decay_sweep(integer) is
    'Looks at the next p_batch active memories (in key order, at most 32 tenants a call, '
    'continuing where the last call stopped), stores the decay weights and stale flags that '
    'changed and archives those that decayed below the threshold. Service role (pg_cron or the '
    'worker''s scheduler). Returns {scanned, updated, stale, archived, pass_done}: stale counts '
    'the stale memories among those looked at; pass_done is true on the call that reached the end.';

-- Consolidation of one user: merge near-duplicates that slipped past write-time checks, and
-- roll old raw episodes into one summary per session and day. Sources stay linked
-- (superseded_by, source.summarized); nothing is deleted.
create or replace function _pymem.compact_user(p_tenant _pymem.tenants, p_user_id text) returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_settings  jsonb := _pymem.settings(p_tenant);
    v_threshold float8 := (v_settings->>'dedup_similarity')::float8;
    v_keeper    _pymem.memories;
    v_other     _pymem.memories;
    v_merged    integer := 0;
    v_groups    integer := 0;
    v_archived  integer := 0;
    v_group     record;
    v_summary   _pymem.memories;
    v_memory    _pymem.memories;
begin
    -- 1. Near-duplicates (same kind, same or no slot), most-mentioned first.
    for v_keeper in
        select * from (
            select * from _pymem.memories m
            where m.tenant_id = p_tenant.tenant_id and m.user_id = p_user_id and m.status = 'active'
              and m.kind <> 'episode' and m.embedding is not null
            order by m.created_at desc
            limit (v_settings->>'compact_max_rows')::int) recent
        order by mention_count desc, created_at, id
    loop
        continue when (select m.status from _pymem.memories m
                       where m.tenant_id = v_keeper.tenant_id and m.id = v_keeper.id) <> 'active';
        for v_other in
            select * from _pymem.memories m
            where m.tenant_id = p_tenant.tenant_id and m.user_id = p_user_id and m.status = 'active'
              and m.kind = v_keeper.kind and m.id <> v_keeper.id and m.embedding is not null
              and 1 - (m.embedding <=> v_keeper.embedding) >= v_threshold
              and (m.attribute is null or v_keeper.attribute is null
                   or ((m.subject, m.attribute) = (v_keeper.subject, v_keeper.attribute)
                       and _pymem.same_value(m.value, v_keeper.value)))
            for update
        loop
            update _pymem.memories m
               set status = 'archived', archived_at = now(), superseded_by = v_keeper.id, updated_at = now()
             where m.tenant_id = v_other.tenant_id and m.id = v_other.id
            returning * into v_memory;
            perform _pymem.record_version(v_memory, 'merge', 'consolidated into ' || v_keeper.id);
            update _pymem.memories m
               set mention_count = m.mention_count + v_other.mention_count,
                   importance = greatest(m.importance, v_other.importance),
                   last_seen_at = greatest(m.last_seen_at, v_other.last_seen_at),
                   source = jsonb_set(m.source, '{merged}', coalesce(m.source->'merged', '[]') || to_jsonb(v_other.id::text)),
                   updated_at = now()
             where m.tenant_id = v_keeper.tenant_id and m.id = v_keeper.id
            returning * into v_keeper;
            perform _pymem.record_version(v_keeper, 'update', 'absorbed a near-duplicate');
            v_merged := v_merged + 1;
        end loop;
    end loop;

    -- 2. Old episodes -> one summary per (session, day) with two or more turns.
    for v_group in
        select m.session_id, date_trunc('day', m.observed_at) as day, array_agg(m.id order by m.observed_at, m.id) as ids
        from _pymem.memories m
        where m.tenant_id = p_tenant.tenant_id and m.user_id = p_user_id and m.status = 'active'
          and m.kind = 'episode'
          and m.observed_at < now() - make_interval(days => (v_settings->>'episode_summary_age_days')::int)
        group by m.session_id, date_trunc('day', m.observed_at)
        having count(*) >= 2
    loop
        v_summary := null;
        v_summary.tenant_id := p_tenant.tenant_id;
        v_summary.user_id := p_user_id;
        v_summary.session_id := v_group.session_id;
        v_summary.kind := 'event';
        select left(format('Conversation summary (%s%s): %s', to_char(v_group.day, 'YYYY-MM-DD'),
                           coalesce(', session ' || v_group.session_id, ''),
                           string_agg(left(m.content, 240), ' | ' order by m.observed_at, m.id)), 4000),
               l2_normalize(avg(m.embedding)), max(m.importance), max(m.observed_at)
          into v_summary.content, v_summary.embedding, v_summary.importance, v_summary.observed_at
          from _pymem.memories m where m.tenant_id = p_tenant.tenant_id and m.id = any(v_group.ids);
        v_summary.valid_from := v_summary.observed_at;
        v_summary.source := jsonb_build_object('summarized', to_jsonb(v_group.ids));
        v_summary.metadata := jsonb_build_object('summary', true);
        v_summary := _pymem.insert_memory(v_summary, 'consolidation');
        for v_memory in
            update _pymem.memories m
               set status = 'archived', archived_at = now(), superseded_by = v_summary.id, updated_at = now()
             where m.tenant_id = p_tenant.tenant_id and m.id = any(v_group.ids)
            returning *
        loop
            perform _pymem.record_version(v_memory, 'merge', 'summarised into ' || v_summary.id);
            v_archived := v_archived + 1;
        end loop;
        v_groups := v_groups + 1;
    end loop;
    return jsonb_build_object('merged', v_merged, 'summaries', v_groups, 'episodes_archived', v_archived);
end
$$;

create or replace function pymem.compact(p_user_id text default null) returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants := _pymem.require_tenant();
    v_user   text;
    v_one    jsonb;
    v_total  jsonb := jsonb_build_object('users', 0, 'merged', 0, 'summaries', 0, 'episodes_archived', 0);
begin
    if p_user_id is not null then
        perform _pymem.check_id('user_id', p_user_id);
    end if;
    for v_user in
        select u.user_id from _pymem.users u
        where u.tenant_id = v_tenant.tenant_id and (p_user_id is null or u.user_id = p_user_id)
        order by u.user_id
    loop
        v_one := _pymem.compact_user(v_tenant, v_user);
        v_total := jsonb_build_object(
            'users', (v_total->>'users')::int + 1,
            'merged', (v_total->>'merged')::int + (v_one->>'merged')::int,
            'summaries', (v_total->>'summaries')::int + (v_one->>'summaries')::int,
            'episodes_archived', (v_total->>'episodes_archived')::int + (v_one->>'episodes_archived')::int);
    end loop;
    return v_total;
end
$$;
comment on function pymem.compact(text) is
    'Consolidates one user (or every user) of the calling tenant: merges near-duplicates and rolls '
    'old episodes into summaries, archiving (never deleting) what was absorbed. Tenant roles only. '
    'Returns {users, merged, summaries, episodes_archived}.';

create or replace function pymem.compact_all() returns jsonb
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_tenant _pymem.tenants;
    v_user   text;
    v_one    jsonb;
    v_users  integer := 0;
    v_merged integer := 0;
    v_sums   integer := 0;
    v_arch   integer := 0;
begin
    for v_tenant in select * from _pymem.tenants order by tenant_id loop
        for v_user in select u.user_id from _pymem.users u where u.tenant_id = v_tenant.tenant_id order by u.user_id loop
            v_one := _pymem.compact_user(v_tenant, v_user);
            v_users := v_users + 1;
            v_merged := v_merged + (v_one->>'merged')::int;
            v_sums := v_sums + (v_one->>'summaries')::int;
            v_arch := v_arch + (v_one->>'episodes_archived')::int;
        end loop;
    end loop;
    return jsonb_build_object('users', v_users, 'merged', v_merged, 'summaries', v_sums, 'episodes_archived', v_arch);
end
$$;
comment on function pymem.compact_all() is
    'pymem.compact() for every user of every tenant (the scheduled job). Service role only.';

-- Views for the metrics exporter (service role). Aggregates only; no memory content.
create or replace view pymem.metrics_supersession_events as
    select t.tenant_id,
           (select count(*) from _pymem.memory_versions v
             where v.tenant_id = t.tenant_id and v.operation = 'supersede') as events
    from _pymem.tenants t;

create or replace view pymem.metrics_contradictions as
    select t.tenant_id,
           (select count(*) from _pymem.contradictions c where c.tenant_id = t.tenant_id) as detected,
           (select count(*) from _pymem.contradictions c where c.tenant_id = t.tenant_id and c.status = 'open') as open
    from _pymem.tenants t;

create or replace view pymem.metrics_stale_fact_ratio as
    select t.tenant_id,
           coalesce((select avg(case when m.stale then 1.0 else 0.0 end) from _pymem.memories m
                      where m.tenant_id = t.tenant_id and m.status = 'active'
                        and m.kind in ('fact', 'preference')), 0)::float8 as ratio
    from _pymem.tenants t;

create or replace view pymem.metrics_user_memory_counts as
    with per_user as (
        select m.tenant_id, m.user_id, count(*) as n from _pymem.memories m
        where m.status = 'active' group by m.tenant_id, m.user_id
    )
    select p.tenant_id, b.le, count(*) filter (where p.n <= b.le) as users
    from per_user p
    cross join (values (10::float8), (100), (1000), (10000), (100000), ('Infinity')) b(le)
    group by p.tenant_id, b.le;
comment on view pymem.metrics_user_memory_counts is
    'Cumulative histogram of active memories per user, per tenant (Prometheus-style buckets).';

-- The maintenance jobs and who runs them: pg_cron (registered by 095_schedule.sql) or
-- `pymem worker` (pymem/worker/schedule.py), for whatever pg_cron does not hold.
create or replace function _pymem.schedule_plan()
    returns table (job text, worker_schedule text, cron_schedule text, command text)
    language sql immutable security invoker
    set search_path = pg_catalog, pg_temp
as $$
    values ('decay', '0 */6 * * *', '*/10 * * * *', 'select pymem.decay_sweep(10000)'),
           ('retention', '20 */6 * * *', '20 */6 * * *', 'select pymem.retention_sweep()'),
           ('compact', '30 3 * * *', '30 3 * * *', 'select pymem.compact_all()'),
           ('login_limits', '* * * * *', '* * * * *', 'select pymem.enforce_login_limits()')
$$;

-- The jobs pg_cron holds for this database (none without pg_cron). SECURITY DEFINER: cron.job
-- shows a role only its own jobs, and the worker (service role) must see the owner's.
create or replace function _pymem.cron_jobs() returns setof text
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if to_regclass('cron.job') is null then
        return;
    end if;
    return query execute
        'select substr(j.jobname, 7) from cron.job j
          where j.jobname like ''pymem-%'' and j.active and j.database = current_database()
            and substr(j.jobname, 7) in (select p.job from _pymem.schedule_plan() p)';
end
$$;
