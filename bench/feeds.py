"""Calendar feeds: serving stored bytes, and republishing after one change.

(a) Requests per second of a real server process (uvicorn, `outreach.asgi:app`, one
    process, PostgreSQL, no embedded worker) for the stored feeds, beside the baseline
    in the same server and run: a bare endpoint (mounted only with
    OUTREACH_BENCH_ROUTES=1) that answers the same bytes and headers from memory, each
    feed against its own bytes (`/_bench/feed.ics` for the public feed,
    `/_bench/private/{token}.ics`, a route of the same shape, for the private feed). At 1
    and 50 concurrent keep-alive clients, with p50/p99 latency. The client is a small
    asyncio HTTP/1.1 client in this process (`wrk` is not needed).
(b) The cold build of a feed of 10,000 slots (render every piece, join, store) beside
    the republish after one slot changes (render its pieces, join again the weeks of the
    stored feed it left and joined): one republish first, as a long-running publisher
    has made before (its statements prepared), then the median of five.

    .venv/bin/python bench/feeds.py [--slots-served 100] [--seconds 3] [--rounds 3]
                                    [--render-slots 10000] [--skip-serving] [--skip-render]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import drop_postgres, fresh_postgres, unique_name
from outreach import db
from outreach.accounts.services import feed_token_for
from outreach.config import Settings
from outreach.events.schemas import SlotPatch
from outreach.events.services import update_slot
from outreach.events.tables import Slot
from outreach.feeds import services
from outreach.feeds.services import PublicFilter
from outreach.feeds.tables import FeedPiece
from outreach.timeutil import LOCAL_TZ
from tests.factories import make_event, make_slot, make_world

ROOT = Path(__file__).resolve().parent.parent
DB_SERVE = unique_name("outreach_bench_feeds_serve")
DB_RENDER = unique_name("outreach_bench_feeds_render")
REPUBLISHES = 5
_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


# --------------------------------------------------------------------------- the client


@dataclass
class Run:
    label: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


async def _one_client(port: int, request: bytes, expect: bytes, deadline: float, run: Run) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(head)
            if match and int(match.group(1)):
                await reader.readexactly(int(match.group(1)))
            run.latencies.append(time.perf_counter() - started)
            run.requests += 1
            if not head.startswith(expect):
                run.errors += 1
    finally:
        writer.close()


async def measure(
    port: int, path: str, label: str, concurrency: int, seconds: float, headers: str = ""
) -> Run:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode()
    expect = b"HTTP/1.1 304" if "If-None-Match" in headers else b"HTTP/1.1 200"
    # Warm up: connections, statement caches, the body cache of the server process.
    await asyncio.gather(
        *(
            _one_client(port, request, expect, time.perf_counter() + 0.5, Run(label, 1))
            for _ in range(min(concurrency, 8))
        )
    )
    run = Run(label, concurrency)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_one_client(port, request, expect, deadline, run) for _ in range(concurrency))
    )
    run.seconds = time.perf_counter() - started
    return run


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "SECRET_KEY": settings.secret_key,
        "OUTREACH_DATA_DIR": str(settings.data_dir),
        "EMBEDDED_WORKER": "false",
        "OUTREACH_BENCH_ROUTES": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    command = [
        sys.executable, "-m", "uvicorn", "outreach.asgi:app",
        "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env)


async def wait_for(port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server did not listen on port {port} within {within} s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --------------------------------------------------------------------------- (a) serving


async def bench_serving(slots_served: int, seconds: float, rounds: int) -> None:
    settings = await fresh_postgres(DB_SERVE)
    server = None
    try:
        world = await make_world()
        per_event = 10
        first = datetime(2027, 4, 12, 8, 0, tzinfo=LOCAL_TZ)
        for e in range((slots_served + per_event - 1) // per_event):
            host = world.firm_a if e % 2 == 0 else world.firm_b
            event_id = await make_event(host, grades=[7, 8, 9])
            for s in range(min(per_event, slots_served - e * per_event)):
                start = first + timedelta(days=e * per_event + s)
                await make_slot(host, event_id, starts_at=start)
        public = await services.public_feed(PublicFilter())
        private_token = await feed_token_for(by=world.firm_a)
        private = await services.private_feed(private_token)
        port = _free_port()
        server = start_server(settings, port)
        await wait_for(port)

        print(
            f"(a) serving: uvicorn, 1 process, PostgreSQL; public feed {slots_served} slots, "
            f"{len(public.body):,} bytes; private feed {len(private.body):,} bytes; "
            f"{rounds} interleaved rounds of {seconds:.0f} s, medians; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'endpoint':44} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'/ bare':>7}"
        )
        # Each feed beside a bare answer of its own bytes (a private feed is smaller than
        # the public one, and the size alone moves the rate): label, path, headers, and
        # the label of its baseline (None: it is one).
        bare_public, bare_private = "bare: public feed's bytes", "bare: private feed's bytes"
        rows: list[tuple[str, str, str, str | None]] = [
            (bare_public, "/_bench/feed.ics", "", None),
            ("stored public feed", "/feeds/public.ics", "", bare_public),
            (
                "stored public feed, 304 (If-None-Match)",
                "/feeds/public.ics",
                f"If-None-Match: {public.etag}\r\n",
                bare_public,
            ),
            (bare_private, f"/_bench/private/{private_token}.ics", "", None),
            (
                "stored private feed (token + feed)",
                f"/feeds/private/{private_token}.ics",
                "",
                bare_private,
            ),
        ]
        for concurrency in (1, 50):
            runs: dict[str, list[Run]] = {label: [] for label, _, _, _ in rows}
            # Interleaved, so that a noisy moment on a shared machine hits every row alike.
            for _ in range(rounds):
                for label, path, headers, _ in rows:
                    run = await measure(port, path, label, concurrency, seconds, headers)
                    runs[label].append(run)
            rates = {label: statistics.median(r.rate for r in runs[label]) for label in runs}
            for label, _, _, baseline in rows:
                rate = rates[label]
                p50 = statistics.median(r.percentile(0.50) for r in runs[label])
                p99 = statistics.median(r.percentile(0.99) for r in runs[label])
                errors = sum(r.errors for r in runs[label])
                note = f"  ({errors} unexpected answers)" if errors else ""
                print(
                    f"{label:44} {concurrency:7d} {rate:9.0f} {p50:8.2f} {p99:8.2f} "
                    f"{rate / rates[baseline or label]:7.2f}{note}"
                )
    finally:
        if server is not None:
            stop_server(server)
        await drop_postgres(DB_SERVE)


# --------------------------------------------------------------------------- (b) rendering


async def bench_render(count: int) -> None:
    await fresh_postgres(DB_RENDER)
    await db.start_pool(4)
    try:
        world = await make_world()
        per_event = 100
        first = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
        event_ids = [
            await make_event(world.firm_a, grades=[8, 9])
            for _ in range((count + per_event - 1) // per_event)
        ]
        # Slots straight into the table: this measures the feeds, not the slot service;
        # rows without pieces are what a cold build starts from.
        rows = [
            Slot(
                event=event_ids[i // per_event],
                starts_at=first + timedelta(hours=i),
                ends_at=first + timedelta(hours=i, minutes=90),
                capacity=30,
            )
            for i in range(count)
        ]
        for i in range(0, len(rows), 1000):
            await Slot.insert(*rows[i : i + 1000])
        await FeedPiece.delete(force=True)

        started = time.perf_counter()
        feed = await services.public_feed(PublicFilter())
        cold = time.perf_counter() - started
        pieces = await FeedPiece.count()
        assert feed.body.count(b"BEGIN:VEVENT") == count

        # Republishes as the long-running publisher makes them: one first (its statements
        # prepared on the connection), then REPUBLISHES measured, each after one slot
        # moved to the day before the feed's first; the median is the figure.
        slot_ids = [
            r["id"] for r in await Slot.select(Slot.id).order_by(Slot.id).limit(REPUBLISHES + 1)
        ]
        spent: list[float] = []
        again = feed
        for n, slot_id in enumerate(slot_ids):
            moved = datetime(2027, 1, 3, 6, 0, tzinfo=UTC) + timedelta(minutes=n)
            await update_slot(
                slot_id,
                SlotPatch(starts_at=moved, ends_at=moved + timedelta(hours=1)),
                by=world.firm_a,
            )
            started = time.perf_counter()
            result = await services.publish_pending()
            took = time.perf_counter() - started
            before, again = again, await services.public_feed(PublicFilter())
            assert result.rendered == 2 and result.feeds == 1 and again.etag != before.etag
            if n:
                spent.append(took)
        republish = statistics.median(spent)

        services._bodies.clear()
        started = time.perf_counter()
        served = await services.public_feed(PublicFilter())
        from_db = time.perf_counter() - started
        started = time.perf_counter()
        await services.public_feed(PublicFilter())
        from_copy = time.perf_counter() - started

        print(f"(b) rendering: a feed of {count:,} slots, {len(feed.body):,} bytes, PostgreSQL")
        print(f"cold build (render {pieces:,} pieces, join, store): {cold * 1000:10.1f} ms")
        print(
            f"republish after one slot moved (2 pieces, 1 feed): {republish * 1000:10.1f} ms"
            f"  (median of {len(spent)}: {', '.join(f'{x * 1000:.1f}' for x in spent)})"
        )
        print(f"ratio cold build / republish:                      {cold / republish:10.1f}")
        print(f"a request's read of the stored feed, from the DB:  {from_db * 1000:10.1f} ms")
        print(f"... and from this process's checked copy:          {from_copy * 1000:10.3f} ms")
        assert served.etag == again.etag
    finally:
        await db.close_pool()
        await drop_postgres(DB_RENDER)


async def main(args: argparse.Namespace) -> None:
    if not args.skip_serving:
        await bench_serving(args.slots_served, args.seconds, args.rounds)
    if not args.skip_render:
        await bench_render(args.render_slots)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slots-served", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--render-slots", type=int, default=10_000)
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--skip-render", action="store_true")
    asyncio.run(main(parser.parse_args()))
