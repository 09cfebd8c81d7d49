"""A realistic load on the production set-up, on loopback, with the booking rules checked after.

Starts `outreach serve --workers 2` (two server processes), `outreach worker` with two
processes and one `outreach scheduler`, on a PostgreSQL database of its own (loaded
with the demo network) and a Redis database and namespace of its own; then drives the
mix below for `--seconds` and prints requests per second and p50/p95/p99 per kind and
overall, the errors (must be 0), and the baseline of the same run: the bare
`/health/live` endpoint on the same servers and connections, and the ratio.

The mix: 80 % calendar feeds (`/feeds/public.ics` with the filters families use),
15 % page views (home page, event pages), 5 % class-visit bookings by the demo
teachers through the API (a refusal such as "full" is an answer, not an error; 5xx,
timeouts and broken connections are errors). The bookings go to 40 future factory
tours; 36 of them get room for the whole run (capacity raised to 5,000), so most
bookings place; 4 keep the demo's 30 places, so waiting lists still form and the
first-come-first-served check below has something to check.

The baseline is interleaved with the mix: `--rounds` rounds of baseline then mix (each
a share of `--baseline-seconds` and `--seconds`), so a noisy moment on a shared machine
hits both alike.

After the run, straight from the database: no slot over capacity (pending + confirmed
persons <= capacity, and equal to the slot's `held`), and the waiting lists are first
come, first served (no later booking of at least the same size got places while an
earlier one still waits, and no waiting booking fits into free places).

    .venv/bin/python bench/load.py [--seconds 60] [--connections 24] [--baseline-seconds 10]
                                   [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from redis import Redis

from bench._http import (
    PYTHON,
    Connection,
    Tally,
    drive,
    free_port,
    start_process,
    stop_process,
    wait_until_up,
)
from bench._setup import drop_postgres, fresh_postgres, unique_name
from outreach import db
from outreach.accounts.services import issue_api_token
from outreach.accounts.tables import User
from outreach.booking.tables import Booking
from outreach.demo import load_demo
from outreach.events.tables import EVENT_KINDS, Event, Slot
from outreach.organisations.tables import Organisation
from outreach.timeutil import utcnow

DB_NAME = unique_name("outreach_bench_load")
REDIS_URL = "redis://127.0.0.1:6379/13"
NAMESPACE = unique_name("outreach-bench-load")  # this run's keys only
MIX = (("feed", 80), ("page", 15), ("booking", 5))
# A refusal the API gives by design under load: full without waiting list, clash, closed.
REFUSALS = {409, 422}
BOOKED_SLOTS, TIGHT_SLOTS, ROOMY_CAPACITY = 40, 4, 5000


async def prepare() -> tuple[dict[str, str], dict]:
    """Fresh database with the demo network; tokens for the teachers; what to request."""
    settings = await fresh_postgres(DB_NAME)
    await db.start_pool(4)
    try:
        print(await load_demo())
        teachers = await User.select(User.id, User.organisation).where(User.role == "school")
        tokens = [await issue_api_token(t["id"], label="bench") for t in teachers]
        soon = utcnow() + timedelta(days=4)  # past the booking deadline of 48 h
        slots = await Slot.select(
            Slot.id, Slot.event, Slot.capacity, Slot.event.grades.as_alias("grades")
        ).where(
            (Slot.starts_at > soon)
            & (Slot.cancelled == False)  # noqa: E712
            & (Slot.event.status == "published")
            & (Slot.event.kind == "factory_tour")
            & (Slot.event.booking_mode != "none")
        )
        events = await Event.select(Event.id).where(
            (Event.status == "published") & (Event.visibility == "public")
        )
        hosts = await Organisation.select(Organisation.slug).where(Organisation.kind == "firm")
        # A small set of slots: most with room for every booking of the run (so the run
        # measures placements), a few tight ones, so that waiting lists form too.
        rng = random.Random(7)
        # Not slots with a waiting list: more room straight in the table would leave
        # waiting bookings that fit (the service would have moved them up).
        waiting = {
            row["slot"]
            for row in await Booking.select(Booking.slot).where(Booking.status == "waitlisted")
        }
        bookable = sorted((s for s in slots if s["id"] not in waiting), key=lambda s: s["id"])
        rng.shuffle(bookable)
        bookable = bookable[:BOOKED_SLOTS]
        roomy = [s["id"] for s in bookable[TIGHT_SLOTS:]]
        await Slot.update({Slot.capacity: ROOMY_CAPACITY}).where(Slot.id.is_in(roomy))
    finally:
        await db.close_pool()
    targets = {
        "tokens": tokens,
        "slots": bookable,
        "events": [e["id"] for e in events],
        "hosts": [h["slug"] for h in hosts],
    }
    env = {
        "DATABASE_URL": settings.database_url or "",
        "SECRET_KEY": settings.secret_key,
        "REDIS_URL": REDIS_URL,
        "OUTREACH_BROKER_NAMESPACE": NAMESPACE,
        "RATE_LIMIT_PER_MINUTE": "0",  # every client is 127.0.0.1 here
        "LOG_LEVEL": "WARNING",
        "SCHEDULER_INTERVAL": "5",
    }
    return env, targets


def feed_path(rng: random.Random, targets: dict) -> str:
    choice = rng.random()
    if choice < 0.4:
        return f"/feeds/public.ics?grade={rng.randint(5, 12)}"
    if choice < 0.7:
        return f"/feeds/public.ics?host={rng.choice(targets['hosts'])}"
    if choice < 0.85:
        return f"/feeds/public.ics?kind={rng.choice(EVENT_KINDS)}"
    return "/feeds/public.ics"


def page_path(rng: random.Random, targets: dict) -> str:
    if rng.random() < 0.3:
        return "/"
    return f"/events/{rng.choice(targets['events'])}"


async def run_mix(port: int, seconds: float, connections: int, targets: dict, seed: int):
    tallies = {kind: Tally() for kind, _ in MIX}
    refused: dict[int, int] = {}
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    rng = random.Random(2026 + seed)
    clock = asyncio.get_running_loop().time

    async def one(conn: Connection, i: int) -> None:
        kind = rng.choices(kinds, weights)[0]
        started = clock()
        try:
            if kind == "feed":
                answer = await conn.request("GET", feed_path(rng, targets))
                ok = answer.status in (200, 304)
            elif kind == "page":
                answer = await conn.request("GET", page_path(rng, targets))
                ok = answer.status == 200
            else:
                slot = rng.choice(targets["slots"])
                body = {
                    "class_label": f"L{seed}-{i}",
                    "grade": rng.choice(slot["grades"] or [8]),
                    "pupils": rng.randint(8, 24),
                    "adults": rng.randint(1, 2),
                }
                answer = await conn.request(
                    "POST",
                    f"/api/v1/slots/{slot['id']}/bookings",
                    {
                        "Authorization": f"Bearer {rng.choice(targets['tokens'])}",
                        "Content-Type": "application/json",
                        "Idempotency-Key": f"load-{seed}-{i}",
                    },
                    json.dumps(body).encode(),
                )
                ok = answer.status == 201 or answer.status in REFUSALS
                if answer.status in REFUSALS:
                    refused[answer.status] = refused.get(answer.status, 0) + 1
            what = f"{kind} {answer.status} {answer.body[:200]!r}"
        except (OSError, asyncio.IncompleteReadError) as exc:
            ok, what = False, f"{kind} {exc!r}"
            conn.close()
        tallies[kind].add(clock() - started, ok, what)

    elapsed = await drive("127.0.0.1", port, connections, seconds, one)
    return tallies, elapsed, refused


async def run_baseline(port: int, seconds: float, connections: int) -> tuple[Tally, float]:
    tally = Tally()
    clock = asyncio.get_running_loop().time

    async def one(conn: Connection, i: int) -> None:
        started = clock()
        answer = await conn.request("GET", "/health/live")
        tally.add(clock() - started, answer.status == 200, str(answer.status))

    return tally, await drive("127.0.0.1", port, connections, seconds, one)


async def check_invariants(dsn: str) -> list[str]:
    """The booking rules, checked on the database after the run; a list of violations."""
    conn = await asyncpg.connect(dsn)
    try:
        problems = []
        rows = await conn.fetch(
            """
            SELECT s.id, s.capacity, s.held,
                   COALESCE(SUM(b.persons) FILTER (WHERE b.status IN ('pending', 'confirmed')), 0)
                     AS holding
            FROM slot s LEFT JOIN booking b ON b.slot = s.id
            GROUP BY s.id
            """
        )
        for row in rows:
            if row["holding"] > row["capacity"]:
                problems.append(f"slot {row['id']}: {row['holding']} > capacity {row['capacity']}")
            if row["holding"] != row["held"]:
                problems.append(f"slot {row['id']}: held {row['held']} != {row['holding']}")
        jumped = await conn.fetch(
            """
            SELECT w.id AS waiting, h.id AS holder, w.slot
            FROM booking w JOIN booking h
              ON h.slot = w.slot AND h.id > w.id AND h.persons >= w.persons
             AND h.status IN ('pending', 'confirmed')
            JOIN slot s ON s.id = w.slot
            WHERE w.status = 'waitlisted' AND s.starts_at > now() AND NOT s.cancelled
            """
        )
        problems += [
            f"slot {r['slot']}: booking {r['holder']} got places before waiting {r['waiting']}"
            for r in jumped
        ]
        fits = await conn.fetch(
            """
            SELECT w.id, w.slot FROM booking w JOIN slot s ON s.id = w.slot
            WHERE w.status = 'waitlisted' AND w.persons <= s.capacity - s.held
              AND s.starts_at > now() AND NOT s.cancelled
            """
        )
        problems += [f"slot {r['slot']}: waiting booking {r['id']} fits" for r in fits]
        stats = await conn.fetchrow(
            """
            SELECT count(*) FILTER (WHERE status IN ('pending', 'confirmed')) AS holding,
                   count(*) FILTER (WHERE status = 'waitlisted') AS waiting
            FROM booking WHERE class_label LIKE 'L%'
            """
        )
        print(
            f"bookings placed by the run: {stats['holding']} holding places, "
            f"{stats['waiting']} waiting; slots checked: {len(rows)}"
        )
        return problems
    finally:
        await conn.close()


def clear_namespace() -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        # The broker's keys and the rate limiter's ({NAMESPACE}-rate-limit) alike.
        keys = list(client.scan_iter(match=f"{NAMESPACE}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _merge(into: Tally, part: Tally) -> None:
    into.latencies += part.latencies
    into.errors += part.errors
    into.error_samples += part.error_samples


async def main(seconds: float, connections: int, baseline_seconds: float, rounds: int) -> int:
    clear_namespace()
    env, targets = await prepare()
    logs = Path(tempfile.mkdtemp(prefix="outreach-bench-load-"))
    env["OUTREACH_DATA_DIR"] = str(logs)
    port = free_port()
    processes = []
    try:
        server = start_process(
            [PYTHON, "-m", "outreach.cli", "serve", "--workers", "2", "--port", str(port)],
            env,
            logs / "serve.log",
        )
        processes.append(server)
        processes.append(
            start_process(
                [PYTHON, "-m", "outreach.cli", "worker", "--processes", "2", "--threads", "4"],
                env,
                logs / "worker.log",
            )
        )
        processes.append(
            start_process([PYTHON, "-m", "outreach.cli", "scheduler"], env, logs / "sched.log")
        )
        wait_until_up(port, server)
        await run_baseline(port, 2.0, connections)  # warm up both server processes
        await run_mix(port, 3.0, connections, targets, seed=0)
        baseline, base_elapsed = Tally(), 0.0
        tallies = {kind: Tally() for kind, _ in MIX}
        elapsed, refused = 0.0, {}
        started = time.monotonic()
        for round_ in range(rounds):  # interleaved: baseline, mix, baseline, mix, ...
            base, spent = await run_baseline(port, baseline_seconds / rounds, connections)
            _merge(baseline, base)
            base_elapsed += spent
            parts, spent, refusals = await run_mix(
                port, seconds / rounds, connections, targets, seed=round_ + 1
            )
            for kind, tally in parts.items():
                _merge(tallies[kind], tally)
            elapsed += spent
            for status, n in refusals.items():
                refused[status] = refused.get(status, 0) + n
        print(f"{rounds} rounds of baseline and mix ran {time.monotonic() - started:.1f} s")
    finally:
        for process in processes:
            stop_process(process)
        clear_namespace()

    overall = Tally()
    for tally in tallies.values():
        _merge(overall, tally)
    base_rate = len(baseline.latencies) / base_elapsed
    mix_rate = len(overall.latencies) / elapsed
    print(
        f"load: 2 server processes, 2 worker processes, 1 scheduler; {connections} "
        f"keep-alive connections, {seconds:.0f} s, PostgreSQL + Redis on loopback"
    )
    print(baseline.line("baseline", base_elapsed) + "   (GET /health/live)")
    for kind, tally in tallies.items():
        print(tally.line(kind, elapsed))
    print(overall.line("overall", elapsed))
    print(f"ratio mix / baseline (req/s): {mix_rate / base_rate:.3f}")
    print(f"booking refusals by design (409 full/clash, 422): {refused or 'none'}")
    for sample in overall.error_samples:
        print(f"error: {sample}")

    problems = await check_invariants(env["DATABASE_URL"])
    for problem in problems:
        print(f"INVARIANT BROKEN: {problem}")
    print(f"invariants: {'ok' if not problems else f'{len(problems)} broken'}")
    await drop_postgres(DB_NAME)
    return 1 if problems or overall.errors or baseline.errors else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5, help="baseline/mix alternations")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.seconds, args.connections, args.baseline_seconds, args.rounds)))
