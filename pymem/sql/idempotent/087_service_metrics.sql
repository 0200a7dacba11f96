-- 085_service_metrics: database-side figures for Prometheus. `pymem serve` reads these
-- views on scrape (cached for a few seconds) and exports them from /metrics; the service
-- role may select from them (sql/idempotent/090_grants.sql). They run with their owner's
-- rights, so they see every tenant: never grant them to tenant roles.
--
-- Views other modules add are read too when they exist (pymem/service/metrics.py,
-- OPTIONAL_VIEWS): pymem.metrics_supersession_events (tenant_id, events),
-- pymem.metrics_stale_fact_ratio (tenant_id, ratio), pymem.metrics_contradictions
-- (tenant_id, detected), pymem.metrics_deletion_completion (tenant_id, ratio).

-- Size of each tenant's retrieval indexes (HNSW, and BM25 or the tsvector fallback).
create or replace view _pymem.metrics_index_sizes as
select t.tenant_id, i.index_kind, pg_catalog.pg_relation_size(c.oid) as bytes
from _pymem.tenants t
cross join (values ('hnsw'), ('bm25'), ('fts')) as i (index_kind)
join pg_catalog.pg_class c
  on c.relnamespace = '_pymem'::regnamespace
 and c.relname = ('memories_' || t.storage_suffix || '_' || i.index_kind)::name;
comment on view _pymem.metrics_index_sizes is
    'Bytes per tenant and retrieval index (hnsw, bm25 or fts). Service role only.';

-- How many users hold how many active memories, as a cumulative histogram over all
-- tenants (one row per upper bound "le"; the last is +Infinity). A per-tenant label would
-- multiply series by tenants for little gain; outliers show in the top buckets.
create or replace view _pymem.metrics_user_memory_distribution as
with per_user as (
    select u.tenant_id, u.user_id, coalesce(c.memories, 0) as memories
    from _pymem.users u
    left join (select m.tenant_id, m.user_id, count(*) as memories
               from _pymem.memories m where m.status = 'active'
               group by m.tenant_id, m.user_id) c
      on c.tenant_id = u.tenant_id and c.user_id = u.user_id
)
select b.le,
       (select count(*) from per_user p where p.memories <= b.le) as users,
       (select coalesce(sum(p.memories), 0) from per_user p)::bigint as memories_sum
from unnest(array[0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 10000, 'Infinity']::float8[]) as b (le);
comment on view _pymem.metrics_user_memory_distribution is
    'Cumulative histogram of active memories per user (le, users, memories_sum). Service role only.';

-- Extraction outcome per tenant: episodes applied, applied with >= 1 memory, dead letters.
create or replace view _pymem.metrics_extraction as
select e.tenant_id,
       count(*) filter (where e.status = 'done') as episodes_done,
       count(*) filter (where e.status = 'done' and e.memories_extracted > 0) as episodes_with_memories,
       count(*) filter (where e.status = 'dead') as episodes_dead,
       count(*) filter (where e.status in ('pending', 'processing')) as episodes_open
from _pymem.episodes e
group by e.tenant_id;
comment on view _pymem.metrics_extraction is
    'Episodes per tenant: done, done with >= 1 extracted memory, dead, still open. Service role only.';
