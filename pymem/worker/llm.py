"""Extraction by any OpenAI-compatible chat endpoint, when one is configured.

The model is asked for JSON matching ``schema()`` (strict structured output); what comes back
is validated field by field before it can reach the database, and a reply that does not
validate is an ExtractionError (retryable: models are not deterministic).
Configuration: PYMEM_LLM_URL (base URL including /v1), PYMEM_LLM_MODEL, PYMEM_LLM_API_KEY.
"""

from __future__ import annotations

import json
import os
from typing import Sequence

from pymem.retry import PermanentHTTPError, RetryableError, call_with_retries, post_json

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


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ExtractionError(f"LLM reply rejected: {message}", retryable=True)


def parse_reply(text: str, turns: int, kinds=KINDS) -> list[Candidate]:
    """Validate a model's JSON reply against schema(); return candidates or raise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExtractionError(f"LLM reply is not JSON: {exc}", retryable=True) from exc
    _require(isinstance(data, dict) and isinstance(data.get("memories"), list), "no memories array")
    out = []
    for i, item in enumerate(data["memories"]):
        _require(isinstance(item, dict), f"memory {i} is not an object")
        _require(item.get("kind") in kinds, f"memory {i} has kind {item.get('kind')!r}")
        content = item.get("content")
        _require(isinstance(content, str) and content.strip() and len(content) <= 2000, f"memory {i} content")
        for key in ("subject", "attribute", "value"):
            _require(item.get(key) is None or isinstance(item[key], str), f"memory {i} {key}")
        for key in ("importance", "confidence"):
            value = item.get(key, 0.5)
            _require(isinstance(value, (int, float)) and 0 <= value <= 1, f"memory {i} {key} outside 0..1")
        entities = item.get("entities") or []
        _require(isinstance(entities, list) and all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("type"), str)
            for e in entities), f"memory {i} entities")
        relations = item.get("relations") or []
        _require(isinstance(relations, list) and all(
            isinstance(r, dict) and r.get("predicate") in RELATIONS and isinstance(r.get("entity"), str)
            for r in relations), f"memory {i} relations")
        source_turns = item.get("source_turns") or []
        _require(isinstance(source_turns, list) and all(
            isinstance(t, int) and 0 <= t < turns for t in source_turns), f"memory {i} source_turns")
        out.append(Candidate(
            kind=item["kind"], content=content.strip(), subject=item.get("subject"),
            attribute=item.get("attribute"), value=item.get("value"),
            entities=[Entity(e["name"], e["type"]) for e in entities],
            relations=[{"predicate": r["predicate"], "entity": r["entity"], "type": r.get("type", "Thing")}
                       for r in relations],
            importance=float(item.get("importance", 0.5)), confidence=float(item.get("confidence", 0.5)),
            source_turns=source_turns, extractor="llm"))
    return out


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

    @classmethod
    def from_env(cls, env=None, kinds=KINDS) -> "LLMExtractor | None":
        env = os.environ if env is None else env
        if not env.get("PYMEM_LLM_URL"):
            return None
        return cls(env["PYMEM_LLM_URL"], env.get("PYMEM_LLM_MODEL", "gpt-4o-mini"), api_key=env.get("PYMEM_LLM_API_KEY"),
                   kinds=kinds)

    def _post(self, payload: dict) -> dict:
        try:
            return post_json(self.url, payload, api_key=self.api_key, timeout=self.timeout)
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
