"""What `dramatiq workers.tasks` (`outreach worker`) loads: the broker and every actor."""

from __future__ import annotations

from outreach.config import get_settings
from outreach.observability import setup_logging
from workers.broker import DatabasePool, get_broker

# Each worker process logs JSON lines like the web (`outreach worker` skips Dramatiq's own
# logging set-up; its output still goes through Dramatiq's pipe to the parent's stderr).
setup_logging(get_settings().log_format)
broker = get_broker()
# After AsyncIO (hooks run in reverse on shutdown): the pool closes while the loop runs.
broker.add_middleware(DatabasePool())

from workers import feeds, notifications  # noqa: E402  (declares the actors on the broker)

__all__ = ["broker", "feeds", "notifications"]
