"""Reminder mails per second: `outreach worker` processes, the real Redis, an SMTP sink.

Set-up: bookings placed through `place_booking` (dated back, so that a reminder is
owed), then `schedule_reminders` queues one reminder per booking, all due now. The
worker path is the production one: the due ids go to Redis in a namespace of this run
through `take_due` and one `deliver_notification` message each, as the sweep hands them
over (here all batches at once, not one batch per scheduler tick), and `outreach worker
--processes 2` claims, renders, sends and marks each through the outbox, to an aiosmtpd
sink running in its own process. Timed from the first handover to the sink's last mail.

Beside it, in the same run and against the same sink, the baseline: a plain loop sending
the same mails (the very bytes the workers sent, as the sink recorded them) over ONE
SMTP connection. The ratio says what the rest of the worker path costs: Redis, claiming,
loading and rendering, marking sent, and the SMTP connections it opens.

It checks that every reminder went out exactly once: the sink counted as many distinct
Message-IDs as mails, and the outbox holds that many reminders `sent`. CPU time per mail
(workers, sink) is printed too: on a shared machine it varies less than mails per second.

    .venv/bin/python bench/notifications.py [--reminders 10000] [--processes 2]
        [--threads 4] [--slots 20] [--schools 40] [--concurrency 16] [--within 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import multiprocessing
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib
from redis import Redis

from bench._setup import drop_postgres, fresh_postgres, unique_name
from outreach import db
from outreach.booking.writes import place_booking
from outreach.config import Settings, set_settings
from outreach.events.schemas import EventIn
from outreach.events.services import create_event
from outreach.notifications import services as delivery
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.factories import at, class_visit, make_org, make_slot, make_user, school_day

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = unique_name("outreach_bench_notifications")
REMINDER = "booking.reminder"
MAX_CAPACITY = 10_000  # the most places a slot may have
HANDOVER_BATCH = 1000
N = Notification
# (envelope sender, recipients, the message as received)
Mail = tuple[str, list[str], bytes]


# --------------------------------------------------------------------------- the sink

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class _SinkHandler:
    """Keeps every mail and counts distinct Message-IDs and the connections used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.mails: list[Mail] = []
            self.ids: set[bytes] = set()
            self.sessions: set[object] = set()  # kept alive, so identities stay unique
            self.last_at = 0.0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "received": len(self.mails),
                "distinct": len(self.ids),
                "connections": len(self.sessions),
                "last_at": self.last_at,
                "cpu": time.process_time(),  # of the whole sink process
            }

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        found = _MESSAGE_ID.search(content.split(b"\r\n\r\n", 1)[0])
        with self._lock:
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), content))
            self.ids.add(found.group(1) if found else b"")
            self.sessions.add(session)
            self.last_at = time.time()
        return "250 Message accepted for delivery"


def _sink_main(port: int, commands: Connection) -> None:
    """The sink's process: a Python SMTP server must not share a GIL with its clients."""
    from aiosmtpd.controller import Controller

    handler = _SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    commands.send("ready")
    try:
        while (command := commands.recv()) != "stop":
            if command == "reset":
                handler.reset()
            commands.send(handler.mails if command == "mails" else handler.stats())
    finally:
        controller.stop()


