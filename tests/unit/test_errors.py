"""pymem.errors: one table from SQLSTATE to exception to HTTP answer (psycopg's own error
classes stand in for the server's errors: each carries its SQLSTATE)."""

import psycopg
import pytest
from psycopg import errors as pg

import pymem
import pymem.client
from pymem.errors import (OUTCOMES, AlreadyExists, Conflict, EmbedderMismatch, InvalidInput, LimitExceeded, NotFound,
                          PermissionDenied, PymemError, Unavailable, http_answer, translate)


def _answer(exc: psycopg.Error) -> tuple[type, int, str]:
    error = translate(exc)
    status, code, _, _ = http_answer(error)
    return type(error), status, code


@pytest.mark.parametrize("exc, expected", [
    (pg.InvalidParameterValue("pymem: top_k must be between 1 and 1000"), (InvalidInput, 422, "invalid_input")),
    (pg.NumericValueOutOfRange("out of range"), (InvalidInput, 422, "invalid_input")),
    (pg.ProgramLimitExceeded("index row too big"), (InvalidInput, 422, "invalid_input")),
    (pg.InsufficientPrivilege("permission denied"), (PermissionDenied, 403, "forbidden")),
    (pg.UndefinedObject("unknown tenant 'x'"), (NotFound, 404, "not_found")),
    (pg.DuplicateObject("tenant exists"), (AlreadyExists, 409, "already_exists")),
    # psycopg files these three under OperationalError; the exact row wins over "unavailable"
    (pg.DeadlockDetected("deadlock"), (Conflict, 409, "conflict")),
    (pg.SerializationFailure("could not serialize"), (Conflict, 409, "conflict")),
    (pg.LockNotAvailable("could not obtain lock"), (Conflict, 409, "conflict")),
    (pg.QueryCanceled("canceling statement due to statement timeout"), (Unavailable, 504, "timeout")),
    (pg.DiskFull("no space left"), (Unavailable, 503, "unavailable")),
    (pg.AdminShutdown("terminating connection"), (Unavailable, 503, "unavailable")),
    (pg.TooManyConnections("too many clients"), (Unavailable, 503, "unavailable")),  # class 53
    (pg.ObjectInUse("in use"), (Unavailable, 503, "unavailable")),  # an OperationalError of no listed class
    (psycopg.OperationalError("connection refused"), (Unavailable, 503, "unavailable")),  # no SQLSTATE
    (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
     (InvalidInput, 422, "invalid_input")),  # refused before it was sent
    (pg.UndefinedFunction("function pymem.x() does not exist"), (PymemError, 501, "not_implemented")),
    (pg.InternalError_("something broke"), (PymemError, 500, "internal_error")),
])
def test_a_database_error_becomes_one_exception_and_one_http_answer(exc, expected):
    assert _answer(exc) == expected


def test_the_exception_keeps_the_sqlstate_and_explains_what_the_code_alone_does_not():
    error = translate(pg.QueryCanceled("canceling statement due to statement timeout"))
    assert error.sqlstate == "57014" and str(error).startswith("the statement timed out")
    assert translate(pg.InvalidParameterValue("pymem: bad")).sqlstate == "22023"


def test_http_answers_keep_internal_text_out_and_say_when_to_retry():
    status, code, message, headers = http_answer(translate(pg.InternalError_("secret detail")))
    assert (status, code, message, headers) == (500, "internal_error", "database error XX000", None)
    assert http_answer(translate(pg.DeadlockDetected("deadlock")))[3] == {"Retry-After": "1"}
    assert http_answer(translate(pg.InvalidParameterValue("pymem: top_k is bad")))[2] == "top_k is bad"


def test_an_exception_python_raised_has_its_class_answer():
    assert http_answer(InvalidInput("user_id must be text"))[:2] == (422, "invalid_input")
    assert http_answer(LimitExceeded("full"))[:2] == (409, "memory_limit_reached")
    assert http_answer(Unavailable("down"))[:2] == (503, "unavailable")
    assert http_answer(EmbedderMismatch("other model"))[:2] == (500, "internal_error")


def test_every_exception_has_a_row_and_stays_importable_where_it_was():
    for cls in (InvalidInput, PermissionDenied, NotFound, AlreadyExists, Conflict, LimitExceeded, Unavailable):
        assert any(row.error is cls for row in OUTCOMES), cls
        assert getattr(pymem.client, cls.__name__) is cls and getattr(pymem, cls.__name__) is cls
    states = [state for row in OUTCOMES for state in row.sqlstates]
    assert len(states) == len(set(states)), "a SQLSTATE in two rows"
