"""The workers keep feeds published: the scheduler's tick in-process, the actor via a broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from outreach.config import Settings
from outreach.events.schemas import SlotPatch
from outreach.events.services import update_slot
from outreach.feeds import services
from outreach.feeds.services import PublicFilter
from outreach.feeds.tables import FeedChange
from tests.factories import World, at
from tests.feeds.helpers import school_day_2027, stored, tour_with_slot
from tests.notifications.helpers import wait_until
from workers import broker as workers_broker
from workers.scheduler import run_scheduler


@pytest.fixture
def stub_broker(settings: Settings) -> Iterator[StubBroker]:
    broker = StubBroker()
    broker.add_middleware(AsyncIO())
    workers_broker.use_broker(broker)
    yield broker
    workers_broker.use_broker(workers_broker.build_broker(settings))


async def _move(world: World, slot_id: int, hour: int) -> None:
    start = at(school_day_2027(), hour)
    await update_slot(
        slot_id, SlotPatch(starts_at=start, ends_at=start + timedelta(hours=1)), by=world.firm_a
    )


async def test_the_scheduler_tick_republishes_in_process(world: World) -> None:
    _, slot_id = await tour_with_slot(world.firm_a)
    first = await services.public_feed(PublicFilter())
    await _move(world, slot_id, 15)
    stop = asyncio.Event()
    task = asyncio.create_task(run_scheduler(stop, interval=0.05, direct=True))

    async def republished() -> bool:
        return (await stored("public"))["etag"] != first.etag

    try:
        await wait_until(republished)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert await FeedChange.count() == 0
    # 15:00 in Glashütte in May (summer time) is 13:00 UTC, the form every entry is in.
    assert b"DTSTART:20270503T130000Z" in (await services.public_feed(PublicFilter())).body


async def test_the_publish_actor_runs_on_a_worker(world: World, stub_broker: StubBroker) -> None:
    from workers.feeds import QUEUE, publish_feeds

    _, slot_id = await tour_with_slot(world.firm_a)
    first = await services.public_feed(PublicFilter())
    await _move(world, slot_id, 16)
    worker = Worker(stub_broker, worker_timeout=100)
    worker.start()
    try:
        publish_feeds.send()
        publish_feeds.send()  # a second message at once finds nothing (or a busy lock)
        await asyncio.to_thread(stub_broker.join, QUEUE)
    finally:
        worker.stop()
    assert (await stored("public"))["etag"] != first.etag
    assert await FeedChange.count() == 0
