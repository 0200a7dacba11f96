"""API keys checked against the database, with a short cache: `pymem serve` and `pymem mcp
--transport http` authenticate every request through one of these."""

from __future__ import annotations

import hashlib
import time
from typing import Awaitable, Callable


class KeyCache:
    """What ``Client.authenticate_key`` answered for a key ({tenant_id, role_name, key_id}),
    kept ``seconds`` per key: a revoked key keeps working that long in this process and no
    longer (0: every request asks the database). Only active keys are kept, under their
    SHA-256 digest; an unknown key is asked again each time. At most ``max_entries`` keys
    (then the cache starts over), so a flood of made-up keys cannot grow it."""

    def __init__(self, seconds: float, *, max_entries: int = 10_000, clock=time.monotonic):
        self.seconds = seconds
        self.max_entries = max_entries
        self._clock = clock
        self._keys: dict[bytes, tuple[float, dict]] = {}

    async def authenticate(self, key: str, lookup: Callable[[str], Awaitable[dict | None]]) -> dict | None:
        """The key's answer from the cache, or from ``await lookup(key)`` (the database)."""
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        cached = self._keys.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        auth = await lookup(key)
        if auth is not None and self.seconds > 0:
            if len(self._keys) >= self.max_entries:
                self._keys.clear()
            self._keys[digest] = (now + self.seconds, auth)
        return auth
