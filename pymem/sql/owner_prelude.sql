-- What a superuser runs once so that a role that is not a superuser can install pymem and
-- own everything (`pymem admin prepare-owner ROLE`; the role needs LOGIN and CREATEROLE).
-- The role comes in the setting pymem.owner. Afterwards: `pymem migrate` as that role,
-- then, as the superuser again, `pymem admin lockdown` (after every migrate).

-- Extensions that only a superuser may create (AGE and pg_textsearch are untrusted).
create extension if not exists vector;
create extension if not exists age;
do $$
begin
    if exists (select from pg_available_extensions where name = 'pg_textsearch')
       and current_setting('shared_preload_libraries') ~ '(^|,)\s*pg_textsearch\s*(,|$)' then
        create extension if not exists pg_textsearch;
    end if;
end
$$;

do $$
declare
    v_owner name := current_setting('pymem.owner');
begin
    if not exists (select from pg_roles r where r.rolname = v_owner and r.rolcreaterole and r.rolcanlogin) then
        raise exception 'pymem: % must be a LOGIN role with CREATEROLE (it creates the service, tenant and login roles)',
            quote_ident(v_owner) using errcode = '42704';
    end if;
    -- Migrations read shared_preload_libraries (is pg_textsearch loaded?).
    execute format('grant pg_read_all_settings to %I', v_owner);
    execute format('grant create on database %I to %I', current_database(), v_owner);
    -- AGE: graphs live in ag_catalog's tables; the owner creates and drops tenants' graphs
    -- and hands nobody else USAGE (tenants reach graphs through its functions only).
    execute format('grant usage on schema ag_catalog to %I with grant option', v_owner);
    execute format('grant select, insert, update, delete on ag_catalog.ag_graph, ag_catalog.ag_label to %I', v_owner);
end
$$;
