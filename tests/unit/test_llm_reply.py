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
                good.replace('"PREFERS"', '"OWNS_SECRETLY"')]:
        with pytest.raises(ExtractionError):
            parse_reply(bad, turns=1)
