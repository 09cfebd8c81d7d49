"""A small HTTP/1.1 keep-alive load client for the benchmarks, and server processes.

Plain asyncio streams: on a 2-core machine a full client library (httpx) spends more CPU
per request than the server does, and the figures would measure the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
            lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
            if body or method in ("POST", "PATCH", "PUT"):
                lines.append(f"Content-Length: {len(body)}")
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            try:
                return await self._read()
            except (asyncio.IncompleteReadError, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _read(self) -> Answer:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            body = b"".join(chunks)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Answer(status, headers, body)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    """Latencies (seconds) and errors of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def add(self, seconds: float, ok: bool, what: str = "") -> None:
        self.latencies.append(seconds)
        if not ok:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(what)

    def quantile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[int(q * 1000) - 1]

    def line(self, name: str, seconds: float) -> str:
        n = len(self.latencies)
        return (
            f"{name:<12} {n:>8} req {n / seconds:>9.0f} req/s   p50 {self.quantile(0.5) * 1e3:7.1f}"
            f" ms   p95 {self.quantile(0.95) * 1e3:7.1f} ms   p99 {self.quantile(0.99) * 1e3:7.1f}"
            f" ms   errors {self.errors}"
        )


async def drive(
    host: str,
    port: int,
    connections: int,
    seconds: float,
    one: Callable[[Connection, int], Awaitable[None]],
) -> float:
    """Run `one(connection, i)` on `connections` keep-alive connections for `seconds`."""
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def loop() -> None:
        conn = Connection(host, port)
        try:
            while time.perf_counter() < deadline:
                await one(conn, next(counter))
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(connections)))
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_process(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A server or worker process in its own process group, its output in `log`."""
    return subprocess.Popen(
        argv,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until_up(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        with (
            contextlib.suppress(OSError),
            urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"server on port {port} did not come up in {timeout} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (server and its worker processes), then wait."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


PYTHON = sys.executable
