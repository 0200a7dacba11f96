-- 0007_service: API keys for the HTTP service (`pymem serve`).
-- Incremental file: run once by alembic revision 0007, then frozen.
--
-- A key decides the tenant of every request it signs. Only a SHA-256 digest of the key is
-- stored, never the key: keys are 64 hex characters from gen_random_uuid() (244 random
-- bits from the server's strong random source), so a fast unsalted hash is enough, since
-- nobody can brute-force a 244-bit preimage. A slow password hash (bcrypt, argon2) would
-- protect low-entropy secrets, which these are not, and would cost ~100 ms per request,
-- and it needs a salt, which rules out the indexed lookup by digest that authentication
-- uses.
--
-- Citus note: the lookup is by digest, without the tenant, so under Citus this small table
-- becomes a reference table (replicated to every node), not a distributed one.
create table _pymem.api_keys (
    tenant_id  text not null references _pymem.tenants (tenant_id) on delete cascade,
    id         uuid not null default _pymem.new_id(),
    key_hash   bytea not null unique check (octet_length(key_hash) = 32),
    -- The first characters of the key ("pmk_1a2b3c4d"), so people can tell keys apart.
    key_prefix text not null check (length(key_prefix) between 4 and 16),
    name       text check (length(name) <= 200),
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    primary key (tenant_id, id)
);
alter table _pymem.api_keys enable row level security;
alter table _pymem.api_keys force row level security;

do $$
declare
    v_install text := (select install_id from _pymem.install);
    v_group   name := format('pm_%s_tenant', v_install);
    v_owner   name := current_user;
begin
    -- Tenants may see their own keys' metadata (never the digest: column privileges);
    -- creating, revoking and authenticating go through SECURITY DEFINER functions.
    execute format('create policy api_keys_select on _pymem.api_keys for select to %I
                    using (tenant_id = (select _pymem.current_tenant_id()))', v_group);
    execute format('grant select (tenant_id, id, key_prefix, name, created_at, revoked_at)
                    on _pymem.api_keys to %I', v_group);
    execute format('create policy api_keys_owner on _pymem.api_keys for all to %I using (true) with check (true)',
                   v_owner);
end
$$;
