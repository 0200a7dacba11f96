-- 0020_reading_heads: learned reading heads over memory embeddings.
-- Incremental file: run once by alembic revision 0020, then frozen.
--
--   _pymem.reading_heads  one logistic scorer per (name, embedding model) over a statement's
--                         embedding (score = embedding . weights + bias): "change" reads a
--                         statement as announcing a new value above threshold, and overrules
--                         a change cue phrase below veto (null: never). Global, read-only for
--                         tenants (retrieve runs as the tenant); seeded by
--                         sql/idempotent/018_heads.sql, which `pymem bench heads --write-sql`
--                         writes from a fit on others' data.

create table _pymem.reading_heads (
    name       text not null check (name in ('change')),
    model      text not null,
    dimensions int not null check (dimensions between 1 and 2000),
    weights    vector not null check (vector_dims(weights) = dimensions),
    bias       float8 not null,
    threshold  float8 not null,
    veto       float8,
    trained_on text not null,
    primary key (name, model)
);

do $$
begin
    execute format('grant select on _pymem.reading_heads to %I',
                   format('pm_%s_tenant', (select install_id from _pymem.install)));
end
$$;
