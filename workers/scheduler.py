"""The periodic part: every few seconds, queue due reminders and send what is due.

In production (`outreach scheduler`) a tick sends one `sweep` message to Redis and a
worker does the sweep; in the embedded default a tick runs the sweep right here.

Several schedulers may run at once (one per machine, for availability). On PostgreSQL
a tick first takes an advisory lock: while one scheduler ticks, the others skip theirs,
so the work is not done twice. Every part is also safe on its own should two ever run
together: reminders have a unique dedupe key, anonymising touches only rows not yet
anonymised, the feed publisher has its own lock, and claims on the outbox rows keep it
to one mail per notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg

from outreach import config, db
from outreach.booking.attendance import ask_hosts_for_attendance
from outreach.booking.cascades import anonymise_ended_bookings
from outreach.booking.links import release_unverified
from outreach.booking.writes import purge_idempotency_records
from outreach.feeds.services import publish_pending
from outreach.internships.classes import anonymise_pupils
from outreach.internships.rounds import allocate_due_rounds
from outreach.notifications import services
from outreach.notifications.schemas import SweepResult
from outreach.outbox import services as outbox
from outreach.presenters import services as presenters
from outreach.timeutil import utcnow

__all__ = [
    "DEFAULT_INTERVAL",
    "housekeeping",
    "run_scheduler",
    "run_scheduler_forever",
    "run_sweep_once",
    "tick",
    "tick_leadership",
]

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 15.0
SWEEP_BATCH = 500
SWEEP_CONCURRENCY = 4
# Bounds one sweep; what is left is due at the next tick.
MAX_BATCHES = 20


async def run_sweep_once(now: datetime | None = None) -> SweepResult:
    """Queue due reminders and deliver every due notice in this process."""
    result = SweepResult(reminders=await services.schedule_reminders(now))
    gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

    async def deliver(notification_id: int) -> None:
        async with gate:
            result.count(await services.deliver(notification_id, now))

    for _ in range(MAX_BATCHES):
        ids = await outbox.due_ids(now, SWEEP_BATCH)
        await asyncio.gather(*(deliver(i) for i in ids))
        if len(ids) < SWEEP_BATCH:
            break
    return result


async def run_scheduler(
    stop_event: asyncio.Event, *, interval: float | None = None, direct: bool | None = None
) -> None:
    """Tick until `stop_event` is set; `direct` sweeps here (default: in embedded mode)."""
    settings = config.get_settings()
    interval = interval or float(settings.scheduler_interval)
    direct = settings.embedded_worker if direct is None else direct
    log.info("scheduler: every %.0f s, %s", interval, "in-process" if direct else "via the broker")
    while not stop_event.is_set():
        try:
            await tick(direct)
        except Exception:
            # The next tick tries again; the outbox keeps everything meanwhile.
            log.exception("scheduler tick failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=interval)


async def run_scheduler_forever() -> None:
    """`outreach scheduler`: run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_scheduler(stop)


HOUSEKEEPING_EVERY = 3600.0  # seconds; anonymising is a cheap UPDATE, no need to rush
# When each slow part of the tick last ran in this process (the event loop's clock).
_last_run: dict[str, float] = {}


def _due(part: str, every: float) -> bool:
    """True on the first tick and then at most once per `every` seconds for `part`."""
    loop_time = asyncio.get_running_loop().time()
    last = _last_run.get(part)
    if last is not None and loop_time - last < every:
        return False
    _last_run[part] = loop_time
    return True


async def _housekeeping() -> None:
    if not _due("housekeeping", HOUSEKEEPING_EVERY):
        return
    await housekeeping()


