"""Parts the fault tests break on purpose, and how they count what survived.

Every part is real and belongs to the test alone: a redis-server on its own port, a TCP
proxy in front of PostgreSQL, an aiosmtpd server, `uvicorn` and `outreach worker`
processes. The shared PostgreSQL and Redis of the machine are never stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from redis import Redis
from redis.exceptions import RedisError

from outreach.booking.tables import Booking
from outreach.outbox.services import SKIPPED_PREFIX
from outreach.outbox.tables import Notification
from tests.support import TEST_SECRET, postgres_dsn, require_service

__all__ = [
    "BASE_URL",
    "Counts",
    "MailSink",
    "PgProxy",
    "RedisServer",
    "Service",
    "free_port",
    "mailed_ids",
    "outreach_env",
    "record",
    "run_once",
    "start_scheduler",
    "start_together",
    "start_uvicorn",
    "start_worker",
    "stored_bookings",
    "wait_for",
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
BASE_URL = "http://outreach.test"
_NOTIFICATION_ID = re.compile(r"<notification-(\d+)\.")

RECORDED: list[Counts] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.2, what: str = ""
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what or check}")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------- counting


@dataclass
class Counts:
    """One line per fault: what was sent, what the database kept, what reached the mailbox."""

    fault: str
    sent: int  # requests (or notices) the client sent and the service accepted
    stored: int  # bookings (or notices) the database holds afterwards
    notifications: int  # rows in the outbox that were to be mailed
    mails: int  # messages the SMTP server accepted
    lost: int  # accepted by the service but missing from the database or the mailbox
    duplicated: int  # messages accepted more than once (same Message-ID)
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        notes = " ".join(f"{k}={v}" for k, v in self.extra.items())
        return (
            f"{self.fault}: sent={self.sent} stored={self.stored} "
            f"notifications={self.notifications} mails={self.mails} "
            f"lost={self.lost} duplicated={self.duplicated}" + (f" ({notes})" if notes else "")
        )


def record(counts: Counts) -> Counts:
    """Print the line, keep it for the run's summary and in tests/artifacts/faults.jsonl."""
    RECORDED.append(counts)
    print(counts.line())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "faults.jsonl").open("a") as out:
        out.write(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              **asdict(counts)}) + "\n")  # fmt: skip
    return counts


async def stored_bookings() -> int:
    return await Booking.count()


async def mailed_ids() -> set[int]:
    """Outbox rows that are to reach the mailbox (all of them but skipped ones)."""
    rows = await Notification.select(Notification.id, Notification.last_error)
    return {r["id"] for r in rows if not (r["last_error"] or "").startswith(SKIPPED_PREFIX)}


# --------------------------------------------------------------------------- SMTP


class _SlowHandler:
    """Keeps every mail, then answers `delay` seconds later (a relay slow to commit).

    Like a real relay that writes the mail to its queue and only then says 250, the mail
    counts as taken before the answer: a client that dies in between never hears it,
    which is the window in which a mail can go out twice (RFC 1047).
    """

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink.accept(envelope.original_content or envelope.content)
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        return "250 Message accepted for delivery"


class MailSink:
    """A real SMTP server (aiosmtpd) that can be stopped and started on the same port."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.port = free_port()
        self.delay = delay
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def accept(self, raw: bytes) -> None:
        message = message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self._ids.append(str(message["Message-ID"]))

    def start(self) -> None:
        self._controller = Controller(_SlowHandler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def message_ids(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    def notification_ids(self) -> Counter[int]:
        """How often each notification's mail arrived (read from its Message-ID)."""
        found: Counter[int] = Counter()
        for message_id in self.message_ids:
            match = _NOTIFICATION_ID.match(message_id)
            assert match, f"a mail that no notification sent: {message_id}"
            found[int(match.group(1))] += 1
        return found

    def tally(self, expected: set[int]) -> tuple[int, int]:
        """(lost, duplicated) against the notifications that were to be mailed."""
        arrived = self.notification_ids()
        assert set(arrived) <= expected, f"mails of unknown notices: {set(arrived) - expected}"
        lost = len(expected - set(arrived))
        duplicated = sum(n - 1 for n in arrived.values())
        return lost, duplicated


# --------------------------------------------------------------------------- Redis


class RedisServer:
    """A redis-server of the test's own, on its own port, without persistence."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            require_service("redis-server", "the binary is not installed")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            str(binary), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.directory),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await wait_for(self._answers, within=10, interval=0.05, what="redis-server starts")

    async def _answers(self) -> bool:
        client = Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except RedisError:
            return False
        finally:
            client.close()

    async def kill(self) -> None:
        """SIGKILL: whatever the server held in memory (queued messages) is gone."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._process = None


