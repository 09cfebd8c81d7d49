"""Per-process caches of verified tokens: a bearer or feed token checked once per bound.

Checking a token costs a database round trip (two for an API token) on every request;
under load that is most of a private feed's cost (issue 21). A token verified here is
believed for at most TOKEN_CACHE_SECONDS in this process.

What it promises:
- An entry is found only by the whole token (its SHA-256, so the process keeps no usable
  token): another person's token, a guessed selector or a rotated token never hit it.
- A token refused is never cached; only a verified answer is.
- Revocation in this process (feed rotation, deactivation, sign-out everywhere, role
  change, erasure) forgets the user's entries at once; in other processes it takes
  effect within TOKEN_CACHE_SECONDS, when their entries expire.
- Only while a PostgreSQL pool serves this process (the production set-up the figures
  are about), as with the feeds' checked copies; elsewhere every request checks.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from outreach.db import serving_from_pool

__all__ = ["TOKEN_CACHE_SECONDS", "VerifiedTokens", "api_tokens", "feed_tokens", "forget_user"]

TOKEN_CACHE_SECONDS = 2.0
_MAX_ENTRIES = 4096  # a bound on memory; past it the cache starts afresh

V = TypeVar("V")


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    user_id: int
    until: float


class VerifiedTokens(Generic[V]):
    """Verified tokens of one kind, each with what it stands for, for `seconds`."""

    def __init__(self, seconds: float = TOKEN_CACHE_SECONDS) -> None:
        self.seconds = seconds
        self.clock: Callable[[], float] = time.monotonic
        self.always = False  # tests: cache without a pool
        self._entries: dict[bytes, _Entry[V]] = {}
        # Counts the forgettings: a check that began before one must not put back what
        # was forgotten while it read (a rotation during a verification in flight).
        self._forgotten = 0

    def generation(self) -> int:
        """Take before reading the database; give to `put`."""
        return self._forgotten

    def _active(self) -> bool:
        return self.always or serving_from_pool()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> V | None:
        if not self._active():
            return None
        key = self._key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry.until:
            self._entries.pop(key, None)
            return None
        return entry.value

    def put(self, token: str, user_id: int, value: V, *, generation: int) -> None:
        """Keep a verified answer, unless something was forgotten since `generation`."""
        if not self._active() or generation != self._forgotten:
            return
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()
        self._entries[self._key(token)] = _Entry(value, user_id, self.clock() + self.seconds)

    def forget_user(self, user_id: int) -> None:
        self._forgotten += 1
        for key in [k for k, e in self._entries.items() if e.user_id == user_id]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._forgotten += 1
        self._entries.clear()


api_tokens: VerifiedTokens[object] = VerifiedTokens()
feed_tokens: VerifiedTokens[object] = VerifiedTokens()


def forget_user(user_id: int) -> None:
    """The user's tokens are checked again on their next use in this process."""
    api_tokens.forget_user(user_id)
    feed_tokens.forget_user(user_id)
