"""The embedded default: StubBroker and an in-process Dramatiq worker in the web process."""

from __future__ import annotations

from outreach.config import Settings
from outreach.db import write_transaction
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from tests.notifications.helpers import make_booking, read_eml_dir, wait_until
from workers import broker as workers_broker

N = Notification


async def _all_sent() -> bool:
    return await N.count().where(N.status != "sent") == 0


async def test_the_commit_hands_over_to_the_in_process_worker(mail_settings: Settings) -> None:
    assert mail_settings.embedded_worker and mail_settings.redis_url is None
    workers_broker.use_broker(workers_broker.build_broker(mail_settings))
    workers_broker.start_embedded_worker(mail_settings)
    try:
        booked = await make_booking()
        async with write_transaction():
            for kind in ("booking.confirmed", "host.booking_received"):
                recipient = booked.contact_email if kind.startswith("booking") else "k@f.example"
                await outbox.enqueue(kind, booking_id=booked.booking_id, recipient=recipient)
        await wait_until(_all_sent)
    finally:
        workers_broker.stop_embedded_worker()
    assert len(read_eml_dir(mail_settings.mail_dir)) == 2
    # Stopped: no dispatcher, rows wait in the outbox for the next start.
    booked = await make_booking()
    await outbox.enqueue("booking.waitlisted", booking_id=booked.booking_id, recipient="a@b.de")
    assert await outbox.due_ids() != []


async def test_stopping_twice_and_starting_again_is_harmless(mail_settings: Settings) -> None:
    workers_broker.use_broker(workers_broker.build_broker(mail_settings))
    workers_broker.start_embedded_worker(mail_settings)
    workers_broker.stop_embedded_worker()
    workers_broker.stop_embedded_worker()
    workers_broker.start_embedded_worker(mail_settings)
    try:
        booked = await make_booking()
        await outbox.enqueue(
            "booking.confirmed", booking_id=booked.booking_id, recipient=booked.contact_email
        )
        await wait_until(_all_sent)
    finally:
        workers_broker.stop_embedded_worker()
