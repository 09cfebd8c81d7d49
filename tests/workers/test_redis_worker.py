"""Production wiring: the outbox relayed through the real Redis to real Dramatiq workers.

Each test uses its own Redis key namespace and deletes only its own keys. Without
Redis these tests skip on a developer's machine and fail on CI (CI=true).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from dramatiq import Broker, Worker
from redis import Redis
from redis.exceptions import RedisError

from outreach.config import Settings, set_settings
from outreach.db import write_transaction
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from tests.notifications.helpers import SmtpSink, make_booking, wait_until, with_settings
from tests.support import TEST_REDIS_URL, require_service
from workers import broker as workers_broker
from workers.scheduler import run_scheduler, run_sweep_once

N = Notification
pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> str:
    client = Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except RedisError as exc:
        require_service("Redis", f"{TEST_REDIS_URL}: {exc}")
    finally:
        client.close()
    return TEST_REDIS_URL


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    value = f"outreach-test-{uuid4().hex[:12]}"
    yield value
    client = Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{value}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_settings(
    smtp_settings: Settings, redis_url: str, namespace: str
) -> Iterator[tuple[Settings, Broker]]:
    value = with_settings(smtp_settings, redis_url=redis_url, embedded_worker=False)
    broker = workers_broker.use_broker(workers_broker.build_broker(value, namespace=namespace))
    yield value, broker
    workers_broker.use_broker(workers_broker.build_broker(smtp_settings))
    set_settings(smtp_settings)


@pytest.fixture
def worker(redis_settings: tuple[Settings, Broker]) -> Iterator[Worker]:
    running = Worker(redis_settings[1], worker_threads=4, worker_timeout=100)
    running.start()
    yield running
    running.stop(timeout=10_000)


async def _queue(count: int) -> list[int]:
    ids = []
    async with write_transaction():
        for _ in range(count):
            booked = await make_booking()
            notification_id = await outbox.enqueue(
                "booking.confirmed", booking_id=booked.booking_id, recipient=booked.contact_email
            )
            assert notification_id is not None
            ids.append(notification_id)
    return ids


async def _all_sent() -> bool:
    return await N.count().where(N.status != "sent") == 0


async def test_the_commit_hands_over_through_redis_to_a_real_worker(
    redis_settings: tuple[Settings, Broker], worker: Worker, smtp_sink: SmtpSink
) -> None:
    workers_broker.start_embedded_worker(redis_settings[0])  # with Redis: the dispatcher only
    try:
        ids = await _queue(5)
        await wait_until(_all_sent, within=30)
    finally:
        workers_broker.stop_embedded_worker()
    assert len(ids) == 5
    assert len(set(smtp_sink.message_ids())) == len(smtp_sink.messages) == 5


async def test_two_schedulers_through_redis_send_each_mail_once(
    redis_settings: tuple[Settings, Broker], worker: Worker, smtp_sink: SmtpSink
) -> None:
    await _queue(12)  # no dispatcher registered: only the sweep finds them
    stop = asyncio.Event()
    schedulers = [
        asyncio.create_task(run_scheduler(stop, interval=0.1, direct=False)) for _ in range(2)
    ]
    try:
        await wait_until(_all_sent, within=30)
    finally:
        stop.set()
        await asyncio.gather(*schedulers)
    assert len(smtp_sink.messages) == 12
    assert len(set(smtp_sink.message_ids())) == 12


async def test_with_redis_down_commits_succeed_and_the_sweep_sends_later(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    down = with_settings(smtp_settings, redis_url="redis://127.0.0.1:1/0", embedded_worker=False)
    workers_broker.use_broker(workers_broker.build_broker(down, namespace=f"down-{uuid4().hex}"))
    workers_broker.start_embedded_worker(down)
    try:
        started = time.monotonic()
        ids = await _queue(3)  # its commit hands them over: must not raise
        assert time.monotonic() - started < outbox.DISPATCH_TIMEOUT_SECONDS + 1
    finally:
        workers_broker.stop_embedded_worker()
        workers_broker.use_broker(workers_broker.build_broker(smtp_settings))
        set_settings(smtp_settings)
    assert await outbox.due_ids() == ids
    result = await run_sweep_once()
    assert result.outcomes == {"sent": 3}
    assert len(smtp_sink.messages) == 3


@pytest.mark.slow
async def test_the_outreach_worker_process_delivers_from_redis(
    redis_settings: tuple[Settings, Broker], namespace: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """End to end: `outreach worker` as a separate process, the real Redis, real SMTP."""
    settings, _ = redis_settings
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url or "",
        "OUTREACH_BROKER_NAMESPACE": namespace,
        "OUTREACH_DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
        "BASE_URL": settings.base_url,
        "SMTP_URL": settings.smtp_url or "",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    log_path = tmp_path / "worker.log"
    outreach = Path(sys.executable).with_name("outreach")
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(outreach), "worker", "--processes", "1", "--threads", "2",
            env=env, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        workers_broker.start_embedded_worker(settings)  # the web side: dispatcher only
        ids = await _queue(4)
        try:
            await wait_until(_all_sent, within=60, interval=0.2)
        except AssertionError:
            pytest.fail(f"the worker sent nothing; its log:\n{log_path.read_text()[-3000:]}")
    finally:
        workers_broker.stop_embedded_worker()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
    assert len(ids) == 4
    assert len(set(smtp_sink.message_ids())) == len(smtp_sink.messages) == 4
