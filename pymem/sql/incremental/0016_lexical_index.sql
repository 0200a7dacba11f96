-- 0016_lexical_index: lexical search on PostgreSQL's own full text search, which every
-- restart, crash, standby and point-in-time recovery keeps (issue 32).
-- Incremental file: run once by alembic revision 0016, then frozen.
--
-- pg_textsearch 1.0.0's bm25 index (one per tenant partition, created empty and filled by
-- inserts) answered nothing after a clean restart, missed what was written since the last
-- checkpoint after a crash, was empty on a streaming standby and after a point-in-time
-- recovery: its memtable and corpus statistics are not WAL-logged. In its place:
--   memories.lexemes      the content's tsvector (tenant's text_config), set by a trigger
--                         (sql/idempotent/040_retrieve.sql): a column, so it is WAL-logged
--                         with the row and never re-tokenised at query time;
--   memories_<suffix>_fts a GIN index on it per tenant partition (GIN is WAL-logged);
--   lexical_stats         per user: how many memories (any status) and how many distinct
--                         lexemes they hold in all, kept by a trigger in the writing
--                         transaction; retrieve scores BM25 from it (N and the average
--                         document length) and from the matching rows (document frequency).
alter table _pymem.memories add column lexemes tsvector;

-- A user's row goes with their last memory (erase_user), a tenant's with the tenant.
create table _pymem.lexical_stats (
    tenant_id text not null references _pymem.tenants (tenant_id) on delete cascade,
    user_id   text not null,
    documents bigint not null check (documents >= 0),
    lexemes   bigint not null check (lexemes >= 0),
    primary key (tenant_id, user_id)
);
revoke all on _pymem.lexical_stats from public;

-- Each tenant partition: the pg_textsearch index (or the expression GIN of installs without
-- pg_textsearch, whose name the new index takes) out first (one UPDATE over partitions that
-- still have bm25 indexes ran out of LWLocks: "too many LWLocks taken" on 102 tenants), then
-- lexemes for the rows stored before (the tenant's text_config, else the product default,
-- 'english' as _pymem.settings() says at this release), then the GIN index, built in one pass.
do $$
declare
    v_tenant _pymem.tenants;
begin
    for v_tenant in select * from _pymem.tenants t order by t.tenant_id loop
        execute format('drop index if exists _pymem.%I', 'memories_' || v_tenant.storage_suffix || '_bm25');
        execute format('drop index if exists _pymem.%I', 'memories_' || v_tenant.storage_suffix || '_fts');
        execute format('update _pymem.%I set lexemes = to_tsvector(%L::regconfig, content)',
                       'memories_' || v_tenant.storage_suffix,
                       coalesce(v_tenant.settings->>'text_config', 'english'));
        execute format('create index %I on _pymem.%I using gin (lexemes)',
                       'memories_' || v_tenant.storage_suffix || '_fts', 'memories_' || v_tenant.storage_suffix);
    end loop;
end
$$;

insert into _pymem.lexical_stats (tenant_id, user_id, documents, lexemes)
select m.tenant_id, m.user_id, count(*), coalesce(sum(length(m.lexemes)), 0)
from _pymem.memories m
group by m.tenant_id, m.user_id;
