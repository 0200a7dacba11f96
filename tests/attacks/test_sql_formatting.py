"""No caller text is spliced into SQL or Cypher (issue 31, item 1).

Every `%s` in a format() of the shipped SQL is listed here with what it formats in, reviewed:
a number, an internal name pymem generated, a regclass/regprocedure from the catalog, SQL text
built from constants, or a message that is never executed. Caller text goes in only as %L/%I
(or as a bound parameter). A new `%s` fails this test until it is reviewed and listed.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

SQL = Path(__file__).resolve().parents[2] / "pymem" / "sql" / "idempotent"

NUMBER = "a number (integer setting, dimension count, index, limit)"
INTERNAL = "an internal name pymem generated (install id, storage suffix, random hex)"
CATALOG = "a regclass/regprocedure or an argument list read from the catalog"
CONSTANT = "SQL or Cypher text built from constants in these files"
MESSAGE = "text of a message or a stored summary, never executed"

REVIEWED = {
    # 010_internal.sql
    "format('pm_%s_service', install_id)": INTERNAL,
    "format('pm_%s_tenant', install_id)": INTERNAL,
    "format('revoke update on %s from %I', p_table, p_role)": CATALOG,
    "format('grant update (%s) on %s to %I', v_columns, p_table, p_role)": CATALOG + "; columns quote_ident'ed",
    "format('strict $.**{%s}', p_max_depth + 1)": NUMBER,
    # 020_tenants.sql
    "using hnsw (embedding vector_cosine_ops) with (m = %s, ef_construction = %s)',": NUMBER,
    "format('pm_%s_%s', _pymem.install_id(), v_suffix)": INTERNAL,
    "format('alter %s %I.%I owner to %I', case v_object.relkind": CONSTANT,
    # 030_memories.sql
    "where m.tenant_id = $2 and %s and ($3::uuid is null or m.id < $3)": CONSTANT + " (visible_predicate)",
    # 040_retrieve.sql
    "format('select count(*) from (select 1 from %s m where %s limit %s) s',": CATALOG + ", " + CONSTANT + ", " + NUMBER,
    "'select m.* from %s c join user_rows m on m.id = c.id'": CATALOG,
    "format('select m.* from %%s c cross join lateral (": CATALOG,
    "double precision) as %s', v_statement, v_sql)": CONSTANT + " (the statement retrieve prepares)",
    # 045_retrieval_admin.sql
    "format('%s %I on _pymem.%I using hnsw (embedding vector_cosine_ops) with (m = %s, ef_construction = %s)',":
        CONSTANT + " ('create index [concurrently]'), " + NUMBER,
    "format('%s %I on _pymem.%I using gin (lexemes)', v_create, p_name, v_partition)": CONSTANT,
    "format('memories_%s', v_tenant.storage_suffix)": INTERNAL,
    "format('memories_%s_%s', v_tenant.storage_suffix, v_kind)": INTERNAL + " and a constant kind",
    "format('select count(*), count(m.embedding) from %s m', v_partition)": CATALOG,
    "format('select count(*) from %s m where m.lexemes @@ %L::tsquery', v_partition,": CATALOG,
    "format('pymem admin reindex --tenant %s   (or, as the owner in psql: '": MESSAGE,
    # 048_embedding_model.sql
    "format('alter table _pymem.memories alter column embedding type vector(%s)', p_dimensions)": NUMBER,
    "format('alter table _pymem.memories add column embedding_next vector(%s)', p_dimensions)": NUMBER,
    # 050_ingest.sql
    "format('message %s name', v_index)": MESSAGE,
    "format('message %s id', v_index)": MESSAGE,
    "format('lease expired on attempt %s', e.attempts)": MESSAGE,
    "format('extraction memory %s kind', p_index)": MESSAGE,
    # 060_consistency.sql
    "format('select m.* from %s m where m.user_id = $1 and m.status = ''active'' and m.kind = $2": CATALOG,
    "execute format('select t.embedding from _pymem.episodes e join %s t on t.tenant_id = e.tenant_id": CATALOG,
    # 070_lifecycle.sql
    "format('Conversation summary (%s%s): %s', to_char(v_group.day, 'YYYY-MM-DD'),": MESSAGE,
    # 080_graph.sql
    "format('select * from ag_catalog.cypher(%L, $c$%s$c$, $1) as (r ag_catalog.agtype)', p_graph, p_cypher)":
        CONSTANT + " (graph_exec: callers pass constants; $c$ is refused)",
    "'CREATE (u)-[r:%s {memory_id: $mid, valid_from: $vf, valid_to: $vt, confidence: $conf}]->(e) RETURN r',":
        "an edge label from the fixed list _pymem.relation_predicates()",
    # 085_privacy.sql
    "format('select %s + count(*) from ag_catalog.cypher(%L, $c$ MATCH ()-[r]->() WHERE r.user_id = $uid RETURN r $c$, $1) as (r agtype)',":
        NUMBER,
    "format('create or replace function %I.%I(%s) returns %s language sql volatile security definer '": CATALOG,
    "case when v_fn.proretset then format('select * from pymem.%I(%s)', v_fn.proname, coalesce(v_args, ''))":
        "$1, $2, ... generated",
    "else format('select pymem.%I(%s)', v_fn.proname, coalesce(v_args, '')) end)": "$1, $2, ... generated",
    "format('alter function %I.%I(%s) owner to %I', v_schema, v_fn.proname,": CATALOG,
    "format('revoke all on function %I.%I(%s) from public', v_schema, v_fn.proname,": CATALOG,
    "format('drop function %I.%I(%s)', v_schema, v_fn.proname, v_fn.args)": CATALOG,
    "format('alter role %I connection limit %s', p_login, (v_settings->>'login_connection_limit')::int)": NUMBER,
    "format('alter role %I set statement_timeout = %s', p_login, (v_settings->>'login_statement_timeout_ms')::int)":
        NUMBER,
    "format('alter role %I set idle_in_transaction_session_timeout = %s', p_login,": NUMBER,
    "format('alter role %I set transaction_timeout = %s', p_login, (v_settings->>'login_transaction_timeout_ms')::int)":
        NUMBER,
    "format('alter role %I set lock_timeout = %s', p_login, (v_settings->>'login_lock_timeout_ms')::int)": NUMBER,
    "format('alter role %I set idle_session_timeout = %s', p_login,": NUMBER,
    "format('alter role %I set work_mem = %s', p_login, (v_settings->>'login_work_mem_kb')::int)": NUMBER,
    "format('alter role %I set temp_file_limit = %s', p_login, (v_settings->>'login_temp_file_limit_kb')::int)":
        NUMBER,
    "format('pm_%s_%s_login_%s', _pymem.install_id(), v_tenant.storage_suffix,": INTERNAL,
    "format('grant execute on function %I.%I(%s) to %I', v_schema, v_fn.proname, v_fn.args, v_login)": CATALOG,
    "format('grant execute on function %I.%I(%s) to %I', _pymem.api_schema(v_tenant), v_fn.proname,": CATALOG,
    # 090_grants.sql
    "format('revoke execute on function %s from public', v_function)": CATALOG,
    "format('grant execute on function %s to %I', v_function, v_owner)": CATALOG,
}


def unquoted_percent_s_lines() -> Counter:
    found: Counter = Counter()
    for path in sorted(SQL.glob("*.sql")):
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("--", 1)[0] if not re.search(r"'[^']*--", line) else line
            if "%s" not in code:
                continue
            found[code.strip()] += 1
    return found


def test_every_unquoted_format_placeholder_is_reviewed():
    found = unquoted_percent_s_lines()
    unreviewed = [line for line in found if not any(snippet in line for snippet in REVIEWED)]
    assert unreviewed == [], "new %s in format(): quote with %I/%L, bind it, or review and list it here"
    stale = [snippet for snippet in REVIEWED if not any(snippet in line for line in found)]
    assert stale == [], "reviewed placeholders no longer in the SQL: remove them from the list"


def test_no_format_splices_a_parameter_named_like_caller_text():
    """The arguments of a `%s` are never the caller's text parameters (p_query, p_content, ...)."""
    caller_text = re.compile(r"\bp_(query|content|text|user_id|entity|from|to|reason|messages|metadata|filters|"
                             r"cypher_text|value|name)\b")
    for line in unquoted_percent_s_lines():
        if "format(" in line and "%L" not in line and "%I" not in line:
            assert not caller_text.search(line.split("format(", 1)[1]), line
