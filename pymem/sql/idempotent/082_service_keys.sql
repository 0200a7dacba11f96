-- 080_service_keys: API keys for the HTTP service. Administrative: SECURITY DEFINER,
-- executable by the service role only (the CLI and `pymem serve` connect as it). Why only
-- a SHA-256 digest is stored: see sql/incremental/0004_service.sql.

-- Creates a key for a tenant and returns it. The key is in this result only: the table
-- keeps its digest, so a lost key cannot be shown again (revoke it, create another).
create or replace function pymem.create_api_key(p_tenant_id text, p_name text default null)
    returns table (key_id uuid, tenant_id text, api_key text, key_prefix text, created_at timestamptz)
    language plpgsql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_key text;
    v_row _pymem.api_keys;
begin
    perform _pymem.tenant(p_tenant_id);
    if p_name is not null then perform _pymem.check_id('name', p_name, 200); end if;
    -- 2 x 122 random bits (gen_random_uuid() draws from the server's strong random source).
    v_key := 'pmk_' || encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex');
    insert into _pymem.api_keys (tenant_id, key_hash, key_prefix, name)
    values (p_tenant_id, sha256(convert_to(v_key, 'UTF8')), left(v_key, 12), p_name)
    returning * into v_row;
    return query select v_row.id, v_row.tenant_id, v_key, v_row.key_prefix, v_row.created_at;
end
$$;
comment on function pymem.create_api_key(text, text) is
    'Creates an API key for a tenant. Service role only. Returns the key id, tenant, the key itself '
    '(shown once: only its SHA-256 digest is stored), its display prefix and creation time.';

create or replace function pymem.revoke_api_key(p_key_id uuid) returns boolean
    language sql volatile security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    with revoked as (
        update _pymem.api_keys k set revoked_at = now()
         where k.id = p_key_id and k.revoked_at is null
        returning 1
    )
    select exists (select from revoked)
$$;
comment on function pymem.revoke_api_key(uuid) is
    'Revokes one API key: it authenticates nothing from now on. Service role only. '
    'Returns false when no such active key exists.';

create or replace function pymem.list_api_keys(p_tenant_id text default null)
    returns table (key_id uuid, tenant_id text, key_prefix text, name text, created_at timestamptz,
                   revoked_at timestamptz)
    language sql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select k.id, k.tenant_id, k.key_prefix, k.name, k.created_at, k.revoked_at
    from _pymem.api_keys k
    where p_tenant_id is null or k.tenant_id = p_tenant_id
    order by k.tenant_id, k.created_at, k.id
$$;
comment on function pymem.list_api_keys(text) is
    'API keys (of one tenant, or all) without their digests. Service role only.';

-- The tenant an API key acts for: the service hashes the presented key (SHA-256) and asks
-- here; no row means the key is unknown or revoked. The digest, not the key, crosses the
-- wire, so statement logs never hold a usable key.
create or replace function _pymem.authenticate_key(p_key_hash bytea)
    returns table (tenant_id text, role_name name, key_id uuid)
    language sql stable security definer
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
    select k.tenant_id, t.role_name, k.id
    from _pymem.api_keys k join _pymem.tenants t on t.tenant_id = k.tenant_id
    where k.key_hash = p_key_hash and k.revoked_at is null
$$;
comment on function _pymem.authenticate_key(bytea) is
    'The tenant (and its role) that the API key with this SHA-256 digest acts for; no row for '
    'unknown or revoked keys. Service role only.';
