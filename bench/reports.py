"""Reports over one school year of a busy network, on PostgreSQL.

Builds 18 firms, 10 schools and 3,000 confirmed class visits with recorded attendance
in 1,500 past slots (inserted directly: this measures reading, not booking), then times
every report and the work plan's progress for the office and for one firm. Baseline in
the same run: one SQL aggregate over the same bookings (count and sum, joined to slot
and event), the least the database must do to touch those rows. Both run over the
connection pool the servers use (`db.start_pool`), as in bench/booking.py and
bench/feeds.py; `--no-pool` opens a connection per statement instead (as before).

    .venv/bin/python bench/reports.py [--rounds 5]   (or: -m bench.reports)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import drop_postgres, fresh_postgres, unique_name
from outreach import db
from outreach.booking.tables import Booking
from outreach.events.tables import Event, Slot
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ
from outreach.workplan import services
from outreach.workplan.reports import REPORTS, get_report, get_reports
from outreach.workplan.schemas import MilestoneIn, WorkPlanIn

DB = unique_name("outreach_bench_reports")
YEAR = "2026/27"
NOW = datetime(2027, 7, 20, 12, tzinfo=LOCAL_TZ)
SLOTS, PER_SLOT = 1500, 2
ROUNDS = 5
POOL = 4


async def _world() -> tuple[list[int], int]:
    rng = random.Random(7)
    firms = [
        (
            await Organisation.insert(
                Organisation(slug=f"f{i}", name=f"Firm {i}", kind="firm")
            ).returning(Organisation.id)
        )[0]["id"]
        for i in range(18)
    ]
    schools = [
        (
            await Organisation.insert(
                Organisation(slug=f"s{i}", name=f"School {i}", kind="school")
            ).returning(Organisation.id)
        )[0]["id"]
        for i in range(10)
    ]
    events = [
        (
            await Event.insert(
                Event(
                    host=f,
                    kind="factory_tour",
                    title=f"Tour {f}",
                    grades=[8, 9],
                    audience=[],
                    topics=[],
                    reminder_days=[],
                    status="published",
                    booking_mode="auto",
                )
            ).returning(Event.id)
        )[0]["id"]
        for f in firms
    ]
    start = datetime(2026, 8, 20, 9, tzinfo=LOCAL_TZ)
    slot_rows = []
    for n in range(SLOTS):
        at = start + timedelta(days=n % 300, hours=n % 3)
        slot_rows.append(
            Slot(
                event=events[n % len(events)],
                starts_at=at,
                ends_at=at + timedelta(minutes=90),
                capacity=60,
                held=0,
            )
        )
    slot_ids: list[tuple[int, int]] = []
    for chunk in range(0, len(slot_rows), 500):
        got = await Slot.insert(*slot_rows[chunk : chunk + 500]).returning(Slot.id, Slot.event)
        slot_ids += [(r["id"], r["event"]) for r in got]
    bookings = []
    for slot_id, event_id in slot_ids:
        for k in range(PER_SLOT):
            pupils, adults = rng.randint(15, 28), rng.randint(1, 2)
            came = 0 if rng.random() < 0.05 else pupils + adults - rng.randint(0, 2)
            bookings.append(
                Booking(
                    slot=slot_id,
                    event=event_id,
                    kind="class_visit",
                    status="confirmed",
                    persons=pupils + adults,
                    school=rng.choice(schools),
                    class_label=f"{8 + k}a",
                    grade=8 + k,
                    pupils=pupils,
                    adults=adults,
                    attended=came,
                )
            )
    for chunk in range(0, len(bookings), 500):
        await Booking.insert(*bookings[chunk : chunk + 500])
    return firms, len(bookings)


async def _timed(work) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def main() -> None:
    await fresh_postgres(DB)
    if POOL:
        await db.start_pool(POOL)
    try:
        firms, count = await _world()
        admin = Principal(role="admin", user_id=1)
        firm = Principal(role="firm", user_id=2, org_id=firms[0])
        plan = await services.create_plan(WorkPlanIn(school_year=YEAR, title="P"), by=admin)
        for metric in ("class_visits", "pupils", "schools"):
            await services.add_milestone(
                plan,
                MilestoneIn(title=metric, due_on=date(2027, 6, 30), metric=metric, target=100),
                by=admin,
            )

        async def baseline() -> None:
            await Booking.raw(
                "SELECT count(*), sum(b.attended) FROM booking b JOIN slot s ON s.id = b.slot "
                "JOIN event e ON e.id = b.event WHERE b.status = 'confirmed' "
                "AND s.starts_at >= {} AND s.starts_at < {}",
                datetime(2026, 8, 1, tzinfo=LOCAL_TZ),
                datetime(2027, 8, 1, tzinfo=LOCAL_TZ),
            )

        base = await _timed(baseline)
        print(
            f"{count} bookings in {SLOTS} slots, school year {YEAR}; median of {ROUNDS} runs; "
            + (f"pool of {POOL}" if POOL else "a connection per statement")
        )
        print(f"baseline: one SQL aggregate over the same rows: {base:.1f} ms")
        for who, by in (("office", admin), ("firm", firm)):
            for name in REPORTS:
                ms = await _timed(lambda name=name, by=by: get_report(name, YEAR, by=by, now=NOW))
                print(f"{who:6} {name:13} {ms:7.1f} ms  ratio {ms / base:5.1f}")
            ms = await _timed(lambda by=by: services.get_plan(plan, by=by, now=NOW))
            print(f"{who:6} {'work plan':13} {ms:7.1f} ms  ratio {ms / base:5.1f}")
            one_by_one = await _timed(
                lambda by=by: asyncio.gather(
                    *(get_report(n, YEAR, by=by, now=NOW) for n in REPORTS)
                )
            )
            shared = await _timed(lambda by=by: get_reports(list(REPORTS), YEAR, by=by, now=NOW))
            print(
                f"{who:6} all {len(REPORTS)} reports: one by one {one_by_one:.0f} ms, "
                f"sharing the facts {shared:.0f} ms  ratio {shared / base:5.1f}"
            )
    finally:
        if POOL:
            await db.close_pool()
        await drop_postgres(DB)


if __name__ == "__main__":
    # Arguments first: `--help` answers without building a database.
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="runs per figure (median)")
    parser.add_argument(
        "--no-pool", action="store_true", help="a connection per statement (no pool)"
    )
    args = parser.parse_args()
    ROUNDS, POOL = args.rounds, (0 if args.no_pool else POOL)
    asyncio.run(main())
