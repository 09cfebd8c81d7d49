"""Bookings per second under contention on PostgreSQL, through the services layer or HTTP.

Beside it, in the same run and through the same driver and pool, the baseline: the bare
conditional UPDATE that guards capacity (`_claim_places`) in its own transaction. The
ratio says what the rest of a booking costs (reading the slot and event, the class and
holiday checks, the insert, the outbox rows, the idempotency key).

With `--http`, the bookings go through `POST /api/v1/slots/{id}/bookings` of
`outreach serve --workers 2` (two server processes, no embedded worker, no rate limit),
each with a bearer token of one of the schools' teachers and an Idempotency-Key, over
`--concurrency` keep-alive connections; the baseline runs before and after (the
figure is their mean), so drift of a shared machine hits both alike.

    .venv/bin/python bench/booking.py [--bookings 2000] [--concurrency 32]
                                         [--slots 4] [--schools 16] [--http]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._http import (
    PYTHON,
    Connection,
    free_port,
    start_process,
    stop_process,
    wait_until_up,
)
from bench._setup import drop_postgres, fresh_postgres, unique_name
from outreach import db
from outreach.booking.tables import Booking
from outreach.booking.writes import _claim_places, place_booking
from outreach.config import Settings
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

DB_NAME = unique_name("outreach_bench_booking")


async def run_pool(count: int, concurrency: int, one: callable) -> float:
    """Seconds to run `one(i)` for i < count with `concurrency` workers."""
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def through_http(
    settings: Settings, slot_ids: list[int], tokens: list[str], bookings: int, concurrency: int
) -> float:
    """Seconds for `bookings` POSTs to 2 server processes; each must answer 201."""
    logs = Path(tempfile.mkdtemp(prefix="outreach-bench-booking-"))
    port = free_port()
    env = {
        "DATABASE_URL": settings.database_url or "",
        "SECRET_KEY": settings.secret_key,
        "OUTREACH_DATA_DIR": str(logs),
        "REDIS_URL": "",  # no broker: the outbox rows wait in the database
        "EMBEDDED_WORKER": "false",
        "RATE_LIMIT_PER_MINUTE": "0",  # every client is 127.0.0.1 here
        "DB_POOL_MAX": str(max(4, concurrency // 2)),
        "LOG_LEVEL": "WARNING",
    }
    server = start_process(
        [PYTHON, "-m", "outreach.cli", "serve", "--workers", "2", "--port", str(port)],
        env,
        logs / "serve.log",
    )
    failures: list[str] = []
    try:
        wait_until_up(port, server)
        queue = iter(range(bookings))

        async def client() -> None:
            conn = Connection("127.0.0.1", port)
            try:
                for i in queue:
                    body = {"class_label": f"h{i}", "grade": 8, "pupils": 2, "adults": 1}
                    answer = await conn.request(
                        "POST",
                        f"/api/v1/slots/{slot_ids[i % len(slot_ids)]}/bookings",
                        {
                            "Authorization": f"Bearer {tokens[i % len(tokens)]}",
                            "Content-Type": "application/json",
                            "Idempotency-Key": f"bench-http-{i}",
                        },
                        json.dumps(body).encode(),
                    )
                    if answer.status != 201 and len(failures) < 5:
                        failures.append(f"{answer.status} {answer.body[:200]!r}")
            finally:
                conn.close()

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    finally:
        stop_process(server)
    assert not failures, failures
    return seconds


async def main(bookings: int, concurrency: int, slots: int, schools_count: int, http: bool) -> None:
    extra_schools = max(0, schools_count - 2)
    load = os.getloadavg()[0]
    settings = await fresh_postgres(DB_NAME)
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
        tokens = [world.tokens["school_a"], world.tokens["school_b"]]
        for n in range(extra_schools):
            await make_org("school", slug=f"bench-school-{n}")
            principal, token = await make_user("school", f"bench-school-{n}")
            schools.append(principal)
            tokens.append(token)

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
        if http:
            service_seconds = await through_http(settings, slot_ids, tokens, bookings, concurrency)
            after = await run_pool(bookings, concurrency, bare_update)
            base_seconds = (base_seconds + after) / 2
        else:
            service_seconds = await run_pool(bookings, concurrency, service_booking)

        booked = await Booking.count()
        held = sum(r["held"] for r in await Slot.select(Slot.held).where(Slot.id.is_in(slot_ids)))
        assert booked == bookings and held == bookings * 3, (booked, held)
        base_rate = bookings / base_seconds
        service_rate = bookings / service_seconds
        path = "HTTP, 2 server processes:" if http else "place_booking through services:"
        print(
            f"bookings: {bookings}, concurrency: {concurrency}, slots: {slots}, "
            f"schools: {len(schools)} (PostgreSQL); load average at the start {load:.1f}"
        )
        print(f"baseline bare conditional UPDATE: {base_rate:8.0f} /s")
        print(f"{path:<33} {service_rate:8.0f} /s")
        print(f"ratio {'HTTP' if http else 'services'} / baseline: {service_rate / base_rate:8.3f}")
    finally:
        await db.close_pool()
        await drop_postgres(DB_NAME)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--schools", type=int, default=16, help="teachers of this many schools")
    parser.add_argument("--http", action="store_true", help="through HTTP, 2 server processes")
    args = parser.parse_args()
    asyncio.run(main(args.bookings, args.concurrency, args.slots, args.schools, args.http))
