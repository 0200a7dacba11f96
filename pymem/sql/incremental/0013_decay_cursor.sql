-- 0013_decay_cursor: the decay sweep walks the memories in key order and writes only what changed.
-- Incremental file: run once by alembic revision 0013, then frozen.
--
-- The sweep found its next batch through memories_decay_idx (tenant_id, decay_checked_at)
-- and set decay_checked_at on every row it looked at. An UPDATE that changes an indexed
-- column cannot be a heap-only (HOT) update, so each row checked got a new entry in every
-- index of its partition, HNSW and BM25 included, and autovacuum then had every partition's
-- indexes to clean. On `pymem bench load`'s database (100 tenants, 31,000 memories) 5 of
-- 171,000 updates were HOT; the six-hourly sweep ran during a capacity run, all 100
-- partitions were vacuumed in the minute after, and the service's p95 went from 43 ms to
-- over a second. The sweep now remembers where it stopped here instead (the next batch
-- continues after this key, in primary-key order), and writes a row only when its stale
-- flag or status changes or its stored weight is 0.05 or more off: a few writes in a
-- memory's life instead of one every sweep, none of them to an indexed column but status
-- (sql/idempotent/070_lifecycle.sql).
-- id null: past every memory of tenant_id.
create table _pymem.decay_cursor (
    singleton boolean primary key default true check (singleton),
    tenant_id text,
    id        uuid
);
insert into _pymem.decay_cursor default values;

drop index _pymem.memories_decay_idx;