class Sink:
    def __init__(self) -> None:
        self.port = _free_port()
        context = multiprocessing.get_context("spawn")
        self._commands, child = context.Pipe()
        self._process = context.Process(target=_sink_main, args=(self.port, child), daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._process.start()
        if not self._commands.poll(30) or self._commands.recv() != "ready":
            raise RuntimeError("the SMTP sink did not start")

    def stats(self) -> dict[str, Any]:
        return self._ask("stats")

    def mails(self) -> list[Mail]:
        return self._ask("mails")

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._commands.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    def _ask(self, command: str) -> Any:
        self._commands.send(command)
        return self._commands.recv()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- set-up


async def run_pool(count: int, concurrency: int, one: Callable[[int], Awaitable[Any]]) -> None:
    """`one(i)` for i < count with `concurrency` tasks."""
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def place_bookings(count: int, slots: int, schools: int, concurrency: int) -> None:
    """`count` confirmed class visits, booked so long ago that a reminder is owed now."""
    await make_org("firm", slug="bench-firm")
    host, _ = await make_user("firm", "bench-firm")
    teachers = []
    for n in range(schools):
        await make_org("school", slug=f"bench-school-{n}")
        teachers.append((await make_user("school", f"bench-school-{n}"))[0])
    # The next school day at nine; the event's one reminder is `days` before it, which
    # is in the past, and the bookings were made an hour before that (booking closes
    # 48 hours before the start, hence at least two days).
    starts_at = at(school_day(1), 9)
    days = max(2, (starts_at - utcnow()).days + 1)
    booked_at = starts_at - timedelta(days=days, hours=1)
    event = await create_event(
        EventIn(
            kind="factory_tour",
            title="Betriebsbesichtigung Uhrenfertigung",
            booking_mode="auto",
            waitlist=False,
            status="published",
            reminder_days=[days],
        ),
        by=host,
    )
    per_slot = math.ceil(count / slots)
    if per_slot * 3 + 10 > MAX_CAPACITY:
        raise SystemExit(f"--slots too small: at most {(MAX_CAPACITY - 10) // 3} bookings a slot")
    slot_ids = [
        await make_slot(host, event.id, capacity=per_slot * 3 + 10, starts_at=starts_at)
        for _ in range(slots)
    ]

    async def one(i: int) -> None:
        await place_booking(
            slot_ids[i % slots],
            class_visit(f"k{i}", pupils=2, adults=1),
            by=teachers[i % schools],
            now=booked_at,
        )

    await run_pool(count, concurrency, one)


# --------------------------------------------------------------------------- the runs


def start_workers(
    settings: Settings, processes: int, threads: int, log_path: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "OUTREACH_BROKER_NAMESPACE": settings.broker_namespace,
        "SMTP_URL": settings.smtp_url or "",
        "SECRET_KEY": settings.secret_key,
        "BASE_URL": settings.base_url,
        "OUTREACH_DATA_DIR": str(settings.data_dir),
        "DB_POOL_MAX": str(max(threads + 2, settings.db_pool_max)),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    outreach = Path(sys.executable).with_name("outreach")
    if outreach.exists():
        command = [str(outreach), "worker"]
    else:
        command = [sys.executable, "-m", "dramatiq", "workers.tasks"]
    command += ["--processes", str(processes), "--threads", str(threads)]
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT
        )


def wait_ready(
    process: subprocess.Popen[bytes], log_path: Path, processes: int, within: float = 90
) -> None:
    deadline = time.monotonic() + within
    while log_path.read_text(errors="replace").count("Worker process is ready") < processes:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the workers did not start; log:\n{_tail(log_path)}")
        time.sleep(0.1)


def stop_workers(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def worker_path(
    settings: Settings, sink: Sink, count: int, processes: int, threads: int, within: float
) -> tuple[float, dict[str, Any]]:
    """Seconds from the first handover to Redis to the sink's last mail, and its counts."""
    from workers import broker as workers_broker

    workers_broker.use_broker(workers_broker.build_broker(settings))
    from workers.notifications import deliver_notification

    def send_all(ids: list[int]) -> None:
        for notification_id in ids:
            deliver_notification.send(notification_id)

    log_path = settings.data_dir / "worker.log"
    sink.reset()
    sink_cpu = sink.stats()["cpu"]
    workers_cpu = _children_cpu()
    process = start_workers(settings, processes, threads, log_path)
    try:
        await asyncio.to_thread(wait_ready, process, log_path, processes)
        started = time.time()
        # What the sweep does, batch after batch: take the due rows, one message per id.
        while ids := await outbox.take_due(limit=HANDOVER_BATCH):
            await asyncio.to_thread(send_all, ids)
        deadline = time.monotonic() + within
        while (stats := sink.stats())["received"] < count or await _unsent() > 0:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(
                    f"only {stats['received']} of {count} mails within {within:.0f} s; "
                    f"worker log:\n{_tail(log_path)}"
                )
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # anything late, e.g. a second copy, shows in the counts
        stats = sink.stats()
    finally:
        await asyncio.to_thread(stop_workers, process)
    stats["sink_cpu"] = stats["cpu"] - sink_cpu
    # Start-up and shutdown included (about a second per process).
    stats["workers_cpu"] = _children_cpu() - workers_cpu
    return stats["last_at"] - started, stats


async def baseline(sink: Sink, mails: list[Mail]) -> tuple[float, dict[str, Any]]:
    """Seconds for a plain loop sending `mails` over one SMTP connection, and the counts."""
    sink.reset()
    sink_cpu = sink.stats()["cpu"]
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, timeout=30)
    await client.connect()
    started, cpu = time.perf_counter(), time.process_time()
    for sender, recipients, content in mails:
        await client.sendmail(sender, recipients, content)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    await client.quit()
    stats = sink.stats()
    stats["sink_cpu"], stats["client_cpu"] = stats["cpu"] - sink_cpu, cpu
    return seconds, stats


def _children_cpu() -> float:
    """CPU seconds of the waited-for child processes (and theirs): the workers, once stopped."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _unsent() -> int:
    return await N.count().where((N.kind == REMINDER) & (N.status != "sent"))


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _clear_namespace(redis_url: str, namespace: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# --------------------------------------------------------------------------- main

SETUP_MARK = "skipped: bench set-up"


async def main(args: argparse.Namespace, sink: Sink) -> None:
    count = args.reminders
    namespace = f"outreach-bench-{uuid4().hex[:12]}"
    settings = await fresh_postgres(DB_NAME)
    settings = dataclasses.replace(
        settings,
        redis_url=args.redis_url,
        smtp_url=sink.url,
        broker_namespace=namespace,
        embedded_worker=False,
    )
    set_settings(settings)
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    settings.data_dir.mkdir(parents=True)
    await db.start_pool(args.concurrency)
    try:
        started = time.perf_counter()
        await place_bookings(count, args.slots, args.schools, args.concurrency)
        booking_seconds = time.perf_counter() - started
        # place_booking queued its own mails (confirmed, to the host): out of the way,
        # so that only the reminders are due.
        await N.update({N.status: "sent", N.sent_at: utcnow(), N.last_error: SETUP_MARK}).where(
            N.status == "pending"
        )
        queued = await delivery.schedule_reminders(now=utcnow())
        assert queued == count, f"{queued} reminders queued, expected {count}"
        assert len(await outbox.due_ids(limit=count + 1)) == count

        work_seconds, stats = await worker_path(
            settings, sink, count, args.processes, args.threads, args.within
        )
        sent = await N.count().where(
            (N.kind == REMINDER) & (N.status == "sent") & (N.last_error == "")
        )
        others = await N.count().where((N.kind != REMINDER) & (N.last_error != SETUP_MARK))
        mails = sink.mails()
        base_seconds, base_stats = await baseline(sink, mails)
        del mails

        base_rate = count / base_seconds
        work_rate = count / work_seconds
        print(
            f"reminders: {count} (bookings: {count} on {args.slots} slots by {args.schools} "
            f"schools through place_booking, {booking_seconds:.0f} s of set-up)"
        )
        print(
            f"worker path: `outreach worker --processes {args.processes} --threads "
            f"{args.threads}`, Redis, PostgreSQL; aiosmtpd sink in its own process"
        )
        print(
            f"baseline, plain loop over one SMTP connection: {base_rate:7.0f} mails/s"
            f"  ({base_stats['connections']} connection)"
        )
        print(
            f"worker path, {args.processes} worker processes:           {work_rate:7.0f} mails/s"
            f"  ({stats['connections']} SMTP connections)"
        )
        print(f"ratio worker path / baseline:                  {work_rate / base_rate:7.3f}")
        print(
            f"CPU per mail, baseline: {1000 * base_stats['client_cpu'] / count:.2f} ms in the "
            f"loop, {1000 * base_stats['sink_cpu'] / count:.2f} ms in the sink; worker path: "
            f"{1000 * stats['workers_cpu'] / count:.2f} ms in the workers, "
            f"{1000 * stats['sink_cpu'] / count:.2f} ms in the sink"
        )
        print(f"({os.cpu_count()} CPUs; load average at the end {os.getloadavg()[0]:.1f})")
        print(
            f"check: the sink got {stats['received']} mails with {stats['distinct']} distinct "
            f"Message-IDs; the outbox has {sent} reminders sent, {others} other rows touched"
        )
        assert stats["received"] == stats["distinct"] == count, stats
        assert sent == count and others == 0, (sent, others)
        assert base_stats["received"] == base_stats["distinct"] == count, base_stats
    finally:
        await db.close_pool()
        await drop_postgres(DB_NAME)
        _clear_namespace(args.redis_url, namespace)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--slots", type=int, default=20)
    parser.add_argument("--schools", type=int, default=40, help="teachers of this many schools")
    parser.add_argument("--concurrency", type=int, default=16, help="set-up's database tasks")
    parser.add_argument("--within", type=float, default=300, help="give up after (seconds)")
    parser.add_argument(
        "--redis-url",
        # A Redis database of the benches (12), never db 0 where a real deployment may
        # live; the keys go under a namespace of this run and are removed after it.
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
    )
    args = parser.parse_args()
    sink = Sink()
    sink.start()  # before this process has an event loop or a pool
    try:
        asyncio.run(main(args, sink))
    finally:
        sink.stop()
