"""Backoff for every retry pymem makes, computed here and nowhere else.

Exponential growth with "equal jitter": half the delay is fixed, half random, so
retries spread out (no thundering herd after an outage) yet still grow with each attempt.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 60.0,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class RetryableError(Exception):
    """A failure worth retrying (rate limit, timeout, 5xx). ``retry_after`` is a floor in seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def call_with_retries(fn: Callable[[], T], *, attempts: int, base: float = 0.5, cap: float = 30.0,
                      on_retry: Callable[[int, Exception, float], None] | None = None,
                      sleep: Callable[[float], None] = time.sleep,
                      retry_on: tuple[type[Exception], ...] = (RetryableError,)) -> T:
    """Call ``fn``; on one of ``retry_on`` (RetryableError unless told otherwise) wait
    (backoff, at least a RetryableError's retry_after) and try again, at most ``attempts``
    times in all. The last error propagates."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except retry_on as exc:
            if attempt == attempts:
                raise
            delay = max(backoff_delay(attempt, base=base, cap=cap), getattr(exc, "retry_after", None) or 0.0)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")


class PermanentHTTPError(Exception):
    """The endpoint refused the request for good (4xx other than 429)."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"answered {status}: {detail}")
        self.status = status


def http_client(timeout: float) -> httpx.Client:
    """A pooled HTTP client (keep-alive connections, reused across requests and threads) for
    one endpoint's embedder or extractor."""
    import httpx

    return httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=16, max_keepalive_connections=8))


def post_json(client: httpx.Client, url: str, payload: dict, *, api_key: str | None = None,
              timeout: float = 30.0, on_error: Callable[[Exception], None] | None = None) -> dict:
    """POST JSON to an OpenAI-compatible endpoint through ``client`` and return the decoded reply.

    429 (honouring Retry-After), 5xx and network errors raise RetryableError; other HTTP
    errors, and a reply that is not JSON, raise PermanentHTTPError. ``on_error`` sees every
    failed request.
    """
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = client.post(url, json=payload, headers=headers, timeout=timeout)
    except httpx.TransportError as exc:  # connect, read, write, pool and protocol errors, timeouts
        if on_error:
            on_error(exc)
        raise RetryableError(f"unreachable: {exc!r}") from exc
    if response.status_code >= 400:
        detail = response.text[:300]
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            error: Exception = RetryableError(f"answered {response.status_code}: {detail}",
                                              retry_after=float(retry_after) if retry_after and retry_after.isdigit()
                                              else None)
        else:
            error = PermanentHTTPError(response.status_code, detail)
        if on_error:
            on_error(error)
        raise error
    try:
        return response.json()
    except ValueError as exc:
        error = PermanentHTTPError(response.status_code, f"a reply that is not JSON: {response.text[:120]!r}")
        if on_error:
            on_error(error)
        raise error from exc
