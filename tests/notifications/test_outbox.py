"""The outbox: queued once, claimed once, sent once, retried with backoff, never lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from outreach.config import Settings
from outreach.db import write_transaction
from outreach.notifications import services
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.notifications.helpers import Booked, SmtpSink, make_booking, read_eml_dir, with_settings

N = Notification


async def _queue(kind: str = "booking.confirmed", **extra: object) -> int:
    booked = await make_booking(**extra)  # type: ignore[arg-type]
    async with write_transaction():
        notification_id = await outbox.enqueue(
            kind,
            booking_id=booked.booking_id,
            recipient=booked.contact_email,
            language="de",
            payload={},
            instant=utcnow(),
        )
    assert notification_id is not None
    return notification_id


async def _row(notification_id: int) -> dict:
    row = await N.select().where(N.id == notification_id).first()
    assert row is not None
    return row


async def test_the_same_change_is_queued_once(mail_settings: Settings) -> None:
    booked = await make_booking()
    instant = utcnow()
    args = {"booking_id": booked.booking_id, "recipient": booked.contact_email, "payload": {}}
    async with write_transaction():
        first = await outbox.enqueue("booking.confirmed", instant=instant, **args)
        again = await outbox.enqueue("booking.confirmed", instant=instant, **args)
        later = await outbox.enqueue("booking.confirmed", instant=instant + timedelta(1), **args)
    assert first is not None and later is not None
    assert again is None
    assert await N.count() == 2


async def test_enqueue_joins_the_callers_transaction(mail_settings: Settings) -> None:
    booked = await make_booking()
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await outbox.enqueue(
                "booking.confirmed", booking_id=booked.booking_id, recipient="a@b.example"
            )
            raise RuntimeError("the booking failed")
    assert await N.count() == 0


async def test_unknown_kind_is_a_programming_error(mail_settings: Settings) -> None:
    with pytest.raises(ValueError, match="unknown notification kind"):
        await outbox.enqueue("booking.exploded", booking_id=None, recipient="a@b.example")


async def test_delivery_writes_one_eml_file_and_marks_the_row_sent(
    mail_settings: Settings,
) -> None:
    notification_id = await _queue()
    assert await services.deliver(notification_id) == "sent"
    assert await services.deliver(notification_id) == "not_claimed"
    row = await _row(notification_id)
    assert row["status"] == "sent" and row["sent_at"] is not None and row["attempts"] == 1
    mails = read_eml_dir(mail_settings.mail_dir)
    assert len(mails) == 1
    assert not [p for p in mail_settings.mail_dir.iterdir() if p.name.startswith(".tmp")]


async def test_two_workers_racing_on_one_row_send_one_mail(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    notification_id = await _queue()
    outcomes = await asyncio.gather(*(services.deliver(notification_id) for _ in range(4)))
    assert sorted(outcomes) == ["not_claimed"] * 3 + ["sent"]
    assert len(smtp_sink.handler.received) == 1


async def test_racing_on_many_rows_sends_each_mail_once(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    ids = [await _queue() for _ in range(6)]
    await asyncio.gather(*(services.deliver(i) for i in ids), *(services.deliver(i) for i in ids))
    assert len(smtp_sink.handler.received) == 6
    assert len(set(smtp_sink.message_ids())) == 6


async def test_a_killed_worker_loses_the_claim_after_the_lease(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    notification_id = await _queue()
    now = utcnow()
    # A worker claims the row and dies before sending.
    assert await outbox.claim(notification_id, now) is not None
    assert await services.deliver(notification_id, now + timedelta(minutes=1)) == "not_claimed"
    assert await outbox.due_ids(now + timedelta(minutes=1)) == []
    later = now + outbox.LEASE + timedelta(seconds=1)
    assert await outbox.due_ids(later) == [notification_id]
    assert await services.deliver(notification_id, later) == "sent"
    assert len(smtp_sink.handler.received) == 1
    assert (await _row(notification_id))["attempts"] == 2


async def test_a_refusing_server_gets_every_mail_after_retries(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    ids = [await _queue() for _ in range(3)]
    smtp_sink.handler.refuse_data = 4  # 451 to the first four attempts, then it recovers
    now = utcnow()
    outcomes = [await services.deliver(i, now) for i in ids]
    assert outcomes == ["retry", "retry", "retry"]
    row = await _row(ids[0])
    assert row["status"] == "pending" and "451" in row["last_error"]
    assert row["due_at"] == now + outbox.BACKOFF_BASE
    # Not due again before the backoff has passed.
    assert await outbox.due_ids(now + timedelta(seconds=29)) == []
    for _ in range(6):
        now += timedelta(minutes=2)
        for notification_id in await outbox.due_ids(now):
            await services.deliver(notification_id, now)
    statuses = [(await _row(i))["status"] for i in ids]
    assert statuses == ["sent", "sent", "sent"]
    assert len(smtp_sink.handler.received) == 3
    assert len(set(smtp_sink.message_ids())) == 3


def test_backoff_doubles_up_to_an_hour() -> None:
    assert outbox.backoff(1) == timedelta(seconds=30)
    assert outbox.backoff(2) == timedelta(seconds=60)
    assert outbox.backoff(5) == timedelta(minutes=8)
    assert outbox.backoff(20) == timedelta(hours=1)


async def test_after_the_last_attempt_the_row_fails_and_the_admin_sees_it(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    notification_id = await _queue()
    smtp_sink.handler.refuse_data = 1000
    now = utcnow()
    outcomes = []
    for _ in range(outbox.MAX_ATTEMPTS):
        outcomes.append(await services.deliver(notification_id, now))
        now += outbox.BACKOFF_CAP
    assert outcomes == ["retry"] * (outbox.MAX_ATTEMPTS - 1) + ["failed"]
    assert await services.deliver(notification_id, now) == "not_claimed"
    failed = await outbox.list_failed()
    assert [f["id"] for f in failed] == [notification_id]
    assert failed[0]["attempts"] == outbox.MAX_ATTEMPTS and "451" in failed[0]["last_error"]
    smtp_sink.handler.refuse_data = 0
    assert await outbox.requeue(notification_id, now)
    assert await services.deliver(notification_id, now) == "sent"
    assert await outbox.list_failed() == []


async def test_a_recipient_refused_for_good_fails_at_once(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    notification_id = await _queue(contact_email="nobody@schule.example")
    smtp_sink.handler.reject_rcpt.add("nobody@schule.example")
    assert await services.deliver(notification_id) == "failed"
    row = await _row(notification_id)
    assert row["attempts"] == 1 and "recipient refused" in row["last_error"]


async def test_a_mail_server_that_is_down_is_retried(settings: Settings, db: str) -> None:
    with_settings(settings, smtp_url="smtp://127.0.0.1:1")  # nothing listens there
    notification_id = await _queue()
    assert await services.deliver(notification_id) == "retry"
    assert (await _row(notification_id))["status"] == "pending"


async def _enqueue_for(booked: Booked) -> int | None:
    return await outbox.enqueue(
        "booking.confirmed",
        booking_id=booked.booking_id,
        recipient=booked.contact_email,
        payload={},
        instant=utcnow(),
    )


async def test_the_commit_hands_over_the_transactions_ids_and_never_raises(
    mail_settings: Settings,
) -> None:
    handed: list[list[int]] = []

    async def dispatcher(ids: object) -> None:
        handed.append(list(ids))  # type: ignore[call-overload]

    outbox.set_dispatcher(dispatcher)
    bookings = [await make_booking() for _ in range(3)]
    async with write_transaction():
        first = await _enqueue_for(bookings[0])
        second = await _enqueue_for(bookings[1])
        assert handed == []  # not committed yet: nothing to deliver
    assert handed == [[first, second]]  # one hand-over for the transaction
    async with write_transaction():
        pass
    assert handed == [[first, second]]  # nothing new: nothing handed over

    with pytest.raises(RuntimeError):
        async with write_transaction():
            await _enqueue_for(bookings[2])
            raise RuntimeError("the change fails")
    assert handed == [[first, second]]  # rolled back: its row is gone, nothing handed

    async def broken(ids: object) -> None:
        raise ConnectionError("redis is down")

    outbox.set_dispatcher(broken)
    async with write_transaction():  # logs, does not raise
        third = await _enqueue_for(bookings[2])
    assert await outbox.due_ids() == [first, second, third]


async def test_the_sweep_hand_over_holds_rows_back_and_takes_stale_claims(
    mail_settings: Settings,
) -> None:
    ids = [await _queue() for _ in range(3)]
    now = utcnow()
    assert await outbox.claim(ids[0], now) is not None  # then the worker dies
    assert await outbox.take_due(now) == ids[1:]
    assert await outbox.take_due(now) == []  # handed over: not again for a while
    later = now + outbox.LEASE + timedelta(seconds=1)
    assert await outbox.take_due(later) == ids  # hold and lease ran out
    # A handed-over row is still claimable by the worker that got the message.
    assert await services.deliver(ids[1], later) == "sent"


async def test_concurrent_hand_overs_give_each_row_to_one_sweep(mail_settings: Settings) -> None:
    ids = [await _queue() for _ in range(8)]
    taken = await asyncio.gather(*(outbox.take_due() for _ in range(3)))
    assert sorted(i for batch in taken for i in batch) == ids


async def test_the_admin_reads_stored_mails_and_nothing_else(mail_settings: Settings) -> None:
    from outreach.notifications.transports import list_stored_mails, read_stored_mail

    assert list_stored_mails(mail_settings) == []
    await services.deliver(await _queue())
    (name,) = list_stored_mails(mail_settings)
    raw = read_stored_mail(mail_settings, name)
    assert raw is not None and b"Message-ID: <notification-" in raw
    (mail_settings.data_dir / "secret_key").write_text("hush")
    for bad in ("../secret_key", "../mail/" + name, ".tmp-x.eml", "x.txt", "nope.eml"):
        assert read_stored_mail(mail_settings, bad) is None
