"""Extraction: conversation turns -> candidate memories.

The default extractor is deterministic and offline: sentence patterns for the statements
people make about themselves (preferences, corrections, allergies, where they live, what
they use, events with dates, standing instructions) plus a gazetteer of typed entities
shared with the database (``_pymem.gazetteer``), matched longest-first so that "I'm
allergic to dogs" yields Dog (Animal) and "I love hot dogs" yields Hot dog (Food).

Every candidate carries a slot (subject + attribute) that later decides supersession:
"I prefer dark mode" and "Actually, light mode is better" share ``user / prefers:setting``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Protocol, Sequence

RELATIONS = ("ALLERGIC_TO", "LIKES", "DISLIKES", "PREFERS", "WORKS_ON", "WORKS_AT", "USES", "LIVES_IN",
             "HAS_TIMEZONE", "KNOWS", "HAS_CONDITION", "FOLLOWS_DIET", "HAS_NAME", "HAS_OCCUPATION")
KINDS = ("fact", "preference", "event", "procedural")


class ExtractionError(RuntimeError):
    """Extraction failed; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Entity:
    name: str          # canonical name: "Hot dog"
    type: str          # "Food"
    surface: str = ""  # as written: "hot dogs"

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type}


@dataclass
class Candidate:
    kind: str
    content: str
    subject: str | None = None
    attribute: str | None = None
    value: str | None = None
    entities: list[Entity] = field(default_factory=list)
    relations: list[dict] = field(default_factory=list)   # {"predicate", "entity", "type"}
    importance: float = 0.5
    confidence: float = 0.8
    source_turns: list = field(default_factory=list)
    extractor: str = "rules"

    def as_payload(self) -> dict:
        data = asdict(self)
        data["entities"] = [e.as_dict() for e in self.entities]
        return {k: v for k, v in data.items() if v is not None}


class Extractor(Protocol):
    name: str

    def extract(self, messages: Sequence[dict]) -> list[Candidate]:
        ...


# -- the gazetteer ---------------------------------------------------------------------


