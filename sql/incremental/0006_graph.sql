-- 0006_graph: the relational side of the knowledge graph. The AGE graph (one per tenant,
-- owned by the tenant role) holds users, typed entities and relation edges; these tables
-- keep the per-user entity -> memory mapping that retrieval reads in well under a
-- millisecond (AGE traversals are too slow for the query path). Incremental; frozen.

create table _pymem.memory_entities (
    tenant_id   text not null,
    user_id     text not null,
    memory_id   uuid not null,
    entity_key  text not null,     -- lower(type) || ':' || lower(name): "animal:dog"
    entity_name text not null,
    entity_type text not null,
    predicate   text,              -- ALLERGIC_TO, LIKES, ... or null for a plain mention
    primary key (tenant_id, memory_id, entity_key)
);
create index memory_entities_lookup_idx on _pymem.memory_entities (tenant_id, user_id, entity_key);
create index memory_entities_type_idx on _pymem.memory_entities (tenant_id, user_id, entity_type);

-- Words in a question that ask for a type of entity: "what food ..." -> Food.
create table _pymem.type_hints (
    word        text primary key check (word = lower(word)),
    entity_type text not null
);

alter table _pymem.memory_entities enable row level security;
alter table _pymem.memory_entities force row level security;

do $$
declare
    v_install text := (select install_id from _pymem.install);
    v_group   name := format('pm_%s_tenant', v_install);
begin
    execute format('create policy memory_entities_select on _pymem.memory_entities for select to %I
                    using (tenant_id = (select _pymem.current_tenant_id()))', v_group);
    execute format('create policy memory_entities_insert on _pymem.memory_entities for insert to %I
                    with check (tenant_id = (select _pymem.current_tenant_id()))', v_group);
    execute format('create policy memory_entities_owner on _pymem.memory_entities for all to %I
                    using (true) with check (true)', current_user);
    execute format('grant select, insert on _pymem.memory_entities to %I', v_group);
    execute format('grant select on _pymem.type_hints to %I', v_group);
end
$$;
