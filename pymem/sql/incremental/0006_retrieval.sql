-- 0006_retrieval: an index to find a conversation turn's neighbours.
-- Incremental file: frozen once released.
--
-- pymem.retrieve scores a matching conversation turn (kind episode) together with the turns
-- next to it in its session, ordered by (observed_at, id). Each candidate looks its
-- neighbours up here: a few index probes, where the per-user btree would read every row of
-- the user (a 50,000-memory user: tens of ms). Created on the partitioned table, so every
-- tenant partition, present and future, gets its own.
create index memories_episode_order_idx on _pymem.memories (tenant_id, user_id, session_id, observed_at, id)
    where kind = 'episode' and session_id is not null;
