-- Every query the Python package runs, by name. Each block: "-- name: NAME", a one-line
-- description, then the SQL with psycopg named parameters. Python never builds SQL from
-- strings; identifiers (SET ROLE) go through psycopg.sql.

-- name: capabilities
-- What the server offers: extensions available, preloaded, installed.
select
    current_setting('server_version') as server_version,
    current_setting('server_version_num')::int as server_version_num,
    current_setting('shared_preload_libraries') as shared_preload_libraries,
    (select jsonb_object_agg(name, jsonb_build_object('available', default_version, 'installed', installed_version))
       from pg_available_extensions
      where name in ('vector', 'age', 'pg_textsearch', 'pg_cron', 'vectorscale')) as extensions;

-- name: create_tenant
-- Create a tenant with its role, partition, indexes and graph.
select * from pymem.create_tenant(%(tenant_id)s, %(settings)s);

-- name: drop_tenant
-- Drop a tenant everywhere; returns a JSON report.
select pymem.drop_tenant(%(tenant_id)s) as report;

-- name: list_tenants
-- Every tenant with its role and memory count.
select * from pymem.list_tenants();

-- name: tenant_role
-- The role that acts for a tenant.
select pymem.tenant_role(%(tenant_id)s) as role_name;

-- name: remember
-- Write one memory for a user of the current tenant role.
select pymem.remember(
    p_user_id => %(user_id)s, p_content => %(content)s, p_embedding => %(embedding)s,
    p_kind => %(kind)s, p_importance => %(importance)s::real, p_metadata => %(metadata)s,
    p_session_id => %(session_id)s, p_agent_id => %(agent_id)s,
    p_observed_at => %(observed_at)s::timestamptz, p_source => %(source)s,
    p_subject => %(subject)s, p_attribute => %(attribute)s, p_value => %(value)s) as id;

-- name: retrieve
-- Hybrid top-k for a user of the current tenant role.
select * from pymem.retrieve(
    p_user_id => %(user_id)s, p_query => %(query)s, p_query_embedding => %(query_embedding)s,
    p_top_k => %(top_k)s::int, p_token_budget => %(token_budget)s::int, p_kinds => %(kinds)s::text[],
    p_filters => %(filters)s, p_as_of => %(as_of)s::timestamptz, p_options => %(options)s);

-- name: forget
-- Mark one memory forgotten.
select pymem.forget(%(memory_id)s, %(reason)s) as forgotten;

-- name: update_memory
-- A new version of one memory, superseding it (history kept).
select pymem.update_memory(%(memory_id)s, %(content)s, %(embedding)s) as id;

-- name: list_users
-- The current tenant's users, a page at a time.
select * from pymem.list_users(%(limit)s::int, %(after)s);

-- name: history
-- The version chain of one memory.
select * from pymem.history(%(memory_id)s);

-- name: install_capabilities
-- Server version and what this install detected at migrate time (any role may ask).
select current_setting('server_version') as server_version, _pymem.capabilities() as capabilities;

-- name: ingest
-- Enqueue one episode for a user of the current tenant role; returns its id at once.
select pymem.ingest(
    p_user_id => %(user_id)s, p_messages => %(messages)s, p_session_id => %(session_id)s,
    p_metadata => %(metadata)s, p_agent_id => %(agent_id)s,
    p_observed_at => %(observed_at)s::timestamptz) as episode_id;

-- name: claim_episodes
-- Claim due episodes across tenants for one worker (service role).
select * from _pymem.claim_episodes(%(worker_id)s, %(limit)s, %(lease_seconds)s, %(max_attempts)s);

-- name: apply_extraction
-- Apply one episode's extraction as the tenant role, in one transaction.
select pymem.apply_extraction(%(episode_id)s, %(worker_id)s, %(extraction)s,
                              %(turn_embeddings)s::vector[], %(memory_embeddings)s::vector[]) as result;

-- name: fail_episode
-- Record a failed attempt: retry later, or dead letter (service role).
select _pymem.fail_episode(%(tenant_id)s, %(episode_id)s, %(worker_id)s, %(error)s,
                           %(retry_in_seconds)s, %(max_attempts)s) as status;

-- name: release_episodes
-- Hand back a stopping worker's claims (service role).
select _pymem.release_episodes(%(worker_id)s) as released;

-- name: retry_dead
-- Re-queue dead-letter episodes (service role).
select pymem.retry_dead(%(tenant_id)s) as requeued;

-- name: queue_stats
-- Queue depth per tenant and state (service role).
select * from pymem.queue_stats();

-- name: memory_kinds
-- The kinds of memory, and whether extraction produces each.
select kind, extracted, description from pymem.memory_kinds();

-- name: extract
-- The offline extractor: candidate memories stated by a conversation's user turns.
select _pymem.extract(%(messages)s, %(user_id)s) as candidates;

-- name: gazetteer
-- The typed entities extraction recognises.
select term, canonical, entity_type from _pymem.gazetteer;

-- name: get_memory
-- One memory as stored, whatever its status.
select * from pymem.get_memory(%(memory_id)s);

