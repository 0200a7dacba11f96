"""One error shape for every status, 404/405/413/422/429/500 included:
``{"error": {"code": "...", "message": "..."}}`` (plus ``details`` for invalid bodies), and
the mapping from the client's exceptions (SQLSTATE classes) to HTTP answers."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.responses import JSONResponse

from .. import client as client_mod
from ..client import PymemError
from .models import ErrorBody

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests",
                500: "internal_error", 501: "not_implemented", 503: "unavailable", 504: "timeout"}


def responses(*statuses: int) -> dict[int, dict]:
    """The OpenAPI description of a route's error answers."""
    return {status: {"model": ErrorBody, "description": STATUS_CODES[status]} for status in statuses}


COMMON = responses(400, 401, 403, 413, 422, 429, 500, 503, 504)


class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(status: int, code: str, message: str, *, headers: dict | None = None,
                   details: list | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def from_pymem(exc: PymemError) -> ServiceError:
    """The client's exceptions (SQLSTATE classes) as HTTP answers."""
    state = exc.sqlstate or ""
    message = str(exc).removeprefix("pymem: ")
    if isinstance(exc, client_mod.InvalidInput):
        return ServiceError(422, "invalid_input", message)
    if isinstance(exc, client_mod.PermissionDenied):
        return ServiceError(403, "forbidden", message)
    if isinstance(exc, client_mod.NotFound):
        return ServiceError(404, "not_found", message)
    if isinstance(exc, client_mod.AlreadyExists):
        return ServiceError(409, "already_exists", message)
    if isinstance(exc, client_mod.Conflict):
        return ServiceError(409, "conflict", message, headers={"Retry-After": "1"})
    if isinstance(exc, client_mod.LimitExceeded):
        # 409, not 429: retrying does not help until memories are freed or the cap raised.
        return ServiceError(409, "memory_limit_reached", message)
    if state == "42883":  # undefined_function: the module that provides it is not installed
        return ServiceError(501, "not_implemented", f"this database has no such function yet: {message}")
    if state == "57014":  # query_canceled: statement_timeout
        return ServiceError(504, "timeout", "the database did not answer in time")
    cause = exc.__cause__
    if not state and isinstance(cause, psycopg.DataError):  # refused before sending (NUL bytes, encoding)
        return ServiceError(422, "invalid_input", message)
    if state.startswith(("08", "53", "57")) or isinstance(cause, psycopg.OperationalError):
        return ServiceError(503, "unavailable", "the database is unavailable; retry later")
    return ServiceError(500, "internal_error", f"database error {state or type(cause).__name__}")
