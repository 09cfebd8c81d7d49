"""Rule 1 under real concurrency: many teachers press "book" at once, on several servers.

The harness fires every request at once and then checks the database. It runs twice:
against two real server processes on PostgreSQL (must never overbook), and as a control
with a naive read-check-write booking written here (must overbook), which proves that the
harness can see the race it guards against.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest

from outreach.booking.tables import Booking
from outreach.events.tables import Slot
from tests.factories import at, make_event, make_slot, make_world, school_day
from tests.support import TEST_SECRET, bearer, postgres_dsn

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("engine", ["postgres"], indirect=True)]

REQUESTS = 240
SLOTS = 4
CAPACITY = 12
PARTY = 3  # 2 pupils, 1 adult


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def start_servers(count: int, data_dir: Path) -> tuple[list[subprocess.Popen], list[str]]:
    env = {
        **os.environ,
        "DATABASE_URL": postgres_dsn(),
        "SECRET_KEY": TEST_SECRET,
        "OUTREACH_DATA_DIR": str(data_dir),
        "EMBEDDED_WORKER": "false",
        "RATE_LIMIT_PER_MINUTE": "0",  # one client address sends them all: measure the engine
        "DB_POOL_MAX": "8",
    }
    env.pop("REDIS_URL", None)
    processes, urls = [], []
    for _ in range(count):
        port = free_port()
        processes.append(
            subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured part
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "outreach.asgi:app",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    async with httpx.AsyncClient() as client:
        for url in urls:
            # Up to 60 s: on a loaded 2-core machine importing the app alone took 11 s.
            for _ in range(600):
                try:
                    if (await client.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"server {url} did not start")
    return processes, urls


async def fire(book: Callable[[int], Awaitable[int]]) -> list[int]:
    """All requests at once, released together; returns their HTTP-like status codes."""
    gate = asyncio.Event()

    async def one(i: int) -> int:
        await gate.wait()
        return await book(i)

    tasks = [asyncio.create_task(one(i)) for i in range(REQUESTS)]
    await asyncio.sleep(0.05)
    gate.set()
    return await asyncio.gather(*tasks)


async def booked_per_slot(slot_ids: list[int]) -> dict[int, int]:
    rows = await Booking.select(Booking.slot, Booking.persons).where(
        Booking.slot.is_in(slot_ids) & Booking.status.is_in(["pending", "confirmed"])
    )
    totals = dict.fromkeys(slot_ids, 0)
    for row in rows:
        totals[row["slot"]] += row["persons"]
    return totals


@pytest.fixture
async def scene(db, tmp_path):
    world = await make_world()
    event = await make_event(world.firm_a, waitlist=True)
    day = school_day()
    slots = [
        await make_slot(world.firm_a, event, capacity=CAPACITY, starts_at=at(day, 8 + 2 * i))
        for i in range(SLOTS)
    ]
    return world, slots


async def test_two_servers_never_overbook_and_keep_waitlist_order(scene, tmp_path):
    world, slots = scene
    processes, urls = await start_servers(2, tmp_path)
    try:
        limits = httpx.Limits(max_connections=REQUESTS)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def book(i: int) -> int:
                response = await client.post(
                    f"{urls[i % 2]}/api/v1/slots/{slots[i % SLOTS]}/bookings",
                    json={"class_label": f"k{i}", "grade": 8, "pupils": PARTY - 1, "adults": 1},
                    headers={**bearer(world.tokens["school_a"]), "Idempotency-Key": f"req-{i}"},
                )
                return response.status_code

            statuses = await fire(book)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)

    assert statuses.count(201) == REQUESTS, statuses
    totals = await booked_per_slot(slots)
    assert totals == dict.fromkeys(slots, CAPACITY)  # exactly full, never more
    for slot_id in slots:
        slot = await Slot.select(Slot.held).where(Slot.id == slot_id).first()
        assert slot["held"] == CAPACITY
        waiting = (
            await Booking.select(Booking.id)
            .where((Booking.slot == slot_id) & (Booking.status == "waitlisted"))
            .order_by(Booking.id)
        )
        assert len(waiting) == REQUESTS // SLOTS - CAPACITY // PARTY

    # Arrival order: each cancellation promotes the earliest waiting booking.
    from outreach.booking.writes import cancel_booking

    slot_id = slots[0]
    waiting = [
        r["id"]
        for r in await Booking.select(Booking.id)
        .where((Booking.slot == slot_id) & (Booking.status == "waitlisted"))
        .order_by(Booking.id)
    ]
    confirmed = [
        r["id"]
        for r in await Booking.select(Booking.id).where(
            (Booking.slot == slot_id) & (Booking.status == "confirmed")
        )
    ]
    for n, booking_id in enumerate(confirmed[:3]):
        await cancel_booking(booking_id, "", by=world.school_a)
        promoted = await Booking.select(Booking.status).where(Booking.id == waiting[n]).first()
        assert promoted["status"] == "confirmed"
        assert (await Booking.select(Booking.status).where(Booking.id == waiting[n + 1]).first())[
            "status"
        ] == "waitlisted"
    assert (await booked_per_slot([slot_id]))[slot_id] == CAPACITY


async def test_control_naive_read_check_write_overbooks(scene):
    """The same harness against a booking that checks, then writes: it must overbook."""
    _world, slots = scene
    pool = await asyncpg.create_pool(postgres_dsn(), min_size=4, max_size=20)
    try:

        async def naive_book(i: int) -> int:
            slot_id = slots[i % SLOTS]
            async with pool.acquire() as conn:
                row = await conn.fetchrow("SELECT capacity, held FROM slot WHERE id = $1", slot_id)
                if row["held"] + PARTY > row["capacity"]:
                    return 409
                await conn.execute(
                    "UPDATE slot SET held = $2 WHERE id = $1", slot_id, row["held"] + PARTY
                )
                await conn.execute(
                    "INSERT INTO booking (slot, event, kind, status, persons, class_label, "
                    "pupils, adults, contact_name, contact_email, notes, language, reason, "
                    "sequence, created_at, updated_at) SELECT $1, event, 'class_visit', "
                    "'confirmed', $2, $3, 2, 1, '', '', '', 'de', '', 0, now(), now() "
                    "FROM slot WHERE id = $1",
                    slot_id,
                    PARTY,
                    f"n{i}",
                )
                return 201

        await fire(naive_book)
    finally:
        await pool.close()
    totals = await booked_per_slot(slots)
    assert any(total > CAPACITY for total in totals.values()), totals
