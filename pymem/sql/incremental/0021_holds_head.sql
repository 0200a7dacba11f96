-- 0021_holds_head: a second learned reading head, "holds" (does a statement say how things are
-- for the user now: not another person's value, a plan, a hypothetical, a hedge or a
-- question). Incremental file: run once by alembic revision 0021, then frozen.
-- The write path asks it through _pymem.holds_now (sql/idempotent/019_change_reading.sql);
-- its row is seeded by sql/idempotent/018_heads.sql like the change head's.

alter table _pymem.reading_heads drop constraint reading_heads_name_check;
alter table _pymem.reading_heads add constraint reading_heads_name_check check (name in ('change', 'holds'));
