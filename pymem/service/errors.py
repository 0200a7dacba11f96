"""One error shape for every status, 404/405/413/422/429/500 included:
``{"error": {"code": "...", "message": "..."}}`` (plus ``details`` for invalid bodies), and
pymem's exceptions as HTTP answers (the statuses are rows of pymem.errors.OUTCOMES)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ..errors import PymemError, http_answer
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
    """A pymem exception as an HTTP answer (pymem.errors.OUTCOMES says which)."""
    return ServiceError(*http_answer(exc))
