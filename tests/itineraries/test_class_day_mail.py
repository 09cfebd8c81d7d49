"""One mail per class day: the teacher is told a day's confirmations at once, with an
invitation for every visit; a visit that changes later is told on its own, once."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from outreach.booking import manage
from outreach.booking.schemas import PersonsIn
from outreach.booking.writes import cancel_booking, confirm_booking, decline_booking
from outreach.itineraries.views import get_itinerary
from outreach.notifications import services as notifications
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.feeds.helpers import vevents
from tests.itineraries.helpers import make_net, three_firm_day
from tests.itineraries.test_feed_and_mail import (
    HOST,
    book_day,
    deliver_all,
    mail_dir,
    teacher_mails,
)
from tests.notifications.helpers import calendar_of, text_of

__all__ = ["mail_dir"]  # the fixture, used by name

TEACHER = "lehrerin@schule.example"
SUBJECTS = {
    "de": "Ihr Firmentag ist bestätigt",
    "en": "Your class day is confirmed",
    "cs": "Váš den ve firmách je potvrzen",
}
CONFIRMED = {"de": "(bestätigt)", "en": "(confirmed)", "cs": "(potvrzeno)"}
DECLINED = {"de": "(abgelehnt)", "en": "(declined)", "cs": "(zamítnuto)"}


@pytest.fixture
async def net(db):
    return await make_net()


def invitation_parts(message: EmailMessage) -> tuple[list[bytes], list[EmailMessage]]:
    """The inline iTIP part's calendar, and the attached .ics files."""
    inline, attached = [], []
    for part in message.walk():
        if part.get_content_type() != "text/calendar":
            continue
        if part.get_content_disposition() == "attachment":
            attached.append(part)
        else:
            inline.append(part.get_content().encode())
    return inline, attached


@pytest.mark.parametrize("language", ["de", "en", "cs"])
async def test_a_three_firm_day_booked_at_once_is_one_mail_with_three_invitations(
    net, mail_dir: Path, language: str
):
    slots = await three_firm_day(net)
    it = await book_day(net, slots, language)
    ids = [v.booking_id for v in it.visits]
    await deliver_all()

    (mail,) = teacher_mails(mail_dir, set())
    assert str(mail["Subject"]).startswith(SUBJECTS[language])
    text = text_of(mail)
    for firm in ("Rehn GmbH", "Kaden GmbH", "Seifert GmbH"):
        assert f"{firm}: Tour bei" in text
    assert text.count(CONFIRMED[language]) == 3
    assert f"/school/itineraries/{it.id}" in text
    method, _calendar = calendar_of(mail)
    assert method == "REQUEST"
    (inline,), attached = invitation_parts(mail)
    events = vevents(inline)
    assert sorted(str(e["UID"]) for e in events) == sorted(f"booking-{i}@{HOST}" for i in ids)
    assert {str(e["STATUS"]) for e in events} == {"CONFIRMED"}
    # Outlook and Gmail read the first VEVENT only: each visit is attached on its own too.
    assert len(attached) == 3
    assert [len(vevents(p.get_content().encode())) for p in attached] == [1, 1, 1]
    assert attached[0].get_param("method") == "REQUEST"
    assert attached[0].get_filename() == "1-rehn-gmbh.ics"

    # Every visit's own confirmation is recorded as told in the day's mail.
    rows = await Notification.select(Notification.kind, Notification.last_error).where(
        Notification.recipient == TEACHER
    )
    assert sorted(r["kind"] for r in rows) == ["booking.confirmed"] * 3 + ["itinerary.confirmed"]
    assert all(
        r["last_error"].startswith("skipped: told in the class day's mail")
        for r in rows
        if r["kind"] == "booking.confirmed"
    )

    # Later one firm cancels its visit: one mail about that visit, which takes the
    # invitation the day's mail put into the calendar out again; told once.
    await cancel_booking(ids[1], "Maschinenausfall", by=net.firms["kaden"])
    await deliver_all()
    seen = {str(mail["Message-ID"])}
    (cancelled,) = teacher_mails(mail_dir, seen)
    assert "Maschinenausfall" in text_of(cancelled)
    method, calendar = calendar_of(cancelled)
    assert method == "CANCEL"
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == [f"booking-{ids[1]}@{HOST}"]
    await deliver_all()
    assert teacher_mails(mail_dir, seen) == []


