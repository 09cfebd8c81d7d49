"""What `dramatiq workers.tasks` (`outreach worker`) loads: the broker and every actor."""

from __future__ import annotations

from dramatiq.middleware import AsyncIO

from workers.broker import DatabasePool, get_broker

broker = get_broker()
# Before AsyncIO: the pool must close while Dramatiq's loop still runs.
broker.add_middleware(DatabasePool(), before=AsyncIO)

from workers import notifications  # noqa: E402  (declares the actors on the broker)

__all__ = ["broker", "notifications"]
