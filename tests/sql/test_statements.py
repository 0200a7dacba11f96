"""Reading statements in plain language (pymem.analyze_statement, _pymem.extract) and what
the write path does with them: corrections supersede, unrelated statements never do,
cessations close, many-valued attributes accumulate."""


import psycopg
import pytest
from psycopg.types.json import Jsonb



@pytest.fixture(scope="module")
def analyze(pg_server, template_db):
    from ..conftest import TEMPLATE

    with psycopg.connect(pg_server.uri(TEMPLATE), autocommit=True) as conn:
        def run(sentence, user_id="alice", spoken=True):
            return conn.execute("select pymem.analyze_statement(%s, %s, %s)", (sentence, user_id, spoken)).fetchone()[0]

        def extract(messages, user_id="alice"):
            return conn.execute("select _pymem.extract(%s, %s)", (Jsonb(messages), user_id)).fetchone()[0]

        run.extract = extract
        run.conn = conn
        yield run


SLOTS = [
    # sentence, attribute, value, old value
    ("I prefer dark mode", "display_theme", "Dark mode", None),
    ("Actually, light mode is better for me now.", "display_theme", "Light mode", None),
    ("I switched from dark mode to solarized mode", "display_theme", "solarized mode", "Dark mode"),
    ("I'm on Pacific time these days", "time_zone", "Pacific time", None),
    ("My time zone is Europe/Berlin", "time_zone", "Europe/Berlin", None),
    ("We moved from Lisbon to Porto", "home_city", "Porto", "Lisbon"),
    ("I live in Lisbon", "home_city", "Lisbon", None),
    ("I no longer work at Initech, I joined Globex", "employer", "Globex", "Initech"),
    ("I'm a backend developer", "job_title", "backend developer", None),
    ("Please call me Jo from now on", "name", "Jo", None),
    ("I go by they/them", "pronouns", "they/them", None),
    ("I use Neovim instead of Emacs these days", "code_editor", "Neovim", "Emacs"),
    ("My laptop runs Ubuntu now", "operating_system", "Ubuntu", None),
    ("Send reminders to my email please", "notification_channel", "Email", None),
    ("I'm vegan", "diet", "Vegan", None),
    ("I prefer an aisle seat", "seat", "aisle seat", None),
    ("I'm allergic to dogs", "allergies:dog", "Dog", None),
    ("I love hot dogs!", "likes:hot_dog", "likes", None),
    ("I hate cilantro", "likes:cilantro", "dislikes", None),
    ("I speak Portuguese", "languages:portuguese", "Portuguese", None),
    ("I have two rabbits", "pets:rabbit", "rabbit", None),
    # no vocabulary attribute: a slot of its own, never a shared one
    ("I prefer trains to planes", "prefer:trains_to_planes", "trains to planes", None),
    ("I drink oat milk every day", "drink:oat_milk", "oat milk", None),
]


RUN_TEXTS = ["I'm no longer a co-worker, anymore!", "  ...'hi' there", "I  prefer\tdark mode", "dark-mode please",
             "no-longer", "I can't stand it", "Isn't it?", "fiancée Zoë's café", "a b c d e f", "", "?", "I",
             "The whole office runs Linux", "xuntil then", "I'd like that"]
RUN_LISTS = [["no longer", "anymore", "any more"], ["i", "i'm", "me"], ["can't stand", "stand"], ["isn't", "it"],
             ["dark mode", "dark-mode", "mode"], ["co-worker", "worker", "co"], ["zoë's", "café"], ["a b c d e"],
             ["b c d e f", "f"], ["the whole office"], ["until", "then"], ["d like", "i'd like", "like that"]]


def test_word_runs_answer_what_word_boundary_expressions_do(analyze):
    """The keyword tests read a sentence's runs of words instead of compiling an expression
    each (PostgreSQL caches 32 per connection): the two must agree, separators included."""
    for text in RUN_TEXTS:
        for words in RUN_LISTS:
            by_runs, by_expression = analyze.conn.execute(
                "select _pymem.word_runs(%s) && %s::text[],"
                "       lower(%s) ~ ('\\m(?:' || (select string_agg(_pymem.regex_escape(w), '|') from unnest(%s::text[]) w) || ')\\M')",
                (text, words, text, words)).fetchone()
            assert by_runs == by_expression, (text, words)
    runs = analyze.conn.execute("select _pymem.word_runs('I''m no longer here')").fetchone()[0]
    assert runs[:5] == ["i", "i'm", "i'm no", "i'm no longer", "i'm no longer here"]  # the runs it starts with
    assert runs[-5:] == ["here", None, None, None, None] and len(runs) == 5 * 5


