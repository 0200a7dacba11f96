-- 0009_statements: what reading statements in plain language needs.
-- Incremental file: run once by alembic revision 0009, then frozen.
--
--   _pymem.attributes   the vocabulary of attributes a statement can set: whether a user
--                       holds one value at a time (display theme, home city, employer) or
--                       many (pets, allergies, likes), the kind of memory, and how a
--                       memory states it. Global, read-only for tenants; seeded by
--                       sql/idempotent/016_attributes.sql. A statement whose attribute is not
--                       here gets a slot of its own (never a shared catch-all).
--   memories.statement  how the write path read the memory's sentence (subject, attribute,
--                       polarity, modality, update cue, ...; pymem.analyze_statement), so
--                       history and retrieval can show why a slot was chosen. Null when the
--                       caller named the slot itself.
--   a turn's text key   ingest folds a turn said again (same user, session and text, up to
--                       case and spacing) into the earlier row: this index finds it.

create table _pymem.attributes (
    attribute   text primary key check (attribute ~ '^[a-z][a-z_]{1,40}$'),
    cardinality text not null check (cardinality in ('one', 'many')),
    kind        text not null,
    template    text not null check (position('{value}' in template) > 0),
    description text not null
);

alter table _pymem.memories add column statement jsonb check (jsonb_typeof(statement) = 'object');

create index memories_turn_text_idx on _pymem.memories
    (tenant_id, user_id, md5(lower(regexp_replace(btrim(content), '\s+', ' ', 'g'))))
    where kind = 'episode';
