"""A booked class day in the teacher's private feed (visits and travel legs, read by the
feed parsers), and the mail that tells the teacher a visit of the day fell away."""

from __future__ import annotations

from datetime import UTC
from email.message import EmailMessage
from pathlib import Path

import pytest

from outreach.accounts.services import feed_token_for
from outreach.booking.writes import cancel_booking
from outreach.config import Settings
from outreach.feeds import services as feeds
from outreach.itineraries.schemas import ItineraryIn
from outreach.itineraries.writes import book_itinerary, cancel_itinerary
from outreach.notifications import services as notifications
from outreach.outbox import services as outbox
from tests.factories import at
from tests.feeds.helpers import publish, vevents
from tests.feeds.parsers import icaljs_entries, icaljs_ready, with_icalendar, with_vobject
from tests.itineraries.helpers import make_net, three_firm_day
from tests.notifications.helpers import read_eml_dir, text_of, with_settings

HOST = "outreach.test"


@pytest.fixture
async def net(db):
    return await make_net()


async def book_day(net, slots: dict[str, int], language: str = "de"):
    return (
        await book_itinerary(
            ItineraryIn(
                slot_ids=[slots["rehn"], slots["kaden"], slots["seifert"]],
                class_label="8a",
                grade=8,
                pupils=24,
                adults=2,
                contact_email="lehrerin@schule.example",
                arrive_at="08:30",
                leave_by="15:00",
                language=language,
            ),
            by=net.world.school_a,
        )
    ).itinerary


async def private_feed(principal) -> bytes:  # type: ignore[no-untyped-def]
    return (await feeds.private_feed(await feed_token_for(by=principal))).body


def leg_uid(it_id: int, booking_id: int) -> str:
    return f"feed-itinerary-{it_id}-leg-{booking_id}@{HOST}"


async def test_the_teachers_feed_has_every_visit_and_leg_and_follows_cancellations(net):
    slots = await three_firm_day(net)
    it = await book_day(net, slots)
    rehn, kaden, seifert = (v.booking_id for v in it.visits)
    await publish()
    body = await private_feed(net.world.school_a)
    entries = {str(e["UID"]): e for e in vevents(body)}
    legs = {uid: e for uid, e in entries.items() if "-leg-" in uid}
    assert set(legs) == {leg_uid(it.id, kaden), leg_uid(it.id, seifert)}
    to_kaden = legs[leg_uid(it.id, kaden)]
    assert to_kaden["DTSTART"].dt == at(net.day, 10, 30)
    walk = it.legs[0].minutes
    assert (to_kaden["DTEND"].dt - to_kaden["DTSTART"].dt).total_seconds() == walk * 60
    assert str(to_kaden["SUMMARY"]).startswith("Fußweg zu Kaden GmbH")
    assert str(to_kaden["STATUS"]) == "CONFIRMED" and str(to_kaden["CLASS"]) == "PRIVATE"
    assert f"/school/itineraries/{it.id}" in str(to_kaden["URL"])
    # The visits came as mailed invitations (the default choice), so the feed leaves
    # them out; the legs, which no invitation carries, stay.
    assert f"feed-booking-{rehn}@{HOST}" not in entries

    # Four readers agree on the legs' times (UTC), TZIDs resolved.
    icaljs_ready()
    expected = {(e.uid, e.start, e.end) for e in with_icalendar(body) if "-leg-" in e.uid}
    assert len(expected) == 2
    assert all(start.tzinfo == UTC for _, start, _ in expected)
    assert {(e.uid, e.start, e.end) for e in with_vobject(body) if "-leg-" in e.uid} == expected
    assert {(e.uid, e.start, e.end) for e in icaljs_entries(body) if "-leg-" in e.uid} == expected

    # Another school's feed and the firms' feeds show no legs.
    assert b"-leg-" not in await private_feed(net.world.school_b)
    assert b"-leg-" not in await private_feed(net.firms["kaden"])

    # Kaden cancels: the way to Kaden is off, the way to Seifert now starts at Rehn.
    sequence = int(legs[leg_uid(it.id, seifert)]["SEQUENCE"])
    await cancel_booking(kaden, "Maschinenausfall", by=net.firms["kaden"])
    await publish()
    entries = {str(e["UID"]): e for e in vevents(await private_feed(net.world.school_a))}
    assert str(entries[leg_uid(it.id, kaden)]["STATUS"]) == "CANCELLED"
    to_seifert = entries[leg_uid(it.id, seifert)]
    assert str(to_seifert["STATUS"]) == "CONFIRMED"
    assert "Von Rehn GmbH zu Seifert GmbH" in str(to_seifert["DESCRIPTION"])
    assert to_seifert["DTSTART"].dt == at(net.day, 10, 30)
    assert int(to_seifert["SEQUENCE"]) > sequence

    # The whole day off: every leg cancelled.
    await cancel_itinerary(it.id, "Krankheit", by=net.world.school_a)
    await publish()
    entries = {str(e["UID"]): e for e in vevents(await private_feed(net.world.school_a))}
    assert {str(entries[u]["STATUS"]) for u in entries if "-leg-" in u} == {"CANCELLED"}


@pytest.fixture
def mail_dir(db: str, settings: Settings, tmp_path: Path):
    from outreach.config import set_settings

    yield with_settings(settings, data_dir=tmp_path).mail_dir
    set_settings(settings)


async def deliver_all() -> None:
    """Every due notice, and those that delivering queues (a class day's mail)."""
    while due := await outbox.due_ids():
        for notification_id in due:
            await notifications.deliver(notification_id)


def teacher_mails(mail_dir: Path, seen: set[str]) -> list[EmailMessage]:
    """The teacher's mails not seen before (files are named by Message-ID, not in order)."""
    fresh = [m for m in read_eml_dir(mail_dir) if str(m["Message-ID"]) not in seen]
    seen |= {str(m["Message-ID"]) for m in fresh}
    return [m for m in fresh if "lehrerin@schule.example" in str(m["To"])]


async def test_a_cancelled_visit_tells_the_teacher_it_was_part_of_the_day(net, mail_dir):
    slots = await three_firm_day(net)
    it = await book_day(net, slots)
    kaden = it.visits[1].booking_id
    await deliver_all()
    seen: set[str] = set()
    assert teacher_mails(mail_dir, seen)  # the confirmations

    await cancel_booking(kaden, "Maschinenausfall", by=net.firms["kaden"])
    await deliver_all()
    (cancelled,) = teacher_mails(mail_dir, seen)
    text = text_of(cancelled)
    assert "Maschinenausfall" in text
    assert "Teil des Firmentags der Klasse 8a" in text
    assert "Rehn GmbH, 09:00\u201310:30" in text and "Seifert GmbH, 13:00\u201314:30" in text
    assert "Kaden GmbH, 11:00" not in text
    assert f"/school/itineraries/{it.id}?replace={kaden}#replacements" in text
    html = cancelled.get_body(preferencelist=("html",)).get_content()
    assert f'href="http://{HOST}/school/itineraries/{it.id}?replace={kaden}#replacements"' in html

    # The whole day cancelled: each mail says that nothing of the day is left.
    await cancel_itinerary(it.id, "Krankheit", by=net.world.school_a)
    await deliver_all()
    last = [text_of(m) for m in teacher_mails(mail_dir, seen)]
    assert len(last) == 2
    assert all("Kein Besuch dieses Tages findet mehr statt." in t for t in last), last
    assert all("Ersatz" not in t for t in last)
