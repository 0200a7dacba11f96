-- 090_grants: who may call what. Runs last on every migrate, so a function added in any
-- idempotent file is closed to PUBLIC until it is granted here.
--   tenant group  data functions (they run as the tenant role, under RLS)
--   service role  administrative functions (SECURITY DEFINER, fixed search_path)

-- Functions every role reaches through PUBLIC that let one tenant reach another or take a
-- shared resource: pg_textsearch's index readers (to_bm25query(text, index),
-- bm25_dump_index(index), ...: any role could read another tenant's BM25 index), the
-- advisory-lock family (any session could hold the locks the sweeps use, or exhaust the
-- shared lock table) and the large-object functions (rows in pg_largeobject, which no quota
-- bounds: a login could fill the disk every tenant writes to). Those still open to PUBLIC.
create or replace function _pymem.public_side_doors() returns setof regprocedure
    language sql stable security invoker
    set search_path = pg_catalog, pg_temp
as $$
    select p.oid::regprocedure from pg_proc p
    where has_function_privilege('public', p.oid, 'execute')
      and ((p.pronamespace = 'pg_catalog'::regnamespace
            and (p.proname ~ '^pg_(try_)?advisory' or p.proname ~ '^lo_' or p.proname in ('loread', 'lowrite')))
           or (p.oid in (select d.objid from pg_depend d join pg_extension e on e.oid = d.refobjid
                         where d.classid = 'pg_proc'::regclass and e.extname = 'pg_textsearch')
               and ((p.proname = 'to_bm25query' and p.pronargs = 2)
                    or p.proname in ('bm25_text_bm25query_score', 'bm25_text_text_score', 'bm25_dump_index',
                                     'bm25_spill_index', 'bm25_force_merge', 'bm25_summarize_index'))))
    order by 1
$$;

