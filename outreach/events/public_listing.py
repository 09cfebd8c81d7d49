"""What anonymous visitors read on the public pages, kept for a second per process.

The calendar (`/`) and the event pages are the pages most visitors open and, for
everyone not signed in, they show the same: under load their queries and their
rendering were most of the pages' cost. `pages.public` keeps here, for those visitors,
the calendar's content rendered (per language, day and query) and an event page's data
(the event with its times, why a time takes no booking, its presenters) with its
details rendered per language; not whole pages: a page carries per-visitor things
(CSRF token, language, messages, a form's key) and is rendered for every request.

What it promises:
- Only for visitors who are not signed in (`ANONYMOUS`): a member sees network events
  and their own drafts, so a member's listing is never read from or written to here.
- The key holds every value that changes what is kept: the language, day and query of
  the calendar (kind, host, grade, the span of days, "free places only", the view and
  page); the event's id of an event page (its details are kept per language inside);
  nothing else of the request reaches the query or the rendering.
- An entry is believed for at most `PAGE_CACHE_SECONDS` (default 1 s; 0 turns it off):
  a new or cancelled event or slot, and a place taken, show within that bound.
- Only while a PostgreSQL pool serves this process (the production set-up), like the
  verified-token cache; tests and the embedded mode read the database every time.
- The visitors who find an entry expired at the same moment wait for one load of it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from outreach.config import get_settings
from outreach.db import serving_from_pool
from outreach.principal import Principal
from outreach.shared_loads import SharedLoads

__all__ = ["PublicListings", "for_visitor", "listings"]

_MAX_ENTRIES = 1024  # a bound on memory; past it the cache starts afresh


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    until: float


class PublicListings:
    """Answers for anonymous visitors by key, each for the configured seconds."""

    def __init__(self) -> None:
        self.clock: Callable[[], float] = time.monotonic
        self.always = False  # tests: cache without a pool
        self._entries: dict[Hashable, _Entry] = {}
        self._loads: SharedLoads[Any] = SharedLoads()

    def _seconds(self) -> float:
        if not (self.always or serving_from_pool()):
            return 0.0
        return get_settings().page_cache_seconds

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        seconds = self._seconds()
        if seconds <= 0:
            return await load()
        entry = self._entries.get(key)
        now = self.clock()
        if entry is not None and now < entry.until:
            return entry.value

        async def load_and_keep() -> Any:
            value = await load()
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = _Entry(value, now + seconds)
            return value

        # The visitors who find the entry expired in the same moment share one load.
        return await self._loads.run(key, load_and_keep)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


listings = PublicListings()


async def for_visitor(by: Principal, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
    """`load()`'s answer, kept a moment when `by` is not signed in; a member's never."""
    if by.is_member:
        return await load()
    return await listings.get_or_load(key, load)