def test_texts_that_name_no_gazetteer_term_stop_early_and_the_rest_are_read_as_before(analyze):
    """recognize_spans skips a text none of whose words starts a gazetteer term (a set that
    every migrate writes from the table): the set must be the table's, and every term must
    still be found, in any case and between other words."""
    conn = analyze.conn
    assert conn.execute(
        "select (select array_agg(k order by k) from jsonb_object_keys(_pymem.gazetteer_first_words()) k)"
        "     = (select array_agg(distinct split_part(g.term, ' ', 1) order by split_part(g.term, ' ', 1))"
        "        from _pymem.gazetteer g)").fetchone()[0]
    missed = conn.execute(
        """select array_agg(g.term) from _pymem.gazetteer g
           where g.term ~ '^[a-z0-9+#/ ]+$'  -- a term with another character can never be read as one
             and not exists (select from _pymem.recognize_spans('So: ' || upper(g.term) || ', then.') r
                             where r.entity_name = g.canonical and r.entity_type = g.entity_type)""").fetchone()[0]
    assert missed is None
    plural = conn.execute("select array_agg(entity_name) from _pymem.recognize_spans('two americanos please', true)").fetchone()[0]
    assert plural == ["Americano"]
    assert conn.execute("select count(*) from _pymem.recognize_spans('hepapane runeze dohefaka', true)").fetchone()[0] == 0


@pytest.mark.parametrize("sentence, attribute, value, old", SLOTS)
def test_slots_come_from_typed_values_and_verbs(analyze, sentence, attribute, value, old):
    a = analyze(sentence)
    assert (a.get("attribute"), a.get("value"), a.get("old_value")) == (attribute, value, old), a
    assert a["subject"] == "user" and a["polarity"] == "positive" and a["memorable"] is True


@pytest.mark.parametrize("sentence, modality, subject", [
    ("Should I switch to light mode?", "question", "user"),
    ("If I ever moved I'd pick Lisbon", "hypothetical", "user"),
    ("I might move to Lisbon next year", "plan", "user"),
    ("My sister lives in Rome", "assertion", "sister"),
    ("My boss uses Emacs", "assertion", "boss"),
])
def test_questions_hypotheticals_plans_and_other_people_hold_no_slot_of_the_users(analyze, sentence, modality, subject):
    a = analyze(sentence)
    assert (a["modality"], a["subject"]) == (modality, subject)
    assert a.get("attribute") is None or a["subject"] != "user"


@pytest.mark.parametrize("sentence, ceased", [
    ("I no longer use Vim", "Vim"), ("I stopped drinking coffee", "coffee"), ("I quit tennis", "tennis"),
    ("I'm not vegetarian anymore", "Vegetarian"), ("I gave up my gym membership", "gym membership"),
    ("I don't eat meat any more", "meat"),
])
def test_cessations_name_what_stops(analyze, sentence, ceased):
    a = analyze(sentence)
    assert a["polarity"] == "cessation"
    assert ceased in (a.get("old_value"), a.get("object"))


def test_an_agents_note_and_the_users_words_read_the_same(analyze):
    note = analyze("Alice prefers dark mode", spoken=False)
    said = analyze("I prefer dark mode")
    assert (note["attribute"], note["value"]) == (said["attribute"], said["value"]) == ("display_theme", "Dark mode")
    assert analyze("User lives in Lisbon", spoken=False)["attribute"] == "home_city"


def test_extraction_reads_user_turns_only_and_keeps_dogs_from_hot_dogs(analyze):
    allergy, food = analyze.extract([
        {"role": "user", "content": "I'm allergic to dogs."},
        {"role": "assistant", "content": "Noted. I'm allergic to cats myself."},
        {"role": "user", "content": "But I love hot dogs."},
    ])
    assert [(e["name"], e["type"]) for e in allergy["entities"]] == [("Dog", "Animal")]
    assert [(e["name"], e["type"]) for e in food["entities"]] == [("Hot dog", "Food")]
    assert allergy["relations"][0]["predicate"] == "ALLERGIC_TO" and food["relations"][0]["predicate"] == "LIKES"
    assert (allergy["source_turns"], food["source_turns"]) == ([0], [2])


@pytest.mark.parametrize("sentence", ["The weather is nice today", "ok thanks", "What time is it?",
                                      "If I were rich I'd live in Monaco"])
def test_small_talk_questions_and_hypotheticals_extract_nothing(analyze, sentence):
    assert analyze.extract([{"role": "user", "content": sentence}]) == []


def test_instructions_and_events(analyze):
    [rule] = analyze.extract([{"role": "user", "content": "Please always answer in German."}])
    [event] = analyze.extract([{"role": "user", "content": "I have a dentist appointment on 3 December."}])
    assert rule["kind"] == "procedural" and event["kind"] == "event"