async def housekeeping(now: datetime | None = None) -> None:
    """Privacy (idempotent; any scheduler may run it): contact data of long-past visits
    goes, and so do the addresses of old notices about no booking and the words of old
    presenter invitations and the first names of internship pupils
    (`ANONYMISE_AFTER_DAYS`); idempotency records older than `IDEMPOTENCY_KEEP` (24 h)
    are deleted."""
    now = now or utcnow()
    cutoff = now - timedelta(days=config.get_settings().anonymise_after_days)
    await anonymise_ended_bookings(now=now)
    await anonymise_pupils(now=now)
    async with db.write_transaction():
        await outbox.forget_old_notices(cutoff)
        await presenters.forget_old_words(cutoff)
    await purge_idempotency_records(now=now)


async def _release_unconfirmed() -> None:
    """Every tick, not hourly: an unconfirmed registration must not hold places long
    after its deadline. Indexed on verify_by, so a tick with nothing due costs one probe."""
    try:
        await release_unverified()
    except Exception:
        # Nothing is lost: the next tick finds the same registrations again.
        log.exception("releasing unconfirmed registrations failed")


ATTENDANCE_EVERY = 3600.0  # seconds; the reminder is due days after a slot, not to the minute


async def _ask_for_attendance() -> None:
    """Hosts who have not recorded who came, 3 days after a slot, get one mail per slot."""
    if not _due("attendance", ATTENDANCE_EVERY):
        return
    await ask_hosts_for_attendance()


INTERNSHIPS_EVERY = 3600.0  # seconds; wishes are due by the day


async def _allocate_internships() -> None:
    """Classes whose wishes are due get a preview round for the office to confirm."""
    if not _due("internships", INTERNSHIPS_EVERY):
        return
    try:
        await allocate_due_rounds()
    except Exception:
        # Nothing is lost: the next hour finds the same classes again.
        log.exception("allocating due internship rounds failed")


async def _publish_feeds(direct: bool) -> None:
    """Calendar feeds: render what changed, here (embedded) or by a worker (Redis)."""
    try:
        if direct:
            await publish_pending()
        else:
            # Imported here: loading an actor module builds the broker from the settings; the
            # CLI loads this module before it has read them, and a tick without Redis needs none.
            from workers.feeds import publish_feeds

            await asyncio.to_thread(publish_feeds.send)
    except Exception:
        # The changes stay queued in the database; the next tick tries again.
        log.exception("feed publishing failed")


# pg_try_advisory_lock key of the scheduler's tick: a fixed 64-bit number of our own
# (the feed publisher uses another).
TICK_LOCK_KEY = 0x6F7574_7469636B


@contextlib.asynccontextmanager
async def tick_leadership() -> AsyncIterator[bool]:
    """True for the one scheduler that may tick now; the others get False and skip.

    A session advisory lock on a connection of its own (not from the pool, whose
    connections change hands), released at the end of the tick or when the connection
    drops with a dead scheduler. SQLite has one process per database: always True.
    """
    if not db.is_postgres():
        yield True
        return
    dsn = db.current_engine().config["dsn"]
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        leader = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", TICK_LOCK_KEY))
        try:
            yield leader
        finally:
            if leader:
                await conn.execute("SELECT pg_advisory_unlock($1)", TICK_LOCK_KEY)
    finally:
        await conn.close()


async def tick(direct: bool) -> bool:
    """One tick if no other scheduler is ticking; True if this one did the work."""
    async with tick_leadership() as leader:
        if not leader:
            log.debug("scheduler: another scheduler is ticking; skipped")
            return False
        await _tick(direct)
        return True


async def _tick(direct: bool) -> None:
    await _housekeeping()
    await _release_unconfirmed()
    await _ask_for_attendance()
    await _allocate_internships()
    await _publish_feeds(direct)
    if direct:
        result = await run_sweep_once()
        if result.reminders or result.outcomes:
            log.info("sweep: %d reminder(s) queued, %s", result.reminders, result.outcomes)
        return
    # Imported here: loading an actor module builds the broker from the settings; the
    # CLI loads this module before it has read them, and a tick without Redis needs none.
    from workers.notifications import sweep

    await asyncio.to_thread(sweep.send)
