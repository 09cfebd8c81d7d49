"""One load at a time per key within a process.

A per-process copy that expires (a stored feed's checked copy, the public pages' data)
is found expired by every request that arrives in the same moment: under load a popular
feed or page was read from the database once per waiting request instead of once.
`SharedLoads.run(key, load)` starts `load()` for the first of them; the others wait for
that same load and get its answer (or its exception).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SharedLoads"]

V = TypeVar("V")


class SharedLoads(Generic[V]):
    """The loads in flight, by key."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[V]] = {}

    async def run(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        running = self._running.get(key)
        # A load of another event loop (tests run several) is not awaited from this one.
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            running = asyncio.ensure_future(load())
            self._running[key] = running
            running.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: a request that goes away does not cancel the load the others wait for.
        return await asyncio.shield(running)

    def _finished(self, key: Hashable, done: asyncio.Future[V]) -> None:
        if self._running.get(key) is done:
            del self._running[key]

    def __len__(self) -> int:
        return len(self._running)
