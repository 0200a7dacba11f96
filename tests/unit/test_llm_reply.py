"""A model's extraction reply is validated before anything reaches the database."""

import pytest

from pymem.worker.extract import ExtractionError
from pymem.worker.llm import parse_reply


def test_llm_replies_are_validated():
    good = '{"memories": [{"kind": "preference", "content": "User prefers tea", "subject": "user", ' \
           '"attribute": "prefers:beverage", "value": "Tea", "entities": [{"name": "Tea", "type": "Beverage"}], ' \
           '"relations": [{"predicate": "PREFERS", "entity": "Tea", "type": "Beverage"}], "importance": 0.6, ' \
           '"confidence": 0.9, "source_turns": [0]}]}'
    [candidate] = parse_reply(good, turns=1)
    assert candidate.attribute == "prefers:beverage" and candidate.extractor == "llm"
    for bad in ["not json", '{"memories": {}}', good.replace('"preference"', '"rumour"'),
                good.replace('"importance": 0.6', '"importance": 7'), good.replace('[0]', '[5]'),
                good.replace('"PREFERS"', '"OWNS_SECRETLY"'), good.replace('"User prefers tea"', '42'),
                good.replace('"User prefers tea"', '"   "'), good.replace('"importance": 0.6', '"importance": "0.6"'),
                good.replace('"importance": 0.6', '"importance": true'), good.replace(', "type": "Beverage"}]', '}]'),
                good.replace('[0]', '["0"]'), '{"memories": [' + ", ".join([good[14:-2]] * 2) + ', 7]}']:
        with pytest.raises(ExtractionError) as rejected:
            parse_reply(bad, turns=1)
        assert rejected.value.retryable and "LLM reply" in str(rejected.value)
    with pytest.raises(ExtractionError, match=r"memories\.0\.kind: Value error, kind 'rumour' is not one of"):
        parse_reply(good.replace('"preference"', '"rumour"'), turns=1)
    # Optional lists may be null; the kinds offered are the database's.
    [bare] = parse_reply('{"memories": [{"kind": "habit", "content": " Runs daily ", "entities": null}]}', turns=1,
                         kinds=("habit",))
    assert (bare.kind, bare.content, bare.entities, bare.importance) == ("habit", "Runs daily", [], 0.5)
