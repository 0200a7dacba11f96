-- 070_lifecycle: decay, consolidation, and the views the metrics exporter reads.
--
-- Decay weight = max(floor, 0.5 ^ (age / half_life)), age from the last time the memory
-- was observed or mentioned. retrieve() computes it at query time; decay_sweep() stores it,
-- flags stale memories and archives (never deletes) those whose unfloored weight fell
-- below archive_below_weight, unless their importance protects them (an allergy does not
-- go stale) or they are procedural (standing instructions).

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
    v_report jsonb;
begin
    if p_batch is null or p_batch < 1 then
        raise exception 'pymem: batch must be positive' using errcode = '22023';
    end if;
    with batch as (
        select m.tenant_id, m.id,
               extract(epoch from now() - greatest(m.observed_at, m.last_seen_at)) / 86400.0 as age_days,
               _pymem.settings(t) as s
        from _pymem.memories m join _pymem.tenants t on t.tenant_id = m.tenant_id
        where m.status = 'active'
        order by m.decay_checked_at nulls first, m.tenant_id, m.id
        limit p_batch
        for update of m skip locked
    ),
    weighed as (
        select b.tenant_id, b.id,
               _pymem.decay_weight(b.age_days, (b.s->>'decay_half_life_days')::float8, (b.s->>'decay_floor')::float8) as weight,
               power(0.5::float8, greatest(b.age_days, 0) / (b.s->>'decay_half_life_days')::float8) as raw,
               b.s
        from batch b
    ),
    updated as (
        update _pymem.memories m
           set decay_weight = w.weight,
               stale = w.weight <= (w.s->>'stale_weight')::float8,
               decay_checked_at = now(),
               status = case when w.raw < (w.s->>'archive_below_weight')::float8
                              and m.importance < (w.s->>'archive_protect_importance')::float8
                              and m.kind <> 'procedural' then 'archived' else m.status end,
               archived_at = case when w.raw < (w.s->>'archive_below_weight')::float8
                                   and m.importance < (w.s->>'archive_protect_importance')::float8
                                   and m.kind <> 'procedural' then now() else m.archived_at end
          from weighed w
         where m.tenant_id = w.tenant_id and m.id = w.id
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
    )
    select jsonb_build_object(
        'scanned', (select count(*) from updated),
        'updated', (select count(*) from updated),
        'stale', (select count(*) from updated where stale),
        'archived', (select count(*) from versions))
    into v_report;
    return v_report;
end
$$;
comment on function pymem.decay_sweep(integer) is
    'Stores decay weights and stale flags for up to p_batch active memories (least recently '
    'checked first, all tenants) and archives those that decayed below the threshold. Service '
    'role (pg_cron or the worker''s scheduler). Returns {scanned, updated, stale, archived}.';

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
