-- 0004_graph: the relational side of the knowledge graph. The AGE graph (one per tenant,
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

do $$
declare
    v_group name := format('pm_%s_tenant', (select install_id from _pymem.install));
begin
    perform _pymem.secure_tenant_table('_pymem.memory_entities', v_group, array['select', 'insert']);
    execute format('grant select on _pymem.type_hints to %I', v_group);
end
$$;