-- name: list_memories
-- A user's memories, newest first, one page.
select * from pymem.list_memories(%(user_id)s, %(kinds)s, %(filters)s, %(as_of)s::timestamptz, %(limit)s, %(before)s);

-- name: history_as_of
-- What the agent knew about a user at a moment.
select * from pymem.history(%(user_id)s, %(as_of)s::timestamptz);

-- name: contradictions
-- Slot conflicts of the current tenant role, by status (null = all).
select * from pymem.contradictions(%(status)s);

-- name: resolve_contradiction
-- Resolve an open contradiction: keep_existing, accept_new or keep_both.
select pymem.resolve_contradiction(%(id)s, %(resolution)s) as result;

-- name: compact
-- Consolidate one user (or all users) of the current tenant role.
select pymem.compact(%(user_id)s) as report;

-- name: decay_sweep
-- Store decay weights, flag stale memories, archive decayed ones (service role).
select pymem.decay_sweep(%(batch)s) as report;

-- name: enforce_login_limits
-- End login sessions past their tenant's time limits.
select pymem.enforce_login_limits() as report;

-- name: compact_all
-- Consolidate every user of every tenant (service role).
select pymem.compact_all() as report;

-- name: episode_audit
-- Per episode: state, memories extracted, and how many traces its candidates left
-- (memories created from it plus mentions it added): equal when applied exactly once.
select e.id::text as episode_id, e.status, e.memories_extracted,
       extract(epoch from e.processed_at - e.enqueued_at)::float8 as lag_seconds,
       (select count(*) from _pymem.memories m
         where m.tenant_id = e.tenant_id and m.kind <> 'episode' and m.source->>'episode_id' = e.id::text)
     + (select count(*) from _pymem.memories m, jsonb_array_elements(m.source->'mentions') x
         where m.tenant_id = e.tenant_id and x->>'episode_id' = e.id::text) as traces
from _pymem.episodes e
where e.id = any(%(episode_ids)s::uuid[]);

-- name: episode_span
-- First enqueue and last completion among some episodes (benchmark throughput).
select min(enqueued_at) as first_enqueued, max(processed_at) as last_processed
from _pymem.episodes where id = any(%(episode_ids)s::uuid[]);

-- name: open_episodes
-- How many of some episodes are still pending or processing.
select count(*) from _pymem.episodes
where id = any(%(episode_ids)s::uuid[]) and status in ('pending', 'processing');

-- name: try_job_lock
-- Take a scheduled job's advisory lock if nobody holds it (one runner per job).
select pg_try_advisory_lock(%(key)s) as locked;

-- name: job_unlock
-- Release a scheduled job's advisory lock.
select pg_advisory_unlock(%(key)s) as unlocked;

-- name: graph_facts
-- Relations valid for a user of the current tenant role at a moment (default now).
select * from pymem.graph_facts(%(user_id)s, %(as_of)s::timestamptz);

-- name: graph_neighbors
-- Entities related to an entity in a user's memories, up to depth hops.
select * from pymem.graph_neighbors(%(user_id)s, %(entity)s, %(depth)s);

-- name: erase_user
-- Erase a user of the current tenant role everywhere; returns the verified report.
select pymem.erase_user(%(user_id)s) as report;

-- name: export_user
-- Everything stored about a user of the current tenant role, as one JSON document.
select pymem.export_user(%(user_id)s) as export;

-- name: import_user
-- Restore an export into the current tenant role (optionally under another user id).
select pymem.import_user(%(export)s, %(user_id)s) as report;

-- name: audit_log
-- The audit trail, newest first (service role).
select * from pymem.audit_log(%(tenant_id)s, %(limit)s);

-- name: retention_sweep
-- Delete raw episodes past each tenant's retention (service role).
select pymem.retention_sweep() as report;

-- name: create_login
-- A LOGIN role acting for one tenant through its API schema (service role).
select * from pymem.create_login(%(tenant_id)s, %(login)s, %(password)s);

-- name: drop_login
-- Drop a tenant login role (service role).
select pymem.drop_login(%(login)s) as dropped;

-- name: set_statement_timeout
-- Bound this transaction's statements (milliseconds).
select set_config('statement_timeout', %(ms)s, true);

-- name: update_tenant_settings
-- Merge settings into a tenant's own (null removes a key); returns the effective settings.
select pymem.update_tenant_settings(%(tenant_id)s, %(settings)s) as settings;

-- name: set_owner
-- The role pymem/sql/owner_prelude.sql prepares (read there as a setting).
select set_config('pymem.owner', %(owner)s, false);

-- name: lockdown
-- As a superuser: close PUBLIC's EXECUTE on the functions that let one tenant reach another.
select _pymem.lockdown() as report;

-- name: reindex_lock
-- One rebuild of a tenant's indexes at a time (a session lock; tenants hold no advisory locks).
select pg_try_advisory_lock(hashtext('pymem.reindex'), hashtext(%(tenant_id)s));

