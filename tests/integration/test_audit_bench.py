"""`pymem bench audit` end to end on a small conversation in LoCoMo's format: every closing is
listed with both texts and the turns they came from, and the counts add up. Whether a closing
is right is for a person reading the listing; the cases the audit found wrong are tests in
tests/sql/test_statements.py."""

import json

from click.testing import CliRunner

from pymem.cli import main

CONVERSATION = [{
    "sample_id": "conv-t",
    "conversation": {
        "speaker_a": "Ana", "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ana", "dia_id": "D1:1", "text": "I live in Lisbon."},
            {"speaker": "Ben", "dia_id": "D1:2", "text": "I use Vim for everything."},
            {"speaker": "Ana", "dia_id": "D1:3", "text": "I'm still getting used to living in Lisbon, but I love it."},
        ],
        "session_2_date_time": "10:00 am on 9 June, 2023",
        "session_2": [
            {"speaker": "Ana", "dia_id": "D2:1", "text": "We moved from Lisbon to Porto last week."},
            {"speaker": "Ben", "dia_id": "D2:2", "text": "I no longer use Vim."},
            {"speaker": "Ana", "dia_id": "D2:3", "text": "We're looking for economy tickets and don't have a preferred airline."},
        ],
    },
}]


def test_bench_audit_lists_each_closing_with_both_texts(db, embedder, tmp_path):
    data = tmp_path / "conversation.json"
    data.write_text(json.dumps(CONVERSATION))
    result = CliRunner().invoke(main, ["--dsn", db.admin_dsn, "bench", "audit", "--data", str(data), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads([line for line in result.output.splitlines() if line.startswith("{")][-1])

    assert out["benchmark"] == "audit" and out["turns_ingested"] == 6
    assert out["worker"]["applied"] == 6 and out["worker"]["dead_in_queue"] == 0
    counts = out["counts"]
    assert counts["memories_closed"] == len(out["events"])
    assert counts["closed_by_cessations"] == sum(c["closed"] for c in out["cessations"])
    moved = [e for e in out["events"] if e["user"] == "ana-conv-t" and e["type"] == "supersession"]
    assert [(e["old"]["value"], e["new"]["value"]) for e in moved] == [("Lisbon", "Porto")]
    assert moved[0]["old"]["source"] == "I live in Lisbon."
    assert moved[0]["new"]["source"] == "We moved from Lisbon to Porto last week."
    [vim] = [e for e in out["events"] if e["user"] == "ben-conv-t"]
    assert vim["type"] == "cessation" and vim["new"]["source"] == "I no longer use Vim."
    assert vim["old"]["source"] == "I use Vim for everything."
    # "still getting used to" continues; "don't have a preferred airline" never had one
    assert [c["source"] for c in out["cessations"]] == ["I no longer use Vim."]

    listing = CliRunner().invoke(main, ["--dsn", db.admin_dsn, "bench", "audit", "--data", str(data)],
                                 catch_exceptions=False)
    assert listing.exit_code == 0, listing.output
    assert 'from "We moved from Lisbon to Porto last week."' in listing.output
    assert "cessations stored: 1" in listing.output