def test_a_cessation_and_its_replacement_in_one_breath_give_the_replacement(analyze):
    candidates = analyze.extract([{"role": "user", "content": "Not dark mode anymore - light mode please."}])
    assert [(c["attribute"], c["value"]) for c in candidates] == [("display_theme", "Light mode")]


# -- what the audit of real conversations found wrong (issue 33; `pymem bench audit`) -------

@pytest.mark.parametrize("sentence", [
    "I'm still getting used to living in Tokyo, but I love it",
    "We're looking for economy tickets and don't have a preferred airline",
    "It took us a while to decide, but we ended up going with 'Scout' for our pup",
    "I won't quit on my dreams.",
    "Last week I dropped off that stuff I baked at the homeless shelter",
    "Yeah, it's like a little reminder to stick to my goals and never give up.",
    "Finally, I don't have to stress about it, so I can just enjoy my movies and games.",
    # a cessation word, but not ending the thing the sentence names
    "I used to go horseback riding with my dad when I was a kid",
    "It's a bond I haven't felt since my time in the military",
    "Used to hike a lot, but it's more challenging now with my work life balance",
])
def test_continuing_statements_and_stray_cessation_words_end_nothing(analyze, sentence):
    a = analyze(sentence)
    assert not (a["polarity"] == "cessation" and (a.get("attribute") or a.get("object") or a.get("old_value"))), a
    assert not [c for c in analyze.extract([{"role": "user", "content": sentence}])
                if c["statement"]["polarity"] == "cessation"]


@pytest.mark.parametrize("sentence, ceased", [
    ("I used to have a dog back in Michigan", "dog"),
    ("Recently left my IT job after 3 years", "IT job"),
    ("As of today, the project is cancelled.", "project"),
    ("I let my gym membership lapse", "gym membership"),
    ("I haven't played rugby since the spring", "rugby"),
])
def test_cessations_in_real_words_name_exactly_what_ends(analyze, sentence, ceased):
    a = analyze(sentence)
    assert a["polarity"] == "cessation" and ceased in (a.get("old_value"), a.get("object")), a


def test_the_still_getting_used_to_statement_is_about_living_there(analyze):
    a = analyze("I'm still getting used to living in Tokyo, but I love it")
    assert (a["polarity"], a.get("attribute"), a.get("value")) == ("positive", "home_city", "Tokyo")


@pytest.mark.parametrize("sentence", [
    "I'm trying to make a doctor appointment",
    "It was a huge accomplishment for me as an engineer.",
    "So happy you followed your dreams and became an engineer.",
    "As you know, I had an amazing experience touring with a well-known artist.",
    "Having supportive people is key for me to grow as an artist.",
])
def test_a_job_title_that_is_no_clean_title_of_the_users_is_never_written(analyze, sentence):
    assert analyze(sentence).get("attribute") != "job_title"


@pytest.mark.parametrize("sentence, title", [("I work as a nurse", "nurse"),
                                              ("I've stepped into a solutions architect position.", "solutions architect")])
def test_a_clean_job_title_still_reads(analyze, sentence, title):
    a = analyze(sentence)
    assert (a.get("attribute"), a.get("value")) == ("job_title", title)


@pytest.mark.parametrize("sentence", [
    "I made vegan ice cream last Friday and shared it with my friends",
    "It's a delicious dessert made with blueberries, coconut milk, and a gluten-free crust.",
    "Thanks! It's dairy-free and so easy.",
])
def test_a_diet_word_describing_a_dish_is_not_the_users_diet(analyze, sentence):
    assert analyze(sentence).get("attribute") != "diet"


@pytest.mark.parametrize("sentence, diet", [("I went keto last month", "Keto"), ("I've been vegetarian for years", "Vegetarian")])
def test_a_diet_the_user_keeps_still_reads(analyze, sentence, diet):
    a = analyze(sentence)
    assert (a.get("attribute"), a.get("value")) == ("diet", diet)


@pytest.mark.parametrize("sentence", ["The value was: Client call at 2pm EST Tuesday.", "The sync moved to 10:30 CET",
                                      "Dial in at 9 am PST"])
def test_a_time_zone_after_a_clock_time_is_part_of_the_time(analyze, sentence):
    assert analyze(sentence).get("attribute") != "time_zone"


@pytest.mark.parametrize("sentence, zone", [("I'm on EST now", "Eastern time"), ("My time zone is CET", "CET")])
def test_a_time_zone_said_of_the_user_still_reads(analyze, sentence, zone):
    a = analyze(sentence)
    assert (a.get("attribute"), a.get("value")) == ("time_zone", zone)


@pytest.mark.parametrize("sentence", ["Hey! Actually I've never been fishing.", "Never give up!", "Never been there before."])
def test_sentences_with_never_or_always_are_no_instructions_unless_they_instruct(analyze, sentence):
    # "Actually I've never been fishing" may still be kept as a fact (a clause with a change cue)
    assert "procedural" not in [c["kind"] for c in analyze.extract([{"role": "user", "content": sentence}])]