-- Closes them, and grants the advisory locks pymem takes to the roles that take them: the
-- service role (the worker's scheduler: one runner per job) and the installing role
-- (create_tenant, one index rebuild per tenant). Only a superuser may revoke what PUBLIC
-- holds on these functions: migrate calls this when it runs as one; otherwise a superuser
-- runs `pymem admin lockdown` (select _pymem.lockdown()) after each migrate.
create or replace function _pymem.lockdown() returns jsonb
    language plpgsql volatile security invoker
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_function regprocedure;
    v_revoked  integer := 0;
    v_owner    name := (select owner_role from _pymem.install);
begin
    if not (select rolsuper from pg_roles where rolname = current_user) then
        raise exception 'pymem: only a superuser can revoke what PUBLIC holds on extension and core functions'
            using errcode = '42501', hint = 'Run pymem admin lockdown with a superuser''s DSN.';
    end if;
    for v_function in select * from _pymem.public_side_doors() loop
        execute format('revoke execute on function %s from public', v_function);
        v_revoked := v_revoked + 1;
        -- _pymem.bm25_hits (the owner's) scans with pg_textsearch's index readers
        if exists (select from pg_depend d join pg_extension e on e.oid = d.refobjid
                   where d.classid = 'pg_proc'::regclass and d.objid = v_function and e.extname = 'pg_textsearch') then
            execute format('grant execute on function %s to %I', v_function, v_owner);
        end if;
    end loop;
    execute format('grant execute on function pg_try_advisory_lock(bigint), pg_advisory_unlock(bigint) to %I',
                   _pymem.service_role());
    -- ... and pymem migrate's own lock (migrate.py), which the installing role takes again on
    -- every later migrate.
    execute format('grant execute on function pg_advisory_xact_lock(integer, integer), pg_try_advisory_lock(integer, integer),
                    pg_advisory_unlock(integer, integer), pg_advisory_lock(bigint), pg_advisory_unlock(bigint) to %I',
                   v_owner);
    execute format('revoke temporary on database %I from public', current_database());
    return jsonb_build_object('revoked', v_revoked, 'open', (select count(*) from _pymem.public_side_doors()));
end
$$;

do $$
declare
    v_group   name := _pymem.tenant_group();
    v_service name := _pymem.service_role();
begin
    execute 'revoke execute on all functions in schema pymem, _pymem from public';

    -- Both roles: the statement reader (055_statements.sql), which tenants run inside remember
    -- and ingest and the worker runs in its extraction (_pymem.extract), and the install's
    -- memory kinds, capabilities and embedding model.
    execute format($g$grant execute on function
        pymem.memory_kinds(),
        _pymem.capabilities(),
        _pymem.current_embedding_model(),
        pymem.analyze_statement(text, text, boolean),
        _pymem.strip_discourse(text),
        _pymem.word_runs(text),
        _pymem.clean_value(text),
        _pymem.slug(text),
        _pymem.third_person(text),
        _pymem.first_person(text, text),
        _pymem.names_old_value(text),
        _pymem.place_value(text, text, text, text),
        _pymem.place_matches(text, text, text, text, text, text),
        _pymem.is_clean_value(text),
        _pymem.cessation_names(text, text),
        _pymem.attribute_of_type(text),
        _pymem.clauses(text),
        _pymem.relation_of(text, text),
        _pymem.recognize_spans(text, boolean),
        _pymem.gazetteer_first_words(),
        _pymem.regex_escape(text),
        _pymem.recognize(text),
        _pymem.says(text, text)
        to %I, %I$g$, v_group, v_service);

    execute format($g$grant execute on function
        pymem.remember(text, text, vector, text, real, jsonb, text, text, timestamptz, jsonb, text, text, text),
        pymem.retrieve(text, text, vector, integer, integer, text[], jsonb, timestamptz, jsonb),
        _pymem.check_settings(jsonb, boolean),
        _pymem.scored_ids(uuid[], double precision[]),
        _pymem.asks_about_now(text),
        _pymem.announces_change(text, vector),
        _pymem.holds_now(vector),
        _pymem.source_episode(jsonb),
        _pymem.visible_predicate(boolean, boolean, jsonb),
        _pymem.lexical_hits(text, text[], text[], jsonb, timestamptz, boolean, double precision, double precision, integer),
        _pymem.lexical_corpus(text),
        pymem.forget(uuid, text),
        pymem.update_memory(uuid, text, vector),
        pymem.list_users(integer, text),
        pymem.get_memory(uuid),
        pymem.list_memories(text, text[], jsonb, timestamptz, integer, uuid),
        _pymem.check_filters(jsonb),
        pymem.history(uuid),
        pymem.ingest(text, jsonb, text, jsonb, text, timestamptz),
        _pymem.turn_hash(text),
        pymem.apply_extraction(uuid, text, jsonb, vector[], vector[]),
        pymem.register_user(text),
        _pymem.touch_user(_pymem.tenants, text),
        _pymem.store_candidate(_pymem.tenants, _pymem.episodes, jsonb, vector),
        _pymem.check_candidate(integer, jsonb),
        _pymem.check_kind(text, text, boolean),
        pymem.history(text, timestamptz),
        pymem.contradictions(text),
        pymem.resolve_contradiction(uuid, text),
        pymem.compact(text),
        _pymem.compact_user(_pymem.tenants, text),
        _pymem.check_capacity(_pymem.tenants, integer),
        _pymem.same_value(text, text),
        _pymem.add_mention(_pymem.memories, _pymem.memories),
        _pymem.insert_memory(_pymem.memories, text),
        _pymem.close_memory(_pymem.memories, _pymem.memories, text),
        _pymem.mark_turns_outdated(_pymem.memories, uuid),
        _pymem.record_contradiction(_pymem.memories, _pymem.memories, text, text),
        _pymem.write_memory(_pymem.tenants, _pymem.memories, text),
        _pymem.decay_weight(double precision, double precision, double precision),
        pymem.graph_facts(text, timestamptz),
        pymem.graph_neighbors(text, text, integer),
        pymem.graph_entities(text, integer),
        pymem.graph_paths(text, text, text, integer),
        pymem.graph_relation_types(),
        _pymem.cease(_pymem.tenants, _pymem.memories, jsonb, text),
        _pymem.entity_key(text, text),
        _pymem.relation_predicates(),
        _pymem.own_memory(_pymem.memories),
        _pymem.graph_link(_pymem.memories),
        _pymem.graph_close(_pymem.memories),
        _pymem.graph_scores(text, text, text, integer),
        pymem.erase_user(text),
        pymem.export_user(text),
        pymem.import_user(jsonb, text),
        _pymem.audit_event(text, text, jsonb),
        _pymem.current_tenant_id(),
        _pymem.require_tenant(),
        _pymem.new_id(),
        _pymem.check_id(text, text, integer),
        _pymem.hint(text),
        _pymem.check_json(text, jsonb, integer, integer),
        _pymem.check_time(text, timestamptz),
        _pymem.check_embedding(vector),
        _pymem.check_embedding_norm(vector),
        _pymem.settings(_pymem.tenants),
        _pymem.setting_defaults(),
        _pymem.snapshot(_pymem.memories),
        _pymem.record_version(_pymem.memories, text, text)
        to %I$g$, v_group);

    execute format($g$grant execute on function
        pymem.create_tenant(text, jsonb),
        _pymem.schedule_plan(),
        _pymem.cron_jobs(),
        _pymem.reembed_claim(integer),
        _pymem.reembed_store(text[], uuid[], vector[]),
        pymem.drop_tenant(text),
        pymem.list_tenants(),
        pymem.tenant_role(text),
        pymem.update_tenant_settings(text, jsonb),
        pymem.tenant_settings(text),
        pymem.reindex_plan(text),
        pymem.index_health(text),
        pymem.retry_dead(text),
        pymem.queue_stats(),
        _pymem.claim_episodes(text, integer, integer, integer),
        _pymem.fail_episode(text, uuid, text, text, double precision, integer),
        _pymem.release_episodes(text),
        pymem.decay_sweep(integer),
        pymem.compact_all(),
        pymem.audit_log(text, integer),
        pymem.retention_sweep(),
        pymem.create_login(text, text, text),
        pymem.drop_login(text),
        pymem.enforce_login_limits(),
        _pymem.install_id(),
        _pymem.service_role(),
        _pymem.extract(jsonb, text)
        to %I$g$, v_service);
    -- The service role connects although pymem databases are closed to PUBLIC
    -- (admin.restrict_connect; a non-superuser owner holds CONNECT with grant option).
    if has_database_privilege(current_user, current_database(), 'connect with grant option') then
        execute format('grant connect on database %I to %I', current_database(), v_service);
    end if;
    execute format('grant select on _pymem.gazetteer, _pymem.attributes, _pymem.cue_phrases, _pymem.reading_heads to %I', v_service);
    execute format('grant select on _pymem.attributes to %I', v_group);
    -- retrieve validates a call's options (as the tenant); the CLI describes the settings
    execute format('grant select on _pymem.setting_specs to %I, %I', v_group, v_service);
    execute format('grant select on pymem.metrics_supersession_events, pymem.metrics_contradictions,
                    pymem.metrics_stale_fact_ratio, pymem.metrics_user_memory_counts to %I', v_service);
    -- Row updates through column privileges only (no LOCK TABLE beyond ROW EXCLUSIVE).
    perform _pymem.refresh_row_update_grants();

    -- Tenants reach AGE only through pymem's graph functions (SECURITY DEFINER, the graph
    -- derived from the acting tenant): no USAGE on ag_catalog, so none of AGE's own functions
    -- (age_vle, age_vertex_stats, cypher with another graph's name, ...).
    execute format('revoke all on schema ag_catalog from %I', v_group);

    -- Clients check the schema revision and the functions' digest before use (pymem.connect
    -- refuses an old schema).
    execute format('grant select on _pymem.alembic_version, _pymem.idempotent_sql to %I', v_service);

    -- The HTTP service (pymem serve): API keys (080_service_keys.sql) ...
    execute format($g$grant execute on function
        pymem.create_api_key(text, text),
        pymem.revoke_api_key(uuid),
        pymem.list_api_keys(text),
        _pymem.authenticate_key(bytea)
        to %I$g$, v_service);
    -- ... and its exporter reads database-side metrics from views (085_service_metrics.sql;
    -- the consistency module's pymem.metrics_* views are granted with that module).
    execute format('grant select on _pymem.metrics_index_sizes, _pymem.metrics_user_memory_distribution,
                    _pymem.metrics_extraction to %I', v_service);
end
$$;

do $$
begin
    if (select rolsuper from pg_roles where rolname = current_user) then
        perform _pymem.lockdown();
    elsif exists (select from _pymem.public_side_doors()) then
        raise warning 'pymem: % functions that let one tenant reach another are still executable by every role',
            (select count(*) from _pymem.public_side_doors())
            using hint = 'As a superuser, run: pymem admin lockdown (select _pymem.lockdown()).';
    end if;
end
$$;

-- Temporary tables take disk no quota bounds, and every role may create them through the
-- PUBLIC grant on the database; pymem uses none. Revoked where the installing role owns the
-- database (pymem's own database; a shared one keeps its grants: see docs/security.md).
do $$
begin
    if (select d.datdba = (select oid from pg_roles where rolname = current_user)
            or (select rolsuper from pg_roles where rolname = current_user)
        from pg_database d where d.datname = current_database()) then
        execute format('revoke temporary on database %I from public', current_database());
    else
        raise notice 'pymem: tenants can create temporary tables here; the database owner may run: revoke temporary on database % from public', quote_ident(current_database());
    end if;
end
$$;
