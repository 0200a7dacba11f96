"""Every function a tenant can reach, called as tenant B and aimed at tenant A.

The list is not written by hand: it is read from pg_proc, so a function added to `pymem`,
`_pymem` or a login role's API schema is probed the day it lands. Each parameter gets a
hostile value by its name (A's memory ids, A's tenant id, a forged row of A's tenant, ...);
a parameter this file does not know fails the test, so nobody can add a function without
deciding how it is attacked. For every function, as B's role (and, for the login wrappers,
as B's login role): the call fails (42501, or a clean error) or returns nothing of A, and
A's rows, graph and audit trail are unchanged afterwards.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import sql

from ..conftest import unit_vector
from ..helpers import as_role

SECRET = "vault code 1234"


@pytest.fixture
def world(client, db):
    client.create_tenant("tenant-a")
    client.create_tenant("tenant-b")
    a = client.tenant("tenant-a")
    ids = [a.remember("shared-user", f"A's secret: the {SECRET}", embedding=unit_vector(1), session_id="sa",
                      kind="preference", subject="user", attribute="vault", value="1234",
                      metadata={"entities": [{"name": "Vault", "type": "Thing"}],
                                "relations": [{"predicate": "USES", "entity": "Vault", "type": "Thing"}]}),
           a.remember("shared-user", f"A's other secret: the {SECRET} changed", embedding=unit_vector(2),
                      kind="preference", subject="user", attribute="vault", value="5678")]
    episode = a.ingest("shared-user", f"I keep the {SECRET} in my head")
    b = client.tenant("tenant-b")
    b.remember("shared-user", "B's own fact", embedding=unit_vector(3))
    client.create_api_key("tenant-a", name="a-key")
    logins = {t: client.create_login(t)["login"] for t in ("tenant-a", "tenant-b")}
    with db.connect() as conn:
        tenant_a = conn.execute("select to_jsonb(t) from _pymem.tenants t where tenant_id = 'tenant-a'").fetchone()[0]
        contradiction = conn.execute("select id from _pymem.contradictions where tenant_id = 'tenant-a'").fetchone()
    yield {"ids": ids, "episode": episode, "tenant_a": tenant_a, "contradiction": contradiction[0] if contradiction else
           ids[0], "role_a": client.tenant_role("tenant-a"), "role_b": client.tenant_role("tenant-b"),
           "logins": logins}
    for login in logins.values():
        client.drop_login(login)


def _fingerprint(db) -> dict:
    """Everything of A, as the owner sees it."""
    tables = ["memories", "memory_versions", "episodes", "users", "contradictions", "memory_entities",
              "api_keys", "logins", "tenants", "audit_log"]
    with db.connect() as conn:
        out = {t: conn.execute(sql.SQL("select count(*), md5(coalesce(string_agg(x::text, '|' order by x::text), '')) "
                                       "from _pymem.{} x where tenant_id = 'tenant-a'").format(sql.Identifier(t))
                               ).fetchone() for t in tables}
        graph = conn.execute("select graph_name from _pymem.tenants where tenant_id = 'tenant-a'").fetchone()[0]
        conn.execute("set search_path = ag_catalog, pg_catalog")
        out["graph"] = conn.execute(sql.SQL("select count(*) from ag_catalog.cypher({}, $$ MATCH (n)-[r]-() RETURN r "
                                            "$$) as (r agtype)").format(sql.Literal(graph))).fetchone()[0]
    return out


def _probe_values(world) -> dict[str, str]:
    """Parameter name -> a SQL expression aimed at A (or hostile in itself)."""
    a_id, other = world["ids"]
    tenant_a = json.dumps(world["tenant_a"])
    memory_a = json.dumps({"tenant_id": "tenant-a", "id": a_id, "user_id": "shared-user", "kind": "preference",
                           "content": "forged", "status": "active", "subject": "user", "attribute": "vault",
                           "importance": 0.5, "confidence": 1, "mention_count": 1, "source": {}, "metadata": {}})
    episode_a = json.dumps({"tenant_id": "tenant-a", "id": world["episode"], "user_id": "shared-user",
                            "messages": [], "metadata": {}, "status": "processing", "memory_ids": [a_id]})
    vector = "'" + json.dumps([float(x) for x in unit_vector(1)]) + "'::vector"
    return {
        "p_user_id": "'shared-user'", "p_query": f"'{SECRET}'", "p_content": "'probe'", "p_text": "'I no longer keep probe text'",
        "p_memory_id": f"'{a_id}'::uuid", "p_id": f"'{world['contradiction']}'::uuid",
        "p_episode_id": f"'{world['episode']}'::uuid", "p_key_id": f"'{a_id}'::uuid",
        "p_tenant_id": "'tenant-a'", "p_worker_id": "'probe'", "p_login": f"'{world['logins']['tenant-a']}'",
        "p_embedding": vector, "p_query_embedding": vector, "p_query_vec": vector,
        "p_turn_embeddings": f"array[{vector}]", "p_memory_embeddings": f"array[{vector}]",
        "p_tenant": f"jsonb_populate_record(null::_pymem.tenants, '{tenant_a}')",
        "p_memory": f"jsonb_populate_record(null::_pymem.memories, '{memory_a}')",
        "p_existing": f"jsonb_populate_record(null::_pymem.memories, '{memory_a}')",
        "p_new": f"jsonb_populate_record(null::_pymem.memories, '{memory_a}')",
        "p_old": f"jsonb_populate_record(null::_pymem.memories, '{memory_a}')",
        "p_candidate": """'{"kind": "fact", "content": "probe"}'::jsonb""",
        "p_candidate:_pymem.memories": f"jsonb_populate_record(null::_pymem.memories, '{memory_a}')",
        "p_episode": f"jsonb_populate_record(null::_pymem.episodes, '{episode_a}')",
        "p_extraction": """'{"memories": []}'::jsonb""",
        "p_export": """'{"format": "pymem-export", "version": 1, "user_id": "probe-import", "memories": []}'::jsonb""",
        "p_messages": """'[{"role": "user", "content": "probe"}]'::jsonb""",
        "p_graph": f"'{world['tenant_a']['graph_name']}'::name",
        "p_cypher": "'MATCH (n) RETURN n'", "p_params": "'{}'::jsonb", "p_options": "'{}'::jsonb",
        "p_filters": "'{}'::jsonb", "p_settings": "'{}'::jsonb", "p_metadata": "'{}'::jsonb", "p_source": "'{}'::jsonb",
        "p_details": "'{}'::jsonb", "p_as_of": "now()", "p_observed_at": "now()", "p_kinds": "array['fact']",
        "p_kind": "'fact'", "p_cue": "'change'", "p_field": "'probe'", "p_value": "'probe value'", "p_reason": "'probe'",
        "p_resolution": "'accept_new'", "p_status": "null::text", "p_entity": "'Vault'", "p_depth": "1", "p_from": "'Vault'", "p_to": "'Vault'", "p_max_hops": "2",
        "p_max_depth": "4", "p_max_bytes": "1000", "p_channel": "'pymem_episodes'",
        "p_lexemes": "array['vault']", "p_big": "false", "p_k1": "1.2", "p_b": "0.3", "p_statement": "'select 1'", "p_by": "gen_random_uuid()", "p_count": "1",
        "p_top_k": "10", "p_limit": "10", "p_batch": "10", "p_index": "0", "p_max": "256",
        "p_token_budget": "null::int", "p_extracted": "false", "p_per_call": "true",
        "p_subject": "'user'", "p_attribute": "'vault'", "p_importance": "0.5::real", "p_session_id": "'sa'",
        "p_agent_id": "null::text", "p_password": "null::text", "p_name": "'probe'", "p_key_hash": "'\\x00'::bytea",
        "p_action": "'probe'", "p_subject_hash": "null::text", "p_lease_seconds": "1", "p_max_attempts": "1",
        "p_error": "'probe'", "p_retry_in_seconds": "1", "p_type": "'Thing'", "p_commands": "array['select']",
        "p_role": f"'{world['role_b']}'::name", "p_table": "'_pymem.memories'::regclass",
        "p_concurrently": "false", "p_model": "'probe-model'", "p_dimensions": "384",
        "p_after": "null::text", "p_after_tenant": "null::text", "p_after_id": "null::uuid", "p_tenant_ids": "array['tenant-a']",
        "p_vectors": "array[null::vector]", "p_ids": f"array['{a_id}'::uuid]", "p_scores": "array[1.0::float8]",
        "p_age_days": "1", "p_half_life": "1", "p_floor": "0.1", "p_operation": "'update'", "p_policy": "'manual'",
        "a": "'x'", "b": "'x'", "p_entity_type": "'Editor'", "p_family": "'employer'", "p_before": "'from'",
        "p_found": "'probe'", "p_pattern": "'(probe)'", "family": "null::text", "old_value": "null::text",
        "new_value": "null::text",
        "p_spoken": "true", "p_plurals": "true", "p_adding": "1", "p_cap": "500", "p_pool": "50",
        "p_as_of:boolean": "true", "p_kinds:boolean": "true", "p_key": "'\\x00'::bytea", "p_before:uuid": f"'{a_id}'::uuid", "p_message": "'x'::bytea", "p_statement": """'{"polarity": "cessation", "subject": "user", "object": "vault"}'::jsonb""",
    }


def _functions(conn, schemas_like: str) -> list[tuple[str, str, list[str], list[str], list[str]]]:
    """(schema, name, argument names, modes, input argument types) of every function."""
    return conn.execute(
        """select n.nspname, p.proname, coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),
                  p.proargtypes::regtype[]::text[]
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname like any(%s::text[]) and p.prokind = 'f'
           order by 1, 2, p.oid""", (schemas_like.split(","),)).fetchall()


def _call(schema: str, name: str, argnames: list[str], modes: list[str], types: list[str], values: dict) -> str:
    names = [n for n, m in zip(argnames, modes or ["i"] * len(argnames)) if m in ("i", "b", "v")][:len(types)]
    chosen = [values.get(f"{n}:{type_}", values.get(n)) for n, type_ in zip(names, types)]
    missing = [n for n, value in zip(names, chosen) if value is None]
    assert not missing, f"{schema}.{name}: add a probe value for parameter(s) {missing} in this file"
    args = ", ".join(f"{n} => {value}" for n, value in zip(names, chosen))
    return f"select * from {schema}.{name}({args})"


def _leaks(text: str, world) -> list[str]:
    return [marker for marker in (SECRET, "A's secret", "A's other secret", world["tenant_a"]["storage_suffix"],
                                  world["role_a"]) if marker in text]


def _probe(conn, statement: str, world) -> tuple[str | None, list[str]]:
    try:
        with conn.transaction():
            conn.execute("set local statement_timeout = '10s'")
            rows = conn.execute(statement).fetchall()
    except psycopg.Error as exc:
        return exc.sqlstate, []
    return None, _leaks(json.dumps(rows, default=str), world)


def test_every_function_a_tenant_role_may_call_is_safe_against_another_tenant(db, world):
    before = _fingerprint(db)
    values = _probe_values(world)
    outcomes = {}
    with db.connect() as conn:
        functions = _functions(conn, "pymem,\\_pymem")
    assert len(functions) > 60, "pg_proc lists fewer functions than pymem defines"
    with as_role(db, world["role_b"]) as conn:
        for schema, name, argnames, modes, types in functions:
            state, leaks = _probe(conn, _call(schema, name, argnames, modes, types, values), world)
            assert not leaks, f"{schema}.{name} returned A's data to B: {leaks}"
            outcomes[f"{schema}.{name}"] = state
    assert _fingerprint(db) == before, "a call as tenant B changed tenant A"
    # The administrative functions are closed to tenant roles outright.
    for admin in ("pymem.create_tenant", "pymem.drop_tenant", "pymem.list_tenants", "pymem.tenant_role",
                  "pymem.create_login", "pymem.drop_login", "pymem.audit_log", "_pymem.claim_episodes",
                  "pymem.create_api_key", "pymem.list_api_keys", "_pymem.authenticate_key"):
        assert outcomes[admin] == "42501", admin


def test_every_login_wrapper_is_safe_against_another_tenant(db, world):
    before = _fingerprint(db)
    values = _probe_values(world)
    with db.connect() as conn:
        schemas = dict(conn.execute("select tenant_id, 'pm_api_' || storage_suffix from _pymem.tenants"))
        wrappers = _functions(conn, schemas["tenant-b"])
        wrappers_a = _functions(conn, schemas["tenant-a"])
    assert {name for _, name, *_ in wrappers} >= {"remember", "retrieve", "forget", "erase_user", "graph_paths"}
    with psycopg.connect(db.server.uri(db.name, user=world["logins"]["tenant-b"]), autocommit=True) as conn:
        # The probes name types like vector; a login may put any schema on its own path.
        conn.execute(sql.SQL("set search_path = {}, public").format(sql.Identifier(schemas["tenant-b"])))
        for schema, name, argnames, modes, types in wrappers:
            state, leaks = _probe(conn, _call(schema, name, argnames, modes, types, values), world)
            assert not leaks, f"login wrapper {name} returned A's data to B: {leaks}"
        # A's wrappers are out of reach: no USAGE on A's API schema.
        for schema, name, argnames, modes, types in wrappers_a:
            state, leaks = _probe(conn, _call(schema, name, argnames, modes, types, values), world)
            assert state == "42501" and not leaks, f"{schema}.{name} as B's login: {state}"
    assert _fingerprint(db) == before, "a call as tenant B's login changed tenant A"


def test_the_probe_values_cover_a_new_function(db, world):
    """The generator refuses a function whose parameter it cannot aim (so none escapes)."""
    with pytest.raises(AssertionError, match="add a probe value"):
        _call("pymem", "brand_new", ["p_unheard_of"], [], ["text"], _probe_values(world))