# --------------------------------------------------------------------------- PostgreSQL


class PgProxy:
    """A TCP proxy before PostgreSQL that can cut every connection and refuse new ones."""

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432) -> None:
        self.port = free_port()
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.connections = 0

    def dsn(self) -> str:
        real = postgres_dsn()
        return re.sub(r"@[^/]+/", f"@127.0.0.1:{self.port}/", real, count=1)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Stop listening (new connections are refused) and abort every open one."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self._upstream)
        except OSError:
            client.transport.abort()
            return
        self.connections += 1
        self._open.update((client, upstream))
        await asyncio.gather(
            _pipe(reader, upstream), _pipe(upstream_reader, client), return_exceptions=True
        )
        for writer in (client, upstream):
            self._open.discard(writer)
            writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.transport.abort()  # one side gone: the other goes too


# --------------------------------------------------------------------------- processes


def outreach_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """Environment of a real outreach process on the test's database."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SMTP_URL")}
    env.update(
        DATABASE_URL=postgres_dsn(),
        SECRET_KEY=TEST_SECRET,
        OUTREACH_DATA_DIR=str(data_dir),
        BASE_URL=BASE_URL,
        EMBEDDED_WORKER="false",
        RATE_LIMIT_PER_MINUTE="0",  # one client address sends the whole burst
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        LOG_FORMAT="text",  # the tests read the workers' log lines (retry times)
        TZ="UTC",  # log times compare with the UTC instants in the database
    )
    env.update(settings)
    return env


@dataclass
class Service:
    """A process started by a test, in its own process group, logging to a file."""

    name: str
    process: asyncio.subprocess.Process
    log: Path
    url: str = ""

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def kill_hard(self) -> None:
        """SIGKILL to the whole group (dramatiq's parent and its worker children)."""
        if self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, and SIGKILL after `grace` seconds."""
        if self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=grace)
                return
            except TimeoutError:
                pass
        self.kill_hard()
        await self.process.wait()


async def _spawn(name: str, args: list[str], env: Mapping[str, str], log: Path) -> Service:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *args, env=dict(env), stdout=out, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True, cwd=str(ROOT),
        )  # fmt: skip
    return Service(name, process, log)


def _outreach() -> str:
    return str(Path(sys.executable).with_name("outreach"))


async def start_uvicorn(env: Mapping[str, str], log: Path) -> Service:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "outreach.asgi:app", "--port", str(port),
            "--log-level", "warning"]  # fmt: skip
    service = await _spawn("web", args, env, log)
    service.url = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        if service.process.returncode is not None:
            raise AssertionError(f"the web process exited:\n{service.tail()}")
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{service.url}/health/live")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_for(up, within=60, what="the web process answers")
    return service


async def start_worker(env: Mapping[str, str], log: Path, *, threads: int = 2) -> Service:
    """`outreach worker` with one process; ready when Dramatiq says so in its log."""
    args = [_outreach(), "worker", "--processes", "1", "--threads", str(threads)]
    service = await _spawn("worker", args, env, log)

    async def ready() -> bool:
        if service.process.returncode is not None:
            raise AssertionError(f"the worker exited:\n{service.tail()}")
        return "ready for action" in service.tail(100_000)

    await wait_for(ready, within=60, what="the worker is ready")
    return service


async def start_together(*starting: Awaitable[Service]) -> list[Service]:
    """Start processes side by side: each imports the app for seconds, and one start
    need not wait for the other. If one fails, those that started are stopped."""
    results = await asyncio.gather(*starting, return_exceptions=True)
    services = [r for r in results if isinstance(r, Service)]
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        for service in services:
            await service.stop(grace=5)
        raise failed[0]
    return services


async def start_scheduler(env: Mapping[str, str], log: Path) -> Service:
    """`outreach scheduler`: ticks every SCHEDULER_INTERVAL seconds, sweeps via the broker."""
    return await _spawn("scheduler", [_outreach(), "scheduler"], env, log)


async def run_once(env: Mapping[str, str], log: Path) -> None:
    """`outreach scheduler --once`: one sweep in its own process, to the end."""
    service = await _spawn("scheduler", [_outreach(), "scheduler", "--once"], env, log)
    code = await asyncio.wait_for(service.process.wait(), timeout=120)
    assert code == 0, f"outreach scheduler --once exited {code}:\n{service.tail()}"
