-- 0019_setting_specs: every setting described once, as a row. Incremental file: run once by
-- alembic revision 0019, then frozen.
--
--   _pymem.setting_specs  one row a setting: its key, its default, its type and range, and
--                         where it may be set (a tenant's settings, a retrieve call's
--                         options, or both). Filled by sql/idempotent/011_settings.sql, which
--                         also writes the product defaults from it (_pymem.setting_defaults());
--                         _pymem.check_settings() validates against it; `pymem tenant settings
--                         describe` and docs/settings.md print it. Global, read-only for tenants
--                         (retrieve validates a call's options as the tenant).

create table _pymem.setting_specs (
    key           text primary key check (key ~ '^[a-z][a-z0-9_]{0,62}$'),
    value_type    text not null check (value_type in ('number', 'integer', 'boolean', 'text', 'text search config',
                                                      'number[]', 'text[]')),
    -- null: no default (a per-call option only); JSON null: unset unless a tenant sets it
    default_value jsonb,
    -- numbers: the value's range; arrays of numbers: each element's
    minimum       numeric,
    maximum       numeric check (maximum >= minimum),
    max_items     integer check (max_items > 0),  -- arrays
    choices       text[],                         -- text with a fixed set of values
    per_tenant    boolean not null,               -- a tenant's setting (pymem.update_tenant_settings)
    per_call      boolean not null,               -- a retrieve call's option (p_options)
    about         text not null,
    check (per_tenant or per_call),
    check (per_tenant = (default_value is not null)),
    check ((minimum is null) = (value_type not in ('number', 'integer', 'number[]'))),
    check ((max_items is null) = (value_type not in ('number[]', 'text[]'))),
    check (choices is null or value_type = 'text')
);
