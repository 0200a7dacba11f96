"""The SECURITY DEFINER review (docs/security.md) matches the database."""

import re
from pathlib import Path

REVIEW = Path(__file__).resolve().parents[2] / "docs" / "security.md"

TENANT_EXECUTABLE = {"capabilities", "current_embedding_model", "audit_event", "erase_user", "graph_link", "graph_close", "own_memory", "check_capacity",
                     "graph_facts", "graph_neighbors", "lexical_hits",
                     "lexical_corpus"}


def test_every_definer_function_is_reviewed_and_pinned(db):
    review = REVIEW.read_text()
    reviewed = set(re.findall(r"`(?:pymem|_pymem)\.(\w+)", review))
    with db.connect() as conn:
        rows = conn.execute(
            """select p.proname, coalesce(array_to_string(p.proconfig, ','), ''),
                      has_function_privilege(%s, p.oid, 'execute')
               from pg_proc p
               where p.prosecdef and p.pronamespace in ('pymem'::regnamespace, '_pymem'::regnamespace)""",
            (db.tenant_group,)).fetchall()
    definers = {name for name, _, _ in rows}
    assert definers - reviewed == set(), "definer functions missing from docs/security.md"
    for name, config, _ in rows:
        assert "search_path=" in config and "pg_temp" in config.split("search_path=")[1], name
    assert {name for name, _, tenant_exec in rows if tenant_exec} == TENANT_EXECUTABLE
