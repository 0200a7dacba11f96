-- 0018_rows_inline: a memory's embedding, lexemes and content kept in its row, not in TOAST
-- (issue 34). Incremental file: run once by alembic revision 0018, then frozen.
--
-- PostgreSQL moves a row's long values out of line once the row passes ~2 kB
-- (TOAST_TUPLE_TARGET), and pgvector gives vector the storage EXTERNAL. A 384-d embedding is
-- 1,544 bytes: a conversation turn of LoCoMo (content 180 bytes, lexemes 265, 2.2 kB in all)
-- kept its embedding in the partition's TOAST table, and every distance retrieve computed
-- cost a TOAST index probe and a heap fetch (the exact scan of a 500-turn user read 1,632
-- buffers for its 500 rows; the main statement took 19 ms p50). With the vector PLAIN alone
-- the toaster moves the lexemes out instead (89% of those turns), which BM25 reads on every
-- matching row. So both:
--   embedding  storage PLAIN: never compressed or moved (set on the partitioned table, it
--              reaches every tenant partition and those created later);
--   partitions toast_tuple_target 8160 (the most a page allows): a row is left whole until it
--              passes a page; past that the long content and lexemes go first, as before.
--              A reloption of each partition (a partitioned table takes none): the tenant
--              partitions here, and _pymem.create_tenant (020_tenants.sql) for new ones.
alter table _pymem.memories alter column embedding set storage plain;

do $$
declare
    v_tenant _pymem.tenants;
begin
    for v_tenant in select * from _pymem.tenants t order by t.tenant_id loop
        execute format('alter table _pymem.%I set (toast_tuple_target = 8160)', 'memories_' || v_tenant.storage_suffix);
    end loop;
end
$$;

-- Rows stored before keep their out-of-line or compressed values until rewritten, which
-- `pymem migrate` does right after this file, one transaction per tenant partition
-- (pymem/migrate.py, run_backfills 'rows_inline'): each rewritten row is a new row version
-- in the HNSW and GIN indexes, too much for one transaction on a large install. Until then
-- those rows answer as before, only slower.
insert into _pymem.pending_backfills (name) values ('rows_inline');
