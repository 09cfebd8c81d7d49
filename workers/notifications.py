"""Notification actors: each takes ids and makes one service call."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import dramatiq

from outreach.notifications import services
from outreach.notifications.schemas import SweepResult
from outreach.outbox import services as outbox
from workers.broker import get_broker, on_home_loop

__all__ = ["ACTORS", "QUEUE", "deliver_notification", "sweep", "sweep_and_dispatch"]

log = logging.getLogger(__name__)

QUEUE = "notifications"
SWEEP_BATCH = 500


async def _deliver_notification(notification_id: int) -> None:
    outcome = await on_home_loop(services.deliver(notification_id))
    log.debug("notification %s: %s", notification_id, outcome)


async def _sweep() -> None:
    result = await on_home_loop(sweep_and_dispatch())
    log.debug("sweep: %s", result)


async def sweep_and_dispatch(now: datetime | None = None) -> SweepResult:
    """Queue due reminders, then hand every due row to the workers, one message each."""
    result = SweepResult(reminders=await services.schedule_reminders(now))
    ids = await outbox.take_due(now, SWEEP_BATCH)
    if ids:
        await asyncio.to_thread(_send_all, ids)
        result.outcomes["dispatched"] = len(ids)
    return result


def _send_all(ids: list[int]) -> None:
    for notification_id in ids:
        deliver_notification.send(notification_id)


# The outbox retries mail errors itself (with backoff, in the database); Dramatiq's
# retries only cover a crash of the call, e.g. the database away for a moment.
deliver_notification = dramatiq.actor(
    _deliver_notification,
    actor_name="deliver_notification",
    queue_name=QUEUE,
    broker=get_broker(),
    max_retries=3,
    min_backoff=1_000,
    time_limit=120_000,
)
sweep = dramatiq.actor(
    _sweep,
    actor_name="sweep_notifications",
    queue_name=QUEUE,
    broker=get_broker(),
    max_retries=0,
    time_limit=300_000,
)

ACTORS = (deliver_notification, sweep)
