-- 0010_secrets: keys only the installing role reads.
-- Incremental file: run once by alembic revision 0010, then frozen.
--
--   subject_hash_key  keys the audit log's subject hashes (erasure tombstones). They were
--                     keyed with the install id, which every role name shows, so anyone
--                     with a guess of a user id could confirm it against a tombstone.
--                     32 bytes from two gen_random_uuid() (the strong random source).

create table _pymem.secrets (
    name  text primary key,
    value bytea not null check (octet_length(value) >= 16)
);
revoke all on _pymem.secrets from public;

insert into _pymem.secrets (name, value)
select 'subject_hash_key',
       decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex');
