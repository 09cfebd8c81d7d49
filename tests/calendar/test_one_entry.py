"""One visit, one entry per calendar: the person's choice decides whether a booking
reaches them as a mailed invitation, in their subscribed feed, or (asked for) both;
and a UID names one content wherever it appears."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar, Event

from outreach.accounts.services import (
    calendar_delivery,
    feed_token_for,
    set_calendar_delivery,
)
from outreach.booking import writes as booking
from outreach.config import Settings, set_settings
from outreach.errors import Invalid
from outreach.events.schemas import SlotPatch
from outreach.events.services import update_slot
from outreach.feeds import services as feeds
from outreach.feeds.services import PublicFilter
from outreach.notifications import services as notifications
from outreach.outbox import services as outbox
from outreach.principal import ANONYMOUS
from tests.factories import World, at, class_visit, make_world
from tests.feeds.helpers import publish, school_day_2027, tour_with_slot
from tests.notifications.helpers import calendar_of, read_eml_dir, with_settings
from tests.pages.conftest import give_password, post_form, sign_in

HOST = "outreach.test"


@pytest.fixture
def mail_dir(db: str, settings: Settings, tmp_path: Path) -> Iterator[Path]:
    yield with_settings(settings, data_dir=tmp_path).mail_dir
    set_settings(settings)


async def _deliver_all() -> None:
    while due := await outbox.due_ids():
        for notification_id in due:
            await notifications.deliver(notification_id)


def _events(body: bytes) -> dict[str, Event]:
    return {str(e["UID"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


def _content(event: Event) -> bytes:
    """What an entry says: everything but DTSTAMP, when that copy was written."""
    return b"\r\n".join(
        line for line in event.to_ical().split(b"\r\n") if not line.startswith(b"DTSTAMP")
    )


async def _feed(who) -> dict[str, Event]:  # type: ignore[no-untyped-def]
    return _events((await feeds.private_feed(await feed_token_for(by=who))).body)


def _invitations(mail_dir: Path, seen: set[str]) -> list[tuple[str, Event]]:
    """(METHOD, VEVENT) of each mail not seen before that carries a calendar part."""
    found = []
    for message in read_eml_dir(mail_dir):
        if str(message["Message-ID"]) in seen:
            continue
        seen.add(str(message["Message-ID"]))
        part = calendar_of(message)
        if part is not None:
            (event,) = part[1].walk("VEVENT")
            found.append((part[0], event))
    return found


async def _book(world: World, hour: int) -> tuple[int, int]:
    _, slot_id = await tour_with_slot(world.firm_a, hour=hour, day=school_day_2027(6, 7))
    placed = await booking.place_booking(slot_id, class_visit(f"{hour}a"), by=world.school_a)
    await publish()
    return slot_id, placed.booking.id


async def test_the_choice_decides_where_a_booking_shows(mail_dir: Path) -> None:
    world = await make_world()
    seen: set[str] = set()

    # The default: invitations by mail; the teacher's own feed leaves the visit out.
    _, by_mail = await _book(world, 9)
    await _deliver_all()
    (sent,) = _invitations(mail_dir, seen)
    assert sent[0] == "REQUEST" and str(sent[1]["UID"]) == f"booking-{by_mail}@{HOST}"
    assert f"feed-booking-{by_mail}@{HOST}" not in await _feed(world.school_a)
    # A colleague, who got no invitation, finds it in their feed.
    assert f"feed-booking-{by_mail}@{HOST}" in await _feed(world.teacher_a2)

    # The subscription only: the mail comes without an invitation, the feed has it.
    await set_calendar_delivery("subscription", by=world.school_a)
    _, by_feed = await _book(world, 11)
    await _deliver_all()
    assert _invitations(mail_dir, seen) == []
    mine = await _feed(world.school_a)
    assert f"feed-booking-{by_feed}@{HOST}" in mine
    # The visit invited before the change stays in the calendar it is in, and its
    # updates keep coming by mail, so that it never shows a stale time there.
    assert f"feed-booking-{by_mail}@{HOST}" in mine

    # Both, as asked: two entries with UIDs of their own, at the same instants.
    await set_calendar_delivery("both", by=world.school_a)
    _, twice = await _book(world, 13)
    await _deliver_all()
    (sent,) = _invitations(mail_dir, seen)
    in_feed = (await _feed(world.school_a))[f"feed-booking-{twice}@{HOST}"]
    assert str(sent[1]["UID"]) == f"booking-{twice}@{HOST}"
    assert sent[1].decoded("DTSTART") == in_feed.decoded("DTSTART")
    assert sent[1].decoded("DTEND") == in_feed.decoded("DTEND")


async def test_a_uid_names_one_content_wherever_it_appears(mail_dir: Path) -> None:
    world = await make_world()
    await set_calendar_delivery("both", by=world.school_a)
    event_id, slot_id = await tour_with_slot(world.firm_a, day=school_day_2027(6, 7))
    placed = await booking.place_booking(slot_id, class_visit(), by=world.school_a)
    await publish()
    booking_id = placed.booking.id

    public = _events((await feeds.public_feed(PublicFilter())).body)
    event_file = _events((await feeds.event_feed(event_id, by=ANONYMOUS)).body)
    host = await _feed(world.firm_a)
    office = await _feed(world.admin)
    teacher, colleague = await _feed(world.school_a), await _feed(world.teacher_a2)
    # The public entry: the same in the public feed and the event's file.
    assert _content(public[f"slot-{slot_id}@{HOST}"]) == _content(
        event_file[f"slot-{slot_id}@{HOST}"]
    )
    # The host's view says more (places, bookings): a UID of its own, the same for the
    # firm and the network office; it never takes the public UID.
    host_uid = f"host-slot-{slot_id}@{HOST}"
    assert _content(host[host_uid]) == _content(office[host_uid])
    assert f"slot-{slot_id}@{HOST}" not in host and f"slot-{slot_id}@{HOST}" not in office
    assert _content(host[host_uid]) != _content(public[f"slot-{slot_id}@{HOST}"])
    # The booker's view: one content for every teacher of the school.
    booker_uid = f"feed-booking-{booking_id}@{HOST}"
    assert _content(teacher[booker_uid]) == _content(colleague[booker_uid])
    every_feed = [public, event_file, host, office, teacher, colleague]
    assert all(f"booking-{booking_id}@{HOST}" not in feed for feed in every_feed)

    # The invitation's UID: REQUEST on confirmation, REQUEST with a higher SEQUENCE on a
    # move, CANCEL at the end; a repeat (a reminder) of an unchanged visit says the same.
    seen: set[str] = set()
    await _deliver_all()
    starts = at(school_day_2027(6, 8), 10)
    await update_slot(
        slot_id, SlotPatch(starts_at=starts, ends_at=starts + timedelta(hours=1)), by=world.firm_a
    )
    await _deliver_all()
    await outbox.enqueue(
        "booking.reminder",
        booking_id=booking_id,
        recipient=world.school_a.email,
        payload={"days": 1, "starts_at": starts.isoformat()},
    )
    await _deliver_all()
    await booking.cancel_booking(booking_id, "Bus fällt aus", by=world.school_a)
    await _deliver_all()
    sent = _invitations(mail_dir, seen)
    assert [method for method, _ in sent] == ["REQUEST", "REQUEST", "REQUEST", "CANCEL"]
    assert {str(e["UID"]) for _, e in sent} == {f"booking-{booking_id}@{HOST}"}
    sequences = [int(e["SEQUENCE"]) for _, e in sent]
    assert sequences[0] < sequences[1] == sequences[2] < sequences[3]
    assert _content(sent[1][1]) == _content(sent[2][1])  # same SEQUENCE, same content


async def test_the_choice_is_one_of_three(db: str) -> None:
    world = await make_world()
    with pytest.raises(Invalid) as refused:
        await set_calendar_delivery("carrier pigeon", by=world.school_a)
    assert refused.value.field == "calendar_delivery"


async def test_my_data_explains_the_default_and_saves_the_choice(client: Any) -> None:
    world = await make_world()
    await give_password(world.school_a.email)
    await sign_in(client, world.school_a.email)
    shown = await client.get("/account", headers={"Accept-Language": "en"})
    assert "Invitations by mail (the default)" in shown.text
    assert "leaves out the visits you booked yourself" in shown.text
    assert 'value="invitation" checked' in shown.text

    done = await post_form(
        client, "/account/calendar", {"delivery": "subscription"}, from_page="/account"
    )
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert await calendar_delivery(by=world.school_a) == "subscription"
    assert 'value="subscription" checked' in (await client.get("/account")).text

    refused = await post_form(
        client, "/account/calendar", {"delivery": "fax"}, from_page="/account"
    )
    assert refused.status_code == 422
    assert 'id="f-delivery-error"' in refused.text
    assert await calendar_delivery(by=world.school_a) == "subscription"
    # German by default, as every page.
    assert (
        "Einladungen per E-Mail (Voreinstellung)"
        in (await client.get("/account", headers={"Accept-Language": "de"})).text
    )
