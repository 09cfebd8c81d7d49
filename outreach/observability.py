"""Operability: JSON log lines with a request id, Prometheus metrics, and draining.

- Logs: one JSON object per line (time, level, logger, message, request_id and, for the
  access line, method, path, status, duration_ms). The request id comes from a
  well-formed incoming `X-Request-ID` or is made here; it goes back in the response
  header and, through a context variable, into every log line of that request.
- Metrics: prometheus-client. With several server processes (`outreach serve --workers
  N`) every process writes its samples to files in PROMETHEUS_MULTIPROC_DIR and whichever
  process answers `/metrics` adds them up, so a scrape sees the whole server, not one
  process at random. Gauges that describe the database (outbox depth, notices by status)
  are read from the database at scrape time, so they are right across every process
  and machine, workers included.
- Draining: on SIGTERM readiness answers 503 at once; the server stops after
  SHUTDOWN_DRAIN_SECONDS so that a load balancer sees it before connections are refused.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from types import FrameType
from typing import Any, TextIO

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from outreach.outbox.services import outbox_counts

__all__ = [
    "BOOKINGS_PLACED",
    "FEED_RENDERS",
    "NOTIFICATION_DELIVERIES",
    "RequestObservability",
    "current_request_id",
    "draining",
    "install_drain_on_sigterm",
    "log_format_for",
    "redact_path",
    "render_metrics",
    "setup_logging",
]

log = logging.getLogger("outreach.access")

# --------------------------------------------------------------------------- request id

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "outreach_request_id", default=None
)
# Letters, digits and . _ : - (a UUID fits); anything else could forge log lines.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def current_request_id() -> str | None:
    return _request_id.get()


def request_id_from(header: bytes | None) -> str:
    """The caller's id if it is well-formed, else a new one."""
    if header:
        candidate = header.decode("latin-1")
        if _WELL_FORMED.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- logging

_ACCESS_FIELDS = ("method", "path", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the request id of the task that logs, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get(),
        }
        for name in _ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """One line per record for people: control characters (say, a %0a in a requested
    path) are escaped, so a caller cannot forge a log line of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The message line only: a traceback after it keeps its own line breaks.
        return super().formatMessage(record).translate(_CONTROL_ESCAPES)


# Every C0 control character but the tab, and DEL, as a visible escape.
_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if c != 0x09}


def log_format_for(setting: str | None, stream: TextIO) -> str:
    """LOG_FORMAT's choice, else readable text for a person at a terminal and JSON lines
    for whatever collects the output of a service."""
    if setting is not None:
        return setting
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # a replaced or closed stream
        return "json"


def setup_logging(log_format: str | None = None, level: str | None = None) -> None:
    """Configure the root logger once per process (the CLI and each server process);
    `log_format` None picks by whether stderr is a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format_for(log_format, sys.stderr) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL") or "INFO").upper())
    logging.getLogger("piccolo").setLevel(logging.WARNING)
    # Our access line replaces the servers' own; their errors still come through.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "_granian"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


# --------------------------------------------------------------------------- metrics

REQUESTS = Counter(
    "outreach_http_requests_total",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "outreach_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BOOKINGS_PLACED = Counter(
    "outreach_bookings_placed_total", "Bookings placed, by the status they got", ["status"]
)
NOTIFICATION_DELIVERIES = Counter(
    "outreach_notification_deliveries_total",
    "Delivery attempts made by this server's processes, by outcome (sent, failed, ...)",
    ["outcome"],
)
FEED_RENDERS = Counter(
    "outreach_feed_renders_total",
    "Calendar feed documents rendered and stored, by scope",
    ["scope"],
)
UNMATCHED = "<unmatched>"  # one label for every unknown path: no label per probe URL


class _Snapshot(Collector):
    """Gauges computed at scrape time and handed in ready-made."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


async def _database_gauges() -> list[Metric]:
    counts, due = await outbox_counts()
    by_status = GaugeMetricFamily(
        "outreach_notifications", "Notices in the outbox, by status", labels=["status"]
    )
    for status, number in sorted(counts.items()):
        by_status.add_metric([status], number)
    depth = GaugeMetricFamily(
        "outreach_outbox_queue_depth", "Notices due for delivery and not yet sent"
    )
    depth.add_metric([], due)
    return [by_status, depth]


async def render_metrics() -> tuple[bytes, str]:
    """The exposition text: this server's counters plus the database gauges."""
    registry: Collector
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(_Snapshot(list(registry.collect()) + await _database_gauges()))
    return generate_latest(scrape), CONTENT_TYPE_LATEST


def prepare_multiprocess_dir(path: str) -> None:
    """A clean directory for a new server: old files would add a past run's counts."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))


# --------------------------------------------------------------------------- middleware


# A private feed's URL is its secret: whoever reads the log must not be able to subscribe.
# (The benchmark's bare private feed, mounted with OUTREACH_BENCH_ROUTES=1, has one too.)
_PRIVATE_FEEDS = ("/feeds/private/", "/_bench/private/")


def redact_path(path: str) -> str:
    """The path as the access log writes it, with secrets in it replaced."""
    for prefix in _PRIVATE_FEEDS:
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            return prefix + "[redacted]"
    return path


class RequestObservability:
    """Outermost ASGI layer: request id, access log line, request metrics.

    It wraps Litestar's whole handler (see create_app), so 404s and errors are counted
    too; the route template is read after routing from the scope.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = request_id_from(header)
        token = _request_id.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or UNMATCHED
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            path = redact_path(scope["path"])
            log.info(
                "%s %s %d",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            _request_id.reset(token)


# --------------------------------------------------------------------------- draining

_draining = False


def draining() -> bool:
    return _draining


def install_drain_on_sigterm(delay: float) -> None:
    """Call on start-up, after the server set its handlers: SIGTERM marks us unready first.

    The server's own handler runs `delay` seconds later (at once for a second signal),
    and then lets requests in flight finish before the process exits.
    """
    import asyncio

    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:  # not the main thread: no signals to take over
        return
    if not callable(previous):
        return  # no server handler (tests) or one outside Python (granian)
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        global _draining
        if _draining or delay <= 0:
            _draining = True
            previous(signum, frame)
            return
        _draining = True
        logging.getLogger("outreach").info("SIGTERM: unready now, stopping in %.1f s", delay)
        loop.call_soon_threadsafe(loop.call_later, delay, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