-- name: tenant_settings
-- A tenant's effective settings.
select pymem.tenant_settings(%(tenant_id)s) as settings;

-- name: setting_specs
-- Every setting: key, type, default, range, where it may be set (sql/idempotent/011_settings.sql).
select key, value_type, default_value, minimum, maximum, max_items, choices, per_tenant, per_call, about
from _pymem.setting_specs order by key;

-- name: reindex_plan
-- The statements that rebuild one tenant's search indexes concurrently, in order.
select step, index_name, action, statement from pymem.reindex_plan(%(tenant_id)s) order by step;

-- name: index_health
-- Per tenant: rows, rows its lexical (GIN) and vector (HNSW) indexes return, and the repair.
select tenant_id, rows, lexical_indexed, vector_rows, vector_indexed, healthy, repair from pymem.index_health();

-- name: set_maintenance_work_mem
-- Memory for index builds in this session (HNSW builds are much faster when the graph fits).
select set_config('maintenance_work_mem', %(value)s, false) as maintenance_work_mem;


-- ---- HTTP service (pymem serve) ------------------------------------------------------

-- name: create_api_key
-- Create an API key for a tenant; the key is in this result only (service role).
select * from pymem.create_api_key(%(tenant_id)s, %(name)s);

-- name: revoke_api_key
-- Revoke one API key (service role).
select pymem.revoke_api_key(%(key_id)s) as revoked;

-- name: list_api_keys
-- API keys of one tenant or all, without digests (service role).
select * from pymem.list_api_keys(%(tenant_id)s);

-- name: authenticate_key
-- The tenant and role an API key (given as its SHA-256 digest) acts for (service role).
select * from _pymem.authenticate_key(%(key_hash)s);

-- name: metrics_index_sizes
-- Bytes per tenant and retrieval index, for the exporter (service role).
select tenant_id, index_kind, bytes from _pymem.metrics_index_sizes;

-- name: metrics_user_memory_distribution
-- Cumulative histogram of active memories per user, for the exporter (service role).
select le, users, memories_sum from _pymem.metrics_user_memory_distribution order by le;

-- name: metrics_extraction
-- Extraction outcome per tenant, for the exporter (service role).
select tenant_id, episodes_done, episodes_with_memories, episodes_dead, episodes_open
from _pymem.metrics_extraction;

-- name: metrics_supersession_events
-- Supersessions per tenant, for the exporter (service role).
select tenant_id, events as value from pymem.metrics_supersession_events;

-- name: metrics_stale_fact_ratio
-- Share of stale active facts and preferences per tenant, for the exporter (service role).
select tenant_id, ratio as value from pymem.metrics_stale_fact_ratio;

-- name: metrics_contradictions
-- Contradictions detected per tenant, for the exporter (service role).
select tenant_id, detected as value from pymem.metrics_contradictions;

-- name: embedding_model
-- The database's embedding model (any pymem role may ask).
select model, dimensions from _pymem.current_embedding_model();

-- name: reembed_lock
-- One change of embedding model at a time (a session lock, held by the owner's connection).
select pg_try_advisory_lock(hashtext('pymem.reembed'), 0);

-- name: begin_reembed
-- Start (or resume) changing the embedding model; returns the progress report.
select _pymem.begin_reembed(%(model)s, %(dimensions)s) as state;

-- name: reembed_progress
-- Model, next model, memories done and in all.
select _pymem.reembed_progress() as state;

-- name: reembed_claim
-- Memories still without a vector from the new model, locked until the transaction ends.
select tenant_id, id, content from _pymem.reembed_claim(%(limit)s);

-- name: embedding_model_change
-- The model being switched to, if any: (next_model, next_dimensions).
select next_model, next_dimensions from _pymem.current_embedding_model();

-- name: reembed_store
-- Store new-model vectors; returns how many rows took one.
select _pymem.reembed_store(%(tenant_ids)s::text[], %(ids)s::uuid[], %(vectors)s::vector[]) as stored;

-- name: reembed_index_ddl
-- The CREATE INDEX CONCURRENTLY statements the new column still needs.
select ddl from _pymem.reembed_index_ddl() as ddl;

-- name: reembed_hold_writes
-- Writers wait until the switch commits; readers go on (inside the switch's transaction).
-- Asked for with a short timeout (admin.reembed retries): a lock request that waits queues
-- every tenant's writes behind it.
set local lock_timeout = '200ms';
lock table _pymem.memories in share row exclusive mode;

-- name: finish_reembed
-- Swap the new column in and record the new model (inside the switch's transaction).
select _pymem.finish_reembed() as report;

-- name: abort_reembed
-- Drop the new column and forget the change.
select _pymem.abort_reembed() as report;

-- name: schedule_plan
-- The maintenance jobs: worker and pg_cron schedules, pg_cron's statement.
select job, worker_schedule, cron_schedule, command from _pymem.schedule_plan();

-- name: cron_jobs
-- The jobs pg_cron runs for this database (the worker runs the others).
select job from _pymem.cron_jobs() as job;
