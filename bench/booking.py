"""Bookings per second under contention on PostgreSQL, through the services layer.

Beside it, in the same run and through the same driver and pool, the baseline: the bare
conditional UPDATE that guards capacity (`_claim_places`) in its own transaction. The
ratio says what the rest of a booking costs (reading the slot and event, the class and
holiday checks, the insert, the outbox rows, the idempotency key).

    .venv/bin/python bench/booking.py [--bookings 2000] [--concurrency 32]
                                         [--slots 4] [--schools 16]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import drop_postgres, fresh_postgres
from outreach import db
from outreach.booking.tables import Booking
from outreach.booking.writes import _claim_places, place_booking
from outreach.events.tables import Slot
from tests.factories import (
    at,
    class_visit,
    make_event,
    make_org,
    make_slot,
    make_user,
    make_world,
    school_day,
)

DB_NAME = "outreach_bench_booking"


async def run_pool(count: int, concurrency: int, one: callable) -> float:
    """Seconds to run `one(i)` for i < count with `concurrency` workers."""
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def main(bookings: int, concurrency: int, slots: int, schools_count: int) -> None:
    extra_schools = max(0, schools_count - 2)
    await fresh_postgres(DB_NAME)
    await db.start_pool(concurrency)
    try:
        world = await make_world()
        event = await make_event(world.firm_a, waitlist=False)
        day = school_day()
        capacity = bookings * 3 + 10
        slot_ids = [
            await make_slot(world.firm_a, event, capacity=capacity, starts_at=at(day, 8 + 2 * i))
            for i in range(slots)
        ]
        baseline_slots = [
            await make_slot(world.firm_a, event, capacity=capacity, starts_at=at(day, 8 + 2 * i))
            for i in range(slots)
        ]
        schools = [world.school_a, world.school_b]
        for n in range(extra_schools):
            await make_org("school", slug=f"bench-school-{n}")
            schools.append((await make_user("school", f"bench-school-{n}"))[0])

        async def service_booking(i: int) -> None:
            await place_booking(
                slot_ids[i % slots],
                class_visit(f"k{i}", pupils=2, adults=1),
                by=schools[i % len(schools)],
                key=f"bench-{i}",
            )

        async def bare_update(i: int) -> None:
            async with db.write_transaction():
                assert await _claim_places(baseline_slots[i % slots], 3)

        # Warm both paths (connections, statement caches) before measuring.
        await run_pool(min(50, bookings), concurrency, bare_update)
        base_seconds = await run_pool(bookings, concurrency, bare_update)
        service_seconds = await run_pool(bookings, concurrency, service_booking)

        booked = await Booking.count()
        held = sum(r["held"] for r in await Slot.select(Slot.held).where(Slot.id.is_in(slot_ids)))
        assert booked == bookings and held == bookings * 3, (booked, held)
        base_rate = bookings / base_seconds
        service_rate = bookings / service_seconds
        print(
            f"bookings: {bookings}, concurrency: {concurrency}, slots: {slots}, "
            f"schools: {len(schools)} (PostgreSQL)"
        )
        print(f"baseline bare conditional UPDATE: {base_rate:8.0f} /s")
        print(f"place_booking through services:   {service_rate:8.0f} /s")
        print(f"ratio services / baseline:        {service_rate / base_rate:8.3f}")
    finally:
        await db.close_pool()
        await drop_postgres(DB_NAME)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--schools", type=int, default=16, help="teachers of this many schools")
    args = parser.parse_args()
    asyncio.run(main(args.bookings, args.concurrency, args.slots, args.schools))