async def test_a_day_waiting_for_hosts_is_told_when_the_last_answer_comes(net, mail_dir: Path):
    """Rehn confirms at once, Kaden and Seifert approve by hand, at different moments."""
    await net.tour("rehn")
    await net.tour("kaden", booking_mode="approval")
    await net.tour("seifert", booking_mode="approval")
    slots = {
        "rehn": await net.slot("rehn", 9),
        "kaden": await net.slot("kaden", 11),
        "seifert": await net.slot("seifert", 13),
    }
    it = await book_day(net, slots)
    rehn, kaden, seifert = (v.booking_id for v in it.visits)
    seen: set[str] = set()
    await deliver_all()
    # The requests to Kaden and Seifert are received; Rehn's confirmation waits for the day.
    received = teacher_mails(mail_dir, seen)
    assert sorted(str(m["Subject"]).split(":")[0] for m in received) == ["Buchung eingegangen"] * 2

    await confirm_booking(kaden, by=net.firms["kaden"])
    await deliver_all()
    assert teacher_mails(mail_dir, seen) == []  # Seifert has not answered yet

    await decline_booking(seifert, "Betriebsferien", by=net.firms["seifert"])
    await deliver_all()
    mails = {str(m["Subject"]).split(":")[0]: m for m in teacher_mails(mail_dir, seen)}
    assert set(mails) == {"Buchung abgelehnt", "Ihr Firmentag ist bestätigt"}
    assert "Betriebsferien" in text_of(mails["Buchung abgelehnt"])
    assert calendar_of(mails["Buchung abgelehnt"]) is None  # never invited: nothing to take out
    day = mails["Ihr Firmentag ist bestätigt"]
    text = text_of(day)
    assert text.count("(bestätigt)") == 2 and "Seifert GmbH: Tour bei seifert (abgelehnt)" in text
    (inline,), attached = invitation_parts(day)
    assert sorted(str(e["UID"]) for e in vevents(inline)) == sorted(
        f"booking-{i}@{HOST}" for i in (rehn, kaden)
    )
    assert len(attached) == 2

    # Nothing is told twice.
    await deliver_all()
    assert teacher_mails(mail_dir, seen) == []


async def test_a_confirmation_waits_while_the_days_mail_is_being_sent(net, mail_dir: Path):
    """Whether the day's mail invited a visit is known once it is sent: until then the
    visit's own confirmation waits (not counted as a failed attempt), then is skipped."""
    slots = await three_firm_day(net)
    it = await book_day(net, slots)
    N = Notification
    confirmations = [
        r["id"]
        for r in await N.select(N.id)
        .where((N.kind == "booking.confirmed") & (N.recipient == TEACHER))
        .order_by(N.id)
    ]
    assert await notifications.deliver(confirmations[0]) == "skipped"
    day = await N.select(N.id).where(N.dedupe_key == f"itinerary.confirmed:{it.id}").first()
    now = utcnow()
    assert await outbox.claim(day["id"], now) is not None  # a worker is on it

    assert await notifications.deliver(confirmations[1], now) == "retry"
    waiting = await N.select(N.status, N.attempts, N.due_at).where(N.id == confirmations[1]).first()
    assert waiting["status"] == "pending" and waiting["attempts"] == 0
    assert waiting["due_at"] > now

    later = now + timedelta(minutes=10)  # the first worker died; its lease ran out
    assert await notifications.deliver(day["id"], later) == "sent"
    for notification_id in confirmations[1:]:
        assert await notifications.deliver(notification_id, later) == "skipped"
    (mail,) = teacher_mails(mail_dir, set())
    (inline,), _attached = invitation_parts(mail)
    assert len(vevents(inline)) == 3


async def test_one_visit_of_a_day_changes_its_persons_and_only_its_host_is_told(
    net, mail_dir: Path
):
    """Allowed on purpose: a group may split (half the class at one firm) or a pupil
    falls ill before one visit; each host needs its own real number. The engine keeps
    the places exact; the other visits and the day's plan stay as they are."""
    slots = await three_firm_day(net)
    it = await book_day(net, slots)
    await deliver_all()
    seen: set[str] = set()
    teacher_mails(mail_dir, seen)
    kaden = it.visits[1].booking_id
    await manage.change_persons(kaden, PersonsIn(pupils=20), by=net.world.school_a)
    N = Notification
    rows = await N.select(N.kind, N.recipient, N.booking).where(
        N.kind.is_in(["booking.changed", "host.booking_changed"])
    )
    assert sorted((r["kind"], r["recipient"], r["booking"]) for r in rows) == [
        ("booking.changed", TEACHER, kaden),
        ("host.booking_changed", "kontakt@kaden.example", kaden),
    ]
    await deliver_all()
    (changed,) = teacher_mails(mail_dir, seen)
    assert "bisher 26, jetzt 22" in text_of(changed)
    visits = (await get_itinerary(it.id, by=net.world.school_a)).visits
    assert [v.status for v in visits] == ["confirmed"] * 3
