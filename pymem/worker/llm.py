"""Extraction by any OpenAI-compatible chat endpoint, when one is configured.

The model is asked for JSON matching ``schema()`` (strict structured output); what comes back
is validated by a pydantic model (``_Reply``: types, ranges, the offered kinds, known
relations, existing turn indexes) before it can reach the database, and a reply that does not
validate is an ExtractionError (retryable: models are not deterministic).
Configuration: PYMEM_LLM_URL (base URL including /v1), PYMEM_LLM_MODEL, PYMEM_LLM_API_KEY.
"""

from __future__ import annotations

import os
from typing import Annotated, Sequence

from pydantic import (
    BaseModel,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from pymem.retry import (
    PermanentHTTPError,
    RetryableError,
    call_with_retries,
    http_client,
    post_json,
)

from .extract import RELATIONS, Candidate, Entity, ExtractionError

# The kinds an extractor may produce; the database's list (pymem.memory_kinds()) is passed in
# by the worker, this is only the default for a model used without one.
KINDS = ("fact", "preference", "event", "procedural")

def schema(kinds=KINDS) -> dict:
    """The JSON schema the model must answer in (strict structured output)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["memories"],
        "properties": {
            "memories": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["kind", "content", "subject", "attribute", "value", "entities", "relations",
                                 "importance", "confidence", "source_turns"],
                    "properties": {
                        "kind": {"type": "string", "enum": list(kinds)},
                        "content": {"type": "string"},
                        "subject": {"type": ["string", "null"]},
                        "attribute": {"type": ["string", "null"]},
                        "value": {"type": ["string", "null"]},
                        "entities": {"type": "array", "items": {
                            "type": "object", "additionalProperties": False, "required": ["name", "type"],
                            "properties": {"name": {"type": "string"}, "type": {"type": "string"}}}},
                        "relations": {"type": "array", "items": {
                            "type": "object", "additionalProperties": False, "required": ["predicate", "entity", "type"],
                            "properties": {"predicate": {"type": "string", "enum": list(RELATIONS)},
                                           "entity": {"type": "string"}, "type": {"type": "string"}}}},
                        "importance": {"type": "number"},
                        "confidence": {"type": "number"},
                        "source_turns": {"type": "array", "items": {"type": "integer"}},
                    },
                },
            }
        },
    }

PROMPT = (
    "You extract durable memories about the user from a conversation. Return only facts, "
    "preferences, events (with their date) and procedural instructions the user stated. "
    "content: one short third-person sentence ('User prefers dark mode'). subject/attribute: "
    "a stable slot for the statement: subject 'user' (or 'sister', 'boss', ... for someone else), "
    "attribute one of display_theme, time_zone, home_city, employer, job_title, name, pronouns, diet, "
    "code_editor, operating_system, phone, units, response_style, seat, notification_channel, commute, "
    "coffee_order (one value at a time), or allergies:<thing>, pets:<animal>, languages:<language>, "
    "likes:<thing> (many); null when none fits (the database then reads the content itself). Entities carry a "
    "type (Animal, Food, Place, Tool, Person, ...). source_turns: indexes of the messages used. "
    "importance and confidence between 0 and 1. Return {\"memories\": []} when there is nothing."
)


Score = Annotated[float, Field(ge=0, le=1, strict=False)]


class _Entity(BaseModel):
    name: StrictStr
    type: StrictStr


class _Relation(BaseModel):
    predicate: StrictStr
    entity: StrictStr
    type: StrictStr = "Thing"

    @field_validator("predicate")
    @classmethod
    def _known(cls, predicate: str) -> str:
        if predicate not in RELATIONS:
            raise ValueError(f"unknown predicate {predicate!r}")
        return predicate


class _Memory(BaseModel):
    """One memory as the model must return it (schema() is the same shape, for the request)."""

    kind: StrictStr
    content: Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    subject: StrictStr | None = None
    attribute: StrictStr | None = None
    value: StrictStr | None = None
    entities: list[_Entity] | None = None
    relations: list[_Relation] | None = None
    importance: Score = 0.5
    confidence: Score = 0.5
    source_turns: list[StrictInt] | None = None

    @field_validator("importance", "confidence", mode="before")
    @classmethod
    def _number(cls, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        return value

    @field_validator("kind")
    @classmethod
    def _offered_kind(cls, kind: str, info: ValidationInfo) -> str:
        if kind not in info.context["kinds"]:
            raise ValueError(f"kind {kind!r} is not one of {', '.join(info.context['kinds'])}")
        return kind

    @field_validator("source_turns")
    @classmethod
    def _existing_turns(cls, turns: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if turns and not all(0 <= t < info.context["turns"] for t in turns):
            raise ValueError(f"turn indexes {turns} outside the {info.context['turns']} messages")
        return turns


class _Reply(BaseModel):
    memories: list[_Memory]


def parse_reply(text: str, turns: int, kinds=KINDS) -> list[Candidate]:
    """Validate a model's JSON reply (the _Reply model); return candidates or raise a
    retryable ExtractionError naming the first problems."""
    try:
        reply = _Reply.model_validate_json(text, context={"kinds": tuple(kinds), "turns": turns})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:3])
        raise ExtractionError(f"LLM reply rejected: {problems}", retryable=True) from exc
    return [Candidate(
        kind=m.kind, content=m.content, subject=m.subject, attribute=m.attribute, value=m.value,
        entities=[Entity(e.name, e.type) for e in m.entities or []],
        relations=[{"predicate": r.predicate, "entity": r.entity, "type": r.type} for r in m.relations or []],
        importance=float(m.importance), confidence=float(m.confidence),
        source_turns=list(m.source_turns or []), extractor="llm") for m in reply.memories]


class LLMExtractor:
    name = "llm"

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0,
                 attempts: int = 4, kinds=KINDS):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.kinds = tuple(kinds)
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.attempts = attempts
        self.http = http_client(timeout)  # pooled: one keep-alive connection serves many episodes

    @classmethod
    def from_env(cls, env=None, kinds=KINDS) -> LLMExtractor | None:
        env = os.environ if env is None else env
        if not env.get("PYMEM_LLM_URL"):
            return None
        return cls(env["PYMEM_LLM_URL"], env.get("PYMEM_LLM_MODEL", "gpt-4o-mini"), api_key=env.get("PYMEM_LLM_API_KEY"),
                   kinds=kinds)

    def _post(self, payload: dict) -> dict:
        try:
            return post_json(self.http, self.url, payload, api_key=self.api_key, timeout=self.timeout)
        except PermanentHTTPError as exc:
            raise ExtractionError(f"LLM endpoint {exc}", retryable=False) from exc

    def extract(self, messages: Sequence[dict], **_context) -> list[Candidate]:
        transcript = "\n".join(f"[{i}] {m.get('role')}: {m.get('content')}" for i, m in enumerate(messages))
        payload = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": transcript}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "memories", "strict": True, "schema": schema(self.kinds)}},
        }
        try:
            reply = call_with_retries(lambda: self._post(payload), attempts=self.attempts)
        except RetryableError as exc:
            raise ExtractionError(str(exc), retryable=True) from exc
        try:
            text = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ExtractionError(f"LLM reply has no message content: {exc}", retryable=True) from exc
        return parse_reply(text, len(messages), self.kinds)
