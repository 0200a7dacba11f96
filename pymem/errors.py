"""pymem's exceptions, and the one table that says what a database error becomes: which
exception the client, the worker and the CLI raise for a SQLSTATE, and which HTTP answer the
service gives for it.

The database names its refusals by SQLSTATE (pymem's own functions raise 22023, 42501,
42704, 42710 and PM429; PostgreSQL adds lock, deadlock, timeout and resource errors). A
reader who wants to know what a code means to a caller reads one row of ``OUTCOMES``.

This module imports nothing of pymem's, so every layer may use it."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


class PymemError(Exception):
    """An error from pymem; ``sqlstate`` holds the PostgreSQL error code when there is one."""

    def __init__(self, message: str, sqlstate: str | None = None):
        super().__init__(message)
        self.sqlstate = sqlstate


class InvalidInput(PymemError, ValueError):
    """The arguments were rejected (22xxx); nothing was written."""


class PermissionDenied(PymemError):
    """The role may not do this (42501)."""


class NotFound(PymemError, LookupError):
    """No such tenant (42704)."""


class AlreadyExists(PymemError):
    """The tenant exists already (42710)."""


class LimitExceeded(PymemError):
    """The tenant holds max_memories already (PM429); nothing was written."""


class Conflict(PymemError):
    """Another call on the same thing got there first (a rebuild already running, a write that
    raced an erasure, a deadlock); nothing was committed. Retrying later succeeds."""


class EmbedderMismatch(PymemError, ValueError):
    """The client's embedder is not the model the database holds (the message names both)."""


class Unavailable(PymemError):
    """The database cannot serve the call now (restart, disk full, timeout); nothing was committed."""


@dataclass(frozen=True)
class Outcome:
    """What errors with these SQLSTATEs become. A code of two characters is a whole class
    ("22": data exceptions); an exact code wins over its class."""

    sqlstates: tuple[str, ...]
    error: type[PymemError]
    http_status: int
    http_code: str
    # The exception's message, where the database's alone would not tell the caller what
    # happened ({message} is the database's).
    message: str = "{message}"
    # The HTTP answer's message, where the database's must not reach an HTTP caller.
    http_message: str = "{message}"
    retry_after: int | None = None  # seconds, for the HTTP Retry-After header


# The first row of each exception is also its answer when Python raised it (no SQLSTATE).
OUTCOMES: tuple[Outcome, ...] = (
    # 54000: a program limit (an array or a text too big for the index)
    Outcome(("22", "54000"), InvalidInput, 422, "invalid_input"),
    Outcome(("42501",), PermissionDenied, 403, "forbidden"),
    Outcome(("42704",), NotFound, 404, "not_found"),
    Outcome(("42710",), AlreadyExists, 409, "already_exists"),
    # serialization failure, deadlock, lock not available (NOWAIT: a rebuild already runs)
    Outcome(("40001", "40P01", "55P03"), Conflict, 409, "conflict", retry_after=1),
    # 409, not 429: retrying does not help until memories are freed or the cap raised
    Outcome(("PM429",), LimitExceeded, 409, "memory_limit_reached"),
    # connection, resource and operator-intervention classes; any psycopg.OperationalError too
    Outcome(("08", "53", "57"), Unavailable, 503, "unavailable",
            message="the database is unavailable: {message}",
            http_message="the database is unavailable; retry later"),
    Outcome(("57014",), Unavailable, 504, "timeout",
            message="the statement timed out (statement_timeout); nothing was committed: {message}",
            http_message="the database did not answer in time"),
    Outcome(("53100",), Unavailable, 503, "unavailable",
            message="the database disk is full; nothing was committed: {message}",
            http_message="the database is unavailable; retry later"),
    Outcome(("53200",), Unavailable, 503, "unavailable",
            message="the database is out of memory; nothing was committed: {message}",
            http_message="the database is unavailable; retry later"),
    Outcome(("57P01",), Unavailable, 503, "unavailable",
            message="the database is shutting down or restarting; retry: {message}",
            http_message="the database is unavailable; retry later"),
    # undefined_function: the module that provides it is not installed
    Outcome(("42883",), PymemError, 501, "not_implemented",
            http_message="this database has no such function yet: {message}"),
    # anything else is a bug or a broken database: its text stays out of HTTP answers
    Outcome((), PymemError, 500, "internal_error", http_message="database error {sqlstate}"),
)

_EXACT = {state: row for row in OUTCOMES for state in row.sqlstates if len(state) == 5}
_CLASSES = {state: row for row in OUTCOMES for state in row.sqlstates if len(state) == 2}
_BY_ERROR: dict[type[PymemError], Outcome] = {}
for _row in OUTCOMES:
    _BY_ERROR.setdefault(_row.error, _row)
_UNKNOWN = OUTCOMES[-1]


def outcome(exc: PymemError) -> Outcome:
    """The row that describes ``exc``: by its SQLSTATE, else by its class (its first row),
    else the unknown error's."""
    state = exc.sqlstate or ""
    row = _EXACT.get(state) or _CLASSES.get(state[:2])
    if row is None:
        row = next((_BY_ERROR[cls] for cls in type(exc).__mro__ if cls in _BY_ERROR and cls is not PymemError),
                   _UNKNOWN)
    return row


def translate(exc: psycopg.Error) -> PymemError:
    """The pymem exception for a database error (raise it ``from exc``)."""
    state = exc.sqlstate or ""
    message = exc.diag.message_primary or str(exc)
    if exc.diag.message_hint:
        message = f"{message} ({exc.diag.message_hint})"
    row = _EXACT.get(state) or _CLASSES.get(state[:2])
    if row is None:
        # Without a known SQLSTATE, psycopg's class says it: a lost connection (no code at
        # all), or a value refused before it was sent (a NUL byte, an encoding).
        if isinstance(exc, psycopg.OperationalError):
            row = _BY_ERROR[Unavailable]
        elif isinstance(exc, psycopg.DataError):
            row = _BY_ERROR[InvalidInput]
        else:
            row = _UNKNOWN
    return row.error(row.message.format(message=message), state or None)


def http_answer(exc: PymemError) -> tuple[int, str, str, dict[str, str] | None]:
    """(status, code, message, headers) of the HTTP answer for ``exc``."""
    row = outcome(exc)
    message = str(exc).removeprefix("pymem: ")
    cause = exc.__cause__
    text = row.http_message.format(message=message, sqlstate=exc.sqlstate or type(cause or exc).__name__)
    headers = {"Retry-After": str(row.retry_after)} if row.retry_after is not None else None
    return row.http_status, row.http_code, text, headers


__all__ = ["AlreadyExists", "Conflict", "EmbedderMismatch", "InvalidInput", "LimitExceeded", "NotFound",
           "OUTCOMES", "Outcome", "PermissionDenied", "PymemError", "Unavailable", "http_answer", "outcome",
           "translate"]
