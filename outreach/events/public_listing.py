"""What anonymous visitors read on the public pages, kept for a second per process.

The calendar (`/`) and the event pages are the pages most visitors open and, for
everyone not signed in, they show the same data: under load their queries were most of
the pages' cost. This keeps the *data* of those pages (the events found and the hosts of
the calendar's filter; an event with its times, why a time takes no booking, and its
presenters), not whole pages: a page carries per-visitor things (CSRF token, language,
messages) and is rendered for every request.

What it promises:
- Only for visitors who are not signed in (`ANONYMOUS`): a member sees network events
  and their own drafts, so a member's listing is never read from or written to here.
- The key holds every value that changes the data: kind, host, grade, the span of days,
  "free places only" and the status of the calendar; the event's id of an event page;
  nothing else of the request reaches the query.
- An entry is believed for at most `PAGE_CACHE_SECONDS` (default 1 s; 0 turns it off):
  a new or cancelled event or slot, and a place taken, show within that bound.
- Only while a PostgreSQL pool serves this process (the production set-up), like the
  verified-token cache; tests and the embedded mode read the database every time.
- The visitors who find an entry expired at the same moment wait for one load of it.

`pages.public` also keeps here the pages' content rendered for anonymous visitors (the
calendar's per language, day and query; an event page's details inside its data's
entry), under the same promises.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from outreach.config import get_settings
from outreach.db import serving_from_pool
from outreach.events.schemas import EventOut
from outreach.events.services import EventFilter, list_events
from outreach.organisations.services import list_organisations
from outreach.principal import Principal
from outreach.shared_loads import SharedLoads

__all__ = ["PublicListings", "for_visitor", "listings", "public_events", "public_hosts"]

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


async def public_events(filters: EventFilter, *, by: Principal) -> list[EventOut]:
    """`list_events` for the calendar page; kept a moment for anonymous visitors only."""
    return await for_visitor(by, ("events", filters), lambda: list_events(filters, by=by))


async def public_hosts(*, by: Principal) -> list[Any]:
    """The organisations the calendar's filter offers; kept a moment for anonymous visitors."""
    return await for_visitor(by, ("hosts",), list_organisations)
