-- 0014_episode_claims: workers find due episodes in queue order through one index a plain
-- index scan reads.
-- Incremental file: run once by alembic revision 0014, then frozen.
--
-- _pymem.claim_episodes (sql/idempotent/050_ingest.sql) read episodes_due_idx and
-- episodes_lease_idx as a bitmap OR, then sorted. An episode leaves the queue by updates
-- (pending -> processing -> done) that leave its old entries in those indexes until a vacuum,
-- and a bitmap scan visits the heap for every such entry each time: on `pymem bench load`'s
-- database, at 25 ingested turns a second with one worker, a claim read 1,500 dead entries
-- and cost 1.2 ms (2 ms of PostgreSQL per ingested turn, as much as extracting it). This
-- index is in the claim's order (enqueued_at, id), so the claim reads it as a plain index
-- scan up to its limit, and a plain index scan marks an entry whose row is dead to everyone
-- so that later scans skip it. The claim was the only reader of episodes_due_idx.
create index episodes_claim_idx on _pymem.episodes (enqueued_at, id) where status in ('pending', 'processing');
drop index _pymem.episodes_due_idx;
