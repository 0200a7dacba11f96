"""The rule extractor on a table of sentences, with the gazetteer from the database."""

import psycopg
import pytest

from pymem.worker.extract import Gazetteer, RuleExtractor


@pytest.fixture(scope="module")
def extractor(pg_server, template_db):
    from ..conftest import TEMPLATE

    with psycopg.connect(pg_server.uri(TEMPLATE)) as conn:
        return RuleExtractor(Gazetteer.from_db(conn))


CASES = [
    # sentence, kind, attribute, value, (entity name, type) that must be present
    ("I'm allergic to dogs", "fact", "allergy:dog", "Dog", ("Dog", "Animal")),
    ("I love hot dogs!", "preference", "likes:hot_dog", "likes", ("Hot dog", "Food")),
    ("I am severely allergic to peanuts.", "fact", "allergy:peanut", "Peanut", ("Peanut", "Food")),
    ("I prefer dark mode", "preference", "prefers:setting", "Dark mode", ("Dark mode", "Setting")),
    ("Actually, light mode is better.", "preference", "prefers:setting", "Light mode", ("Light mode", "Setting")),
    ("I switched to light mode", "preference", "prefers:setting", "Light mode", ("Light mode", "Setting")),
    ("I hate cilantro", "preference", "likes:cilantro", "dislikes", ("Cilantro", "Food")),
    ("I don't like coffee", "preference", "likes:coffee", "dislikes", ("Coffee", "Beverage")),
    ("I'd prefer tea over coffee", "preference", "prefers:beverage", "Tea", ("Tea", "Beverage")),
    ("My time zone is Europe/Berlin", "fact", "time_zone", "Europe/Berlin", ("Europe/Berlin", "TimeZone")),
    ("I'm in the PST time zone", "fact", "time_zone", "PST", ("PST", "TimeZone")),
    ("I mostly use VS Code and Python", "fact", "uses:vs_code", "VS Code", ("Python", "ProgrammingLanguage")),
    ("I live in Lisbon", "fact", "lives_in", "Lisbon", ("Lisbon", "Place")),
    ("I moved to Berlin last year", "fact", "lives_in", "Berlin", ("Berlin", "Place")),
    ("I'm a backend developer", "fact", "occupation", "backend developer", ("Backend developer", "Occupation")),
    ("I work at Acme Corp", "fact", "employer", "Acme Corp", ("Acme Corp", "Organization")),
    ("I'm working on the billing service", "fact", "works_on:billing_service", "Billing service", None),
    ("I'm vegetarian", "fact", "diet", "Vegetarian", ("Vegetarian", "Diet")),
    ("My sister Anna is visiting", "fact", "relation:sister", "Anna", ("Anna", "Person")),
    ("I have a dentist appointment on 3 December.", "event", None, "3 December", None),
    ("We have a team meeting next Tuesday", "event", None, "next Tuesday", None),
    ("Please always answer in German.", "procedural", None, None, None),
]


@pytest.mark.parametrize("sentence, kind, attribute, value, entity", CASES)
def test_sentences(extractor, sentence, kind, attribute, value, entity):
    [candidate] = extractor.extract([{"role": "user", "content": sentence}])
    assert (candidate.kind, candidate.attribute, candidate.value) == (kind, attribute, value)
    if entity is not None:
        assert entity in [(e.name, e.type) for e in candidate.entities]
    assert candidate.source_turns == [0]
    assert candidate.content.strip()


def test_dogs_and_hot_dogs_are_different_things(extractor):
    allergy, food = extractor.extract([
        {"role": "user", "content": "I'm allergic to dogs."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "But I love hot dogs."},
    ])
    assert [(e.name, e.type) for e in allergy.entities] == [("Dog", "Animal")]
    assert [(e.name, e.type) for e in food.entities] == [("Hot dog", "Food")]
    assert allergy.relations[0]["predicate"] == "ALLERGIC_TO"
    assert food.relations[0]["predicate"] == "LIKES"
    assert food.source_turns == [2]


def test_corrections_share_the_slot_and_gain_confidence(extractor):
    first, second = extractor.extract([{"role": "user", "content": "I prefer dark mode."},
                                       {"role": "user", "content": "Actually, light mode is better."}])
    assert (first.subject, first.attribute) == (second.subject, second.attribute)
    assert second.confidence > first.confidence


@pytest.mark.parametrize("sentence", ["The weather is nice today", "I use the stairs", "ok thanks", "What time is it?"])
def test_small_talk_yields_nothing(extractor, sentence):
    assert extractor.extract([{"role": "user", "content": sentence}]) == []


def test_only_user_turns_are_read(extractor):
    assert extractor.extract([{"role": "assistant", "content": "I'm allergic to dogs"}]) == []
