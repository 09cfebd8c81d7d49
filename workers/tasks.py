"""What `dramatiq workers.tasks` (`outreach worker`) loads: the broker and every actor."""

from __future__ import annotations

from workers.broker import DatabasePool, get_broker

broker = get_broker()
# After AsyncIO (hooks run in reverse on shutdown): the pool closes while the loop runs.
broker.add_middleware(DatabasePool())

from workers import feeds, notifications  # noqa: E402  (declares the actors on the broker)

__all__ = ["broker", "feeds", "notifications"]
