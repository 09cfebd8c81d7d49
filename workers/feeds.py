"""Feed actors: each makes one service call.

The scheduler sends `publish_feeds` every tick (with Redis); a worker renders what the
queued changes touch. Several messages at once are harmless: one publisher runs, the
others find it busy and return.
"""

from __future__ import annotations

import logging

import dramatiq

from outreach.feeds import services
from workers.broker import get_broker, on_home_loop

__all__ = ["ACTORS", "QUEUE", "publish_feeds"]

log = logging.getLogger(__name__)

QUEUE = "feeds"


async def _publish_feeds() -> None:
    result = await on_home_loop(services.publish_pending())
    log.debug("feeds: %s", result)


# No retries: the changes stay queued in the database and the next tick tries again.
publish_feeds = dramatiq.actor(
    _publish_feeds,
    actor_name="publish_feeds",
    queue_name=QUEUE,
    broker=get_broker(),
    max_retries=0,
    time_limit=600_000,
)

ACTORS = (publish_feeds,)
