"""The Dramatiq broker, chosen by the settings, and the in-process (embedded) worker.

- REDIS_URL set: a `RedisBroker`; `outreach worker` processes consume it, and the web
  process only sends to it (after a commit, see `start_embedded_worker`).
- no REDIS_URL (embedded default): a `StubBroker` and a `dramatiq.Worker` running in
  threads of the web process, plus the scheduler as a task on the web's loop.

Each process owns its database pool: an asyncpg pool is bound to the loop it was made
on. Worker processes open theirs on Dramatiq's loop (`DatabasePool`); the embedded
worker runs every service call on the web's loop instead (`on_home_loop`), so the one
pool of the web process serves it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import dramatiq
from dramatiq import Broker, Middleware, Worker
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO
from redis import Redis

from outreach import config, db
from outreach.outbox import services as outbox
from workers.scheduler import run_scheduler

if TYPE_CHECKING:
    from outreach.config import Settings

__all__ = [
    "DatabasePool",
    "build_broker",
    "dispatch",
    "get_broker",
    "on_home_loop",
    "start_embedded_worker",
    "stop_embedded_worker",
    "use_broker",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

EMBEDDED_THREADS = 2

_broker: Broker | None = None
_home_loop: asyncio.AbstractEventLoop | None = None
_closing = False
_in_flight: set[concurrent.futures.Future[Any]] = set()


@dataclass
class _Embedded:
    worker: Worker
    stop: asyncio.Event
    scheduler: asyncio.Task[None]


_embedded: _Embedded | None = None


# --------------------------------------------------------------------------- the broker


def build_broker(settings: Settings, *, namespace: str | None = None) -> Broker:
    broker: Broker
    if settings.redis_url:
        # Timeouts: with Redis gone, a send fails in seconds instead of hanging a request.
        client = Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=10)
        # Prefix of every Redis key; tests and side-by-side deployments set their own.
        broker = RedisBroker(client=client, namespace=namespace or settings.broker_namespace)
    else:
        broker = StubBroker()
    broker.add_middleware(AsyncIO())
    return broker


def get_broker() -> Broker:
    """This process's broker, built from the settings on first use."""
    global _broker
    if _broker is None:
        use_broker(build_broker(config.get_settings()))
    assert _broker is not None
    return _broker


def use_broker(broker: Broker) -> Broker:
    """Make `broker` the process's broker and bind our actors to it (tests switch brokers)."""
    global _broker
    _broker = broker
    dramatiq.set_broker(broker)
    # Imported here: those modules ask get_broker() when they are first loaded.
    from workers import feeds, notifications

    # getattr: a module still being imported (it called get_broker()) declares itself.
    for actor in (*getattr(notifications, "ACTORS", ()), *getattr(feeds, "ACTORS", ())):
        actor.broker = broker
        broker.declare_actor(actor)
    return broker


async def dispatch(ids: Sequence[int]) -> None:
    """The outbox's dispatcher: one delivery message per id."""
    # Imported here: the actor declares itself on the broker this module builds.
    from workers.notifications import deliver_notification

    def send_all() -> None:
        for notification_id in ids:
            deliver_notification.send(notification_id)

    # A Redis send blocks; keep it off the web's loop.
    await asyncio.to_thread(send_all)


class DatabasePool(Middleware):
    """Opens this worker process's pool on Dramatiq's event loop, closes it at the end.

    Add it after `AsyncIO`: Dramatiq runs `after_*` hooks in reverse order, so the pool
    then opens once the loop runs and closes before the loop stops.
    """

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        pool_size = config.get_settings().db_pool_max
        _loop_thread().run_coroutine(db.start_pool(pool_size))

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        _loop_thread().run_coroutine(db.close_pool())


def _loop_thread() -> Any:
    thread = get_event_loop_thread()
    if thread is None:
        raise RuntimeError("the AsyncIO middleware must be on the broker")
    return thread


# --------------------------------------------------------------------------- embedded


def start_embedded_worker(settings: Settings | None = None) -> None:
    """Call from the web app's start-up (inside its running loop).

    Always connects the outbox (`outbox.set_dispatcher`) to the broker. With no REDIS_URL it
    also starts the in-process worker and the scheduler; with Redis the separate
    `outreach worker` and `outreach scheduler` processes do that.
    """
    global _embedded, _home_loop, _closing
    settings = settings or config.get_settings()
    loop = asyncio.get_running_loop()
    broker = get_broker()
    outbox.set_dispatcher(dispatch)
    if not settings.embedded_worker or _embedded is not None:
        return
    _home_loop, _closing = loop, False
    worker = Worker(broker, worker_threads=EMBEDDED_THREADS, worker_timeout=500)
    worker.start()
    stop = asyncio.Event()
    task = loop.create_task(run_scheduler(stop, direct=True), name="outreach-scheduler")
    _embedded = _Embedded(worker=worker, stop=stop, scheduler=task)
    log.info("embedded worker and scheduler started")


def stop_embedded_worker() -> None:
    """Call from the web app's shutdown. Unsent rows stay in the outbox for next time."""
    global _embedded, _home_loop, _closing
    outbox.set_dispatcher(None)
    embedded, _embedded = _embedded, None
    if embedded is None:
        return
    embedded.stop.set()
    embedded.scheduler.cancel()
    # This runs on the home loop, so calls waiting for it cannot finish: release them.
    _closing, _home_loop = True, None
    for future in list(_in_flight):
        future.cancel()
    embedded.worker.stop(timeout=10_000)
    _closing = False
    log.info("embedded worker and scheduler stopped")


async def on_home_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a service call on the web's loop in embedded mode, else right here."""
    home = _home_loop
    if _closing:
        coro.close()
        raise RuntimeError("the embedded worker is stopping")
    if home is None or home is asyncio.get_running_loop():
        return await coro
    future = asyncio.run_coroutine_threadsafe(coro, home)
    _in_flight.add(future)
    future.add_done_callback(_in_flight.discard)
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        if future.cancelled() and _closing:
            raise RuntimeError("the embedded worker stopped during the call") from None
        raise
