"""Backoff for every retry pymem makes, computed here and nowhere else.

Exponential growth with "equal jitter": half the delay is fixed, half random, so
retries spread out (no thundering herd after an outage) yet still grow with each attempt.
"""

from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

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
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; on RetryableError wait (backoff, at least retry_after) and try again,
    at most ``attempts`` times in all. The last error propagates."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except RetryableError as exc:
            if attempt == attempts:
                raise
            delay = max(backoff_delay(attempt, base=base, cap=cap), exc.retry_after or 0.0)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")