class Gazetteer:
    """Typed entity recognition: longest surface form first, whole words only."""

    def __init__(self, rows: Iterable[tuple[str, str, str]]):
        self.terms = {term.lower(): (canonical, entity_type) for term, canonical, entity_type in rows}
        alternation = "|".join(re.escape(t) for t in sorted(self.terms, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w+#])(?:{alternation})(?![\w+#])", re.I) if self.terms else None

    @classmethod
    def from_db(cls, conn) -> "Gazetteer":
        from pymem.queries import query

        return cls(conn.execute(query("gazetteer")).fetchall())

    def find(self, text: str) -> list[Entity]:
        if self._pattern is None:
            return []
        found, seen = [], set()
        for match in self._pattern.finditer(text):
            canonical, entity_type = self.terms[match.group(0).lower()]
            if (canonical, entity_type) not in seen:
                seen.add((canonical, entity_type))
                found.append(Entity(canonical, entity_type, match.group(0)))
        return found

    def first(self, text: str) -> Entity | None:
        found = self.find(text)
        return found[0] if found else None


# -- the rules -------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_OBJECT = r"(?P<x>[^.,;!?]+?)"
_END = r"\s*(?:[.,;!?]|\bbut\b|\band\b|\bbecause\b|\bsince\b|$)"
_CORRECTION = re.compile(r"^\s*(?:actually|correction|no wait|sorry|i meant|to be clear|update)\b[,:]?\s*", re.I)
_ARTICLE = re.compile(r"^(?:a|an|the|my|some|any|all|really|very much|so much)\s+", re.I)

_DATE = (r"(?P<date>(?:on\s+)?(?:\d{4}-\d{2}-\d{2}"
         r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*(?:\s+\d{4})?"
         r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?"
         r"|(?:next|this)\s+(?:week|month|year|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend)"
         r"|(?:on\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
         r"|tomorrow|tonight|today|yesterday|last\s+(?:week|month|year|night)))")
_EVENT_NOUN = re.compile(r"\b(appointment|meeting|interview|flight|trip|vacation|holiday|birthday|wedding|"
                         r"conference|party|exam|deadline|concert|surgery|visit|dinner|lunch|launch|"
                         r"class|game|match|race|marathon|presentation|date)\b", re.I)
_TIMEZONE = re.compile(r"\b(?P<tz>[A-Z][a-z]+/[A-Z][A-Za-z_]+|UTC\s?[+-]\s?\d{1,2}(?::\d{2})?|GMT\s?[+-]\s?\d{1,2}|"
                       r"UTC|GMT|CET|CEST|EST|EDT|CST|CDT|MST|MDT|PST|PDT|IST|JST|AEST|BST)\b")
_OCCUPATIONS = (r"developer|engineer|programmer|designer|teacher|nurse|doctor|student|manager|"
                r"scientist|researcher|writer|lawyer|accountant|artist|chef|consultant|architect|"
                r"analyst|product manager|data scientist|founder|musician|photographer|counselor")


def _clean(text: str) -> str:
    text = _ARTICLE.sub("", text.strip().strip("\"'"))
    return re.sub(r"\s+", " ", text).strip()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]


class RuleExtractor:
    """Deterministic, offline extraction from the user's own turns."""

    name = "rules"

    def __init__(self, gazetteer: Gazetteer):
        self.gazetteer = gazetteer
        p = re.compile
        i = re.I
        # (pattern, handler) in priority order; the first that matches a sentence wins.
        self._rules = [
            (p(rf"\b(?:i am|i'm|im|i've always been|i have been)\s+(?:very |severely |mildly |slightly |super )?allergic to {_OBJECT}{_END}", i), self._allergy),
            (p(rf"\bi have an? (?:severe |mild )?(?P<x>[\w -]+?) allerg(?:y|ies){_END}", i), self._allergy),
            (p(rf"\b(?:my )?time ?zone is (?:now )?{_OBJECT}{_END}", i), self._timezone),
            (p(rf"\bi(?:'m| am) (?:in|on) (?:the )?{_OBJECT} time ?zone", i), self._timezone),
            (p(rf"\bmy name is {_OBJECT}{_END}|\bcall me {_OBJECT.replace('x', 'y')}{_END}", i), self._name),
            (p(rf"\bmy favou?rite (?P<what>[\w ]+?) (?:is|are) {_OBJECT}{_END}", i), self._favorite),
            (p(rf"\bi (?:just )?(?:switched|changed|moved over|went back|converted) (?:over |back )?to {_OBJECT}{_END}", i), self._prefer),
            (p(rf"\bi(?:'d| would)? (?:now |really |actually |much |definitely )?prefer {_OBJECT}(?:\s+(?:over|to|instead of)\s+[^.,;!?]+)?{_END}", i), self._prefer),
            (p(rf"^{_OBJECT} (?:is|are|works) (?:much |way |far )?better{_END}", i), self._prefer),
            (p(rf"\bi (?:really |absolutely |just )?(?:don't|do not|can't|cannot) (?:stand|like|eat|drink|tolerate) {_OBJECT}{_END}", i), self._dislike),
            (p(rf"\bi (?:really |absolutely )?(?:hate|dislike|detest|loathe|avoid) {_OBJECT}{_END}", i), self._dislike),
            (p(rf"\bi (?:really |absolutely |just |also )?(?:love|like|enjoy|adore) {_OBJECT}{_END}", i), self._like),
            (p(rf"\bi(?:'m| am) (?:a |an )?(?P<diet>vegetarian|vegan|pescatarian|keto|halal|kosher)\b", i), self._diet),
            (p(rf"\bi have (?P<x>asthma|diabetes|migraines?|celiac disease|adhd|epilepsy|a heart condition){_END}", i), self._condition),
            (p(rf"\bi (?:live|am living|'m living|am based|'m based|reside) in {_OBJECT}{_END}", i), self._lives_in),
            (p(rf"\bi (?:just |recently )?(?:moved|relocated) to {_OBJECT}{_END}", i), self._lives_in),
            (p(rf"\bi(?:'m| am) (?:currently |now )?working on {_OBJECT}{_END}|\bi work on {_OBJECT.replace('x', 'y')}{_END}", i), self._works_on),
            (p(rf"\bi (?:work|am working|'m working) (?:at|for) {_OBJECT}{_END}", i), self._works_at),
            (p(rf"\bi(?: work as| am|'m) (?:a |an )(?:senior |junior |lead |staff |principal |freelance )?(?P<x>(?:[\w-]+ )?(?:{_OCCUPATIONS})){_END}", i), self._occupation),
            (p(rf"\bi(?: mostly| mainly| usually| always| now| still)? (?:use|am using|code in|write|program in) (?P<x>[^.;!?]+)", i), self._uses),
            (p(rf"\bi'm (?:mostly |mainly |now |still )?using (?P<x>[^.;!?]+)", i), self._uses),
            (p(rf"\b(?:always|never|please (?:always|never|don't|do not)|from now on|remember to|make sure to|don't ever)\b", i), self._procedural),
            (p(r"\b(?i:my) (?P<rel>(?i:sister|brother|wife|husband|partner|friend|colleague|boss|mother|mom|father|"
               r"dad|son|daughter|cousin|manager))(?:'s name is|,| is called| named)? (?P<x>[A-Z][a-z]+)"), self._knows),
        ]

    # -- driving ---------------------------------------------------------------------

    def extract(self, messages: Sequence[dict]) -> list[Candidate]:
        out: list[Candidate] = []
        for index, message in enumerate(messages):
            if message.get("role") != "user":
                continue
            turn = message.get("id", index)
            for sentence in _SENTENCE.split(message.get("content", "")):
                sentence = sentence.strip()
                if not sentence:
                    continue
                correction = bool(_CORRECTION.match(sentence))
                body = _CORRECTION.sub("", sentence)
                candidate = self._match(body) or self._event(body)
                if candidate is None:
                    continue
                candidate.source_turns = [turn]
                if correction:
                    candidate.confidence = min(1.0, candidate.confidence + 0.15)
                out.append(candidate)
        return out

    def _match(self, sentence: str) -> Candidate | None:
        for pattern, handler in self._rules:
            match = pattern.search(sentence)
            if match:
                candidate = handler(match, sentence)
                if candidate is not None:
                    return candidate
        return None

    def _entity(self, text: str, default_type: str) -> Entity:
        found = self.gazetteer.first(text)
        if found is not None:
            return found
        name = _clean(text)
        return Entity(name[:1].upper() + name[1:], default_type, text.strip())

    def _x(self, match: re.Match) -> str:
        groups = match.groupdict()
        return _clean(groups.get("x") or groups.get("y") or "")

    # -- handlers (each returns one candidate) ------------------------------------------

    def _allergy(self, match, sentence):
        entity = self._entity(self._x(match), "Substance")
        return Candidate("fact", f"User is allergic to {entity.surface or entity.name}", "user",
                         f"allergy:{_slug(entity.name)}", entity.name, [entity],
                         [{"predicate": "ALLERGIC_TO", "entity": entity.name, "type": entity.type}],
                         importance=0.95, confidence=0.9)

    def _timezone(self, match, sentence):
        tz = _TIMEZONE.search(sentence)
        value = tz.group("tz").replace(" ", "") if tz else self._x(match)
        if not value:
            return None
        entity = Entity(value, "TimeZone", value)
        return Candidate("fact", f"User's time zone is {value}", "user", "time_zone", value, [entity],
                         [{"predicate": "HAS_TIMEZONE", "entity": value, "type": "TimeZone"}],
                         importance=0.7, confidence=0.9)

    def _name(self, match, sentence):
        name = self._x(match).split(" and ")[0]
        if not name:
            return None
        entity = Entity(name, "Person", name)
        return Candidate("fact", f"User's name is {name}", "user", "name", name, [entity],
                         [{"predicate": "HAS_NAME", "entity": name, "type": "Person"}], importance=0.8, confidence=0.9)

    def _favorite(self, match, sentence):
        what, value = _clean(match.group("what")), self._x(match)
        entity = self._entity(value, "Thing")
        return Candidate("preference", f"User's favourite {what} is {value}", "user", f"favorite:{_slug(what)}",
                         entity.name, [entity],
                         [{"predicate": "PREFERS", "entity": entity.name, "type": entity.type}], importance=0.6)

    def _prefer(self, match, sentence):
        value = self._x(match)
        if not value:
            return None
        entity = self._entity(value, "Thing")
        return Candidate("preference", f"User prefers {entity.surface or entity.name}", "user",
                         f"prefers:{_slug(entity.type)}", entity.name, [entity],
                         [{"predicate": "PREFERS", "entity": entity.name, "type": entity.type}], importance=0.7)

    def _like(self, match, sentence):
        value = self._x(match)
        if not value or value.lower().startswith(("to ", "it", "that", "this")):
            return self._like_activity(value)
        entity = self._entity(value, "Thing")
        return Candidate("preference", f"User likes {entity.surface or entity.name}", "user",
                         f"likes:{_slug(entity.name)}", "likes", [entity],
                         [{"predicate": "LIKES", "entity": entity.name, "type": entity.type}], importance=0.6)

    def _like_activity(self, value):
        if not value.lower().startswith("to "):
            return None
        activity = _clean(value[3:])
        entity = self._entity(activity, "Activity")
        return Candidate("preference", f"User likes to {activity}", "user", f"likes:{_slug(entity.name)}",
                         "likes", [entity], [{"predicate": "LIKES", "entity": entity.name, "type": entity.type}],
                         importance=0.6)

    def _dislike(self, match, sentence):
        value = self._x(match)
        if not value:
            return None
        entity = self._entity(value, "Thing")
        return Candidate("preference", f"User dislikes {entity.surface or entity.name}", "user",
                         f"likes:{_slug(entity.name)}", "dislikes", [entity],
                         [{"predicate": "DISLIKES", "entity": entity.name, "type": entity.type}], importance=0.6)

    def _diet(self, match, sentence):
        diet = match.group("diet").lower()
        entity = self._entity(diet, "Diet")
        return Candidate("fact", f"User is {diet}", "user", "diet", entity.name, [entity],
                         [{"predicate": "FOLLOWS_DIET", "entity": entity.name, "type": entity.type}], importance=0.8)

    def _condition(self, match, sentence):
        entity = self._entity(self._x(match), "Condition")
        return Candidate("fact", f"User has {entity.surface or entity.name}", "user",
                         f"condition:{_slug(entity.name)}", entity.name, [entity],
                         [{"predicate": "HAS_CONDITION", "entity": entity.name, "type": entity.type}], importance=0.9)

    def _lives_in(self, match, sentence):
        entity = self._entity(self._x(match), "Place")
        return Candidate("fact", f"User lives in {entity.name}", "user", "lives_in", entity.name, [entity],
                         [{"predicate": "LIVES_IN", "entity": entity.name, "type": entity.type}], importance=0.7)

    def _works_on(self, match, sentence):
        value = self._x(match)
        if not value:
            return None
        entity = self._entity(value, "Project")
        return Candidate("fact", f"User is working on {value}", "user", f"works_on:{_slug(entity.name)}",
                         entity.name, [entity] + [e for e in self.gazetteer.find(value) if e != entity],
                         [{"predicate": "WORKS_ON", "entity": entity.name, "type": entity.type}], importance=0.6)

    def _works_at(self, match, sentence):
        entity = self._entity(self._x(match), "Organization")
        return Candidate("fact", f"User works at {entity.name}", "user", "employer", entity.name, [entity],
                         [{"predicate": "WORKS_AT", "entity": entity.name, "type": entity.type}], importance=0.7)

    def _occupation(self, match, sentence):
        value = self._x(match)
        entity = Entity(value[:1].upper() + value[1:], "Occupation", value)
        return Candidate("fact", f"User is a {value}", "user", "occupation", value, [entity],
                         [{"predicate": "HAS_OCCUPATION", "entity": entity.name, "type": "Occupation"}],
                         importance=0.7)

    def _uses(self, match, sentence):
        value = self._x(match)
        entities = self.gazetteer.find(value)
        if not entities:
            return None  # "I use the stairs" is not a tool statement
        entity = entities[0]
        names = " and ".join(e.name for e in entities)
        return Candidate("fact", f"User uses {names}", "user", f"uses:{_slug(entity.name)}", entity.name,
                         entities, [{"predicate": "USES", "entity": e.name, "type": e.type} for e in entities],
                         importance=0.5)

    def _procedural(self, match, sentence):
        text = sentence.strip().rstrip(".!")
        return Candidate("procedural", f"Instruction from user: {text}", "assistant", None, None,
                         self.gazetteer.find(text), [], importance=0.8, confidence=0.8)

    def _knows(self, match, sentence):
        name, rel = match.group("x"), match.group("rel").lower()
        entity = Entity(name, "Person", name)
        return Candidate("fact", f"User's {rel} is {name}", "user", f"relation:{rel}", name, [entity],
                         [{"predicate": "KNOWS", "entity": name, "type": "Person", "role": rel}], importance=0.6)

    def _event(self, sentence):
        date = re.search(_DATE, sentence, re.I)
        noun = _EVENT_NOUN.search(sentence)
        if not (date and noun) or not re.search(r"\b(i|i'm|i've|i'll|my|we|we're|our)\b", sentence, re.I):
            return None
        text = sentence.strip().rstrip(".!")
        when = re.sub(r"^on\s+", "", date.group("date"), flags=re.I)
        return Candidate("event", f"User event: {text}", "user", None, when,
                         [Entity(noun.group(1).lower(), "Event", noun.group(1))] + self.gazetteer.find(text), [],
                         importance=0.7, confidence=0.8)
