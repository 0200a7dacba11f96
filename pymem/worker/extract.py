"""Extraction: conversation turns -> candidate memories.

The default extractor is offline and lives in the database: ``_pymem.extract(messages,
user_id)`` (pymem/sql/idempotent/055_statements.sql) reads each user sentence with
``pymem.analyze_statement``, the same reading every writer's slot logic uses, so a fact
extracted from a turn and the same fact written with ``remember`` land in the same slot.
This module only carries its candidates to the worker. The model-based extractor
(``llm.py``) produces the same ``Candidate`` shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, Sequence

import psycopg

from pymem.sql import query

# The graph relations a model may state (pymem/sql/idempotent/055_statements.sql gives the
# offline extractor's: _pymem.relation_of()).
RELATIONS = ("ALLERGIC_TO", "LIKES", "DISLIKES", "PREFERS", "WORKS_ON", "WORKS_AT", "USES", "LIVES_IN",
             "HAS_TIMEZONE", "KNOWS", "HAS_CONDITION", "FOLLOWS_DIET", "HAS_NAME", "HAS_OCCUPATION", "HAS_PET",
             "SPEAKS", "COMMUTES", "HAS_PRONOUNS")


class ExtractionError(RuntimeError):
    """Extraction failed; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Entity:
    name: str          # canonical name: "Hot dog"
    type: str          # "Food"

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
    statement: dict | None = None  # the offline extractor's reading of the sentence

    @classmethod
    def from_payload(cls, data: dict, extractor: str) -> "Candidate":
        return cls(kind=data["kind"], content=data["content"], subject=data.get("subject"),
                   attribute=data.get("attribute"), value=data.get("value"),
                   entities=[Entity(e["name"], e["type"]) for e in data.get("entities") or []],
                   relations=list(data.get("relations") or []), importance=float(data.get("importance", 0.5)),
                   confidence=float(data.get("confidence", 0.8)), source_turns=list(data.get("source_turns") or []),
                   extractor=extractor, statement=data.get("statement"))

    def as_payload(self) -> dict:
        data = asdict(self)
        data["entities"] = [e.as_dict() for e in self.entities]
        return {k: v for k, v in data.items() if v is not None}


class Extractor(Protocol):
    name: str

    def extract(self, messages: Sequence[dict], *, conn: psycopg.Connection, user_id: str) -> list[Candidate]:
        ...


class RuleExtractor:
    """The offline extractor: ``_pymem.extract()`` in the database, over the worker's connection."""

    name = "rules"

    def extract(self, messages: Sequence[dict], *, conn: psycopg.Connection, user_id: str) -> list[Candidate]:
        from psycopg.types.json import Jsonb

        try:
            rows = conn.execute(query("extract"), {"messages": Jsonb(list(messages)), "user_id": user_id}).fetchone()[0]
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            raise ExtractionError(f"extraction failed in the database: {exc}", retryable=False) from exc
        return [Candidate.from_payload(row, self.name) for row in rows]