def test_a_bare_no_answers_a_question_and_is_no_update_cue(analyze):
    assert analyze("No, I've never been in that park.")["update_cue"] is False
    assert analyze("No wait, I live in Porto")["update_cue"] is True


# -- the write path -----------------------------------------------------------------------


@pytest.fixture
def acme(client, db):
    client.create_tenant("acme")
    return client.tenant("acme")


def _memories(db, user="u"):
    with db.connect() as conn:
        return conn.execute("select content, status, attribute from _pymem.memories where user_id = %s and kind <> 'episode' "
                            "order by created_at, id", (user,)).fetchall()


def test_unrelated_preferences_both_stay(acme, db):
    acme.remember("u", "I prefer concise responses", kind="preference")
    acme.remember("u", "I prefer window seats", kind="preference")
    acme.remember("u", "I prefer trains to planes", kind="preference")
    assert [status for _, status, _ in _memories(db)] == ["active", "active", "active"]


def test_a_correction_in_other_words_supersedes_and_keeps_history(acme, db):
    first = acme.remember("u", "Alice prefers dark mode", kind="preference")
    acme.remember("u", "Light mode is better for me now", kind="preference")
    assert [(c, s) for c, s, _ in _memories(db)] == [("Alice prefers dark mode", "superseded"),
                                                     ("Light mode is better for me now", "active")]
    assert [v["operation"] for v in acme.history(first)] == ["create", "supersede"]


def test_many_valued_attributes_accumulate(acme, db):
    for sentence in ("I have a cat", "I also have a dog", "I'm allergic to peanuts", "I'm allergic to shellfish too"):
        acme.remember("u", sentence)
    assert {a for _, s, a in _memories(db) if s == "active"} == {"pets:cat", "pets:dog", "allergies:peanut",
                                                                 "allergies:shellfish"}


def test_cessation_closes_the_memory_and_stores_no_positive_fact(acme, db):
    used = acme.remember("u", "I use Vim")
    ceased = acme.remember("u", "I no longer use Vim")
    rows = {c: (s, a) for c, s, a in _memories(db)}
    assert rows == {"I use Vim": ("superseded", "code_editor"), "I no longer use Vim": ("active", None)}
    assert acme.history(used)[-1]["reason"].startswith("cessation")
    with db.connect() as conn:
        assert conn.execute("select superseded_by from _pymem.memories where id = %s", (used,)).fetchone()[0] == \
            __import__("uuid").UUID(ceased)


def test_an_update_cue_replaces_the_nearest_memory_without_a_vocabulary_slot(acme, db):
    first = [1.0] + [0.0] * 383
    unrelated = [0.8, 0.6] + [0.0] * 382   # cosine 0.8 with the first, but no update cue
    update = [0.7, -0.714] + [0.0] * 382   # cosine 0.7 with the first, 0.13 with the other
    acme.remember("u", "I walk the dog every evening", embedding=first)
    acme.remember("u", "I tried knitting once", embedding=unrelated)  # no cue: both stay
    assert [s for _, s, _ in _memories(db)] == ["active", "active"]
    acme.remember("u", "These days I walk the dog every morning instead", embedding=update)
    assert [(c, s) for c, s, _ in _memories(db)] == [
        ("I walk the dog every evening", "superseded"), ("I tried knitting once", "active"),
        ("These days I walk the dog every morning instead", "active")]


def test_a_cessation_closes_only_memories_whose_value_it_names(acme, db):
    for sentence in ("I drink coffee every morning", "I love coffee", "I'm looking for a new flat",
                     "I use Photoshop for my photos", "I love looking at old maps"):
        acme.remember("u", sentence)
    acme.remember("u", "We're looking for economy tickets and don't have a preferred airline")
    assert {s for _, s, _ in _memories(db)} == {"active"}
    acme.remember("u", "I stopped drinking coffee")
    closed = {c for c, s, _ in _memories(db) if s == "superseded"}
    assert closed == {"I drink coffee every morning", "I love coffee"}


def test_without_a_slot_or_value_a_cessation_closes_the_one_memory_that_mentions_it(acme, db):
    acme.remember("v", "I'm on a rugby team")
    acme.remember("v", "I gave up rugby after my knee injury")
    assert [(c, s) for c, s, _ in _memories(db, "v")][0] == ("I'm on a rugby team", "superseded")
    acme.remember("w", "I'm on a rugby team")
    acme.remember("w", "I love watching rugby matches with friends")
    acme.remember("w", "I gave up rugby after my knee injury")  # two mentions: which one ends is unclear
    assert {c for c, s, _ in _memories(db, "w") if s == "superseded"} == set()

