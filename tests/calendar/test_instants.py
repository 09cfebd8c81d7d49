"""Every instant of every calendar output, read by four parsers, equals the one stored.

Outputs: the public feed, an event's file, a firm's and a teacher's private feed, the
invitation mails (REQUEST and CANCEL) and a class day's file. Readers: icalendar,
vobject, recurring-ical-events and Mozilla's ical.js (Thunderbird's). Times: both
sides of and inside every change of summer time 2026-2028, among them a slot that
starts in the repeated autumn hour (in its first and in its second pass), one that
ends in it and one that spans it. Berlin wall time with a TZID cannot name the second
pass of that hour (RFC 5545 reads the first; ical.js the second), hence UTC everywhere.

The slots are booked on ordinary school days through the services, then moved to the
night of the change in the database (no host would offer a tour at 02:30; the point
is that whatever is stored comes out unchanged), and the expected instants are read
back from the database, not computed by the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from outreach.accounts.services import feed_token_for, set_calendar_delivery
from outreach.booking import writes as booking
from outreach.booking.tables import Booking
from outreach.calendar.changes import mark_changed
from outreach.config import Settings, set_settings
from outreach.events.tables import Slot
from outreach.feeds import services as feeds
from outreach.feeds.services import PublicFilter
from outreach.itineraries import views as itinerary_views
from outreach.itineraries import writes as itineraries
from outreach.itineraries.schemas import ItineraryIn
from outreach.notifications import services as notifications
from outreach.outbox import services as outbox
from outreach.principal import ANONYMOUS
from outreach.timeutil import LOCAL_TZ, as_utc, utcnow
from tests.factories import at, class_visit, make_slot, make_world
from tests.feeds.helpers import publish, school_day_2027, titled_event
from tests.feeds.parsers import (
    Entry,
    icaljs_entries,
    icaljs_ready,
    with_icalendar,
    with_recurring,
    with_vobject,
)
from tests.itineraries.helpers import make_net, three_firm_day
from tests.notifications.helpers import calendar_of, read_eml_dir, with_settings

HOST = "outreach.test"
EARLIEST = datetime(2026, 1, 1, tzinfo=UTC)
LATEST = datetime(2029, 1, 1, tzinfo=UTC)


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _wall(day: date, hour: int, minute: int = 0, *, fold: int = 0) -> datetime:
    """Berlin wall time; fold=1 is the second pass of the repeated autumn hour."""
    return datetime(day.year, day.month, day.day, hour, minute, fold=fold, tzinfo=LOCAL_TZ)


def dst_cases(years: tuple[int, ...] = (2026, 2027, 2028)) -> dict[str, tuple[datetime, datetime]]:
    """Start and end of each slot, named; aware Berlin times, each naming one instant."""
    cases: dict[str, tuple[datetime, datetime]] = {}
    for year in years:
        spring, autumn = _last_sunday(year, 3), _last_sunday(year, 10)
        before, after = spring - timedelta(days=1), spring + timedelta(days=1)
        cases[f"{year} before spring"] = (_wall(before, 10), _wall(before, 11, 30))
        cases[f"{year} across the spring gap"] = (_wall(spring, 1, 30), _wall(spring, 3, 30))
        cases[f"{year} after spring"] = (_wall(after, 10), _wall(after, 11, 30))
        before, after = autumn - timedelta(days=1), autumn + timedelta(days=1)
        cases[f"{year} before autumn"] = (_wall(before, 10), _wall(before, 11, 30))
        cases[f"{year} starts in the repeated hour, first pass"] = (
            _wall(autumn, 2, 15),
            _wall(autumn, 3, 15),
        )
        cases[f"{year} starts in the repeated hour, second pass"] = (
            _wall(autumn, 2, 30, fold=1),
            _wall(autumn, 4),
        )
        cases[f"{year} ends in the repeated hour"] = (
            _wall(autumn, 1, 30),
            _wall(autumn, 2, 45, fold=1),
        )
        cases[f"{year} spans the repeated hour"] = (_wall(autumn, 1, 45), _wall(autumn, 3, 15))
        cases[f"{year} after autumn"] = (_wall(after, 10), _wall(after, 11, 30))
    return cases


def test_the_cases_are_what_their_names_say() -> None:
    cases = dst_cases((2027,))
    first, _ = cases["2027 starts in the repeated hour, first pass"]
    second, _ = cases["2027 starts in the repeated hour, second pass"]
    # 02:15 summer time and 02:30 winter time: the same wall clock, an hour apart.
    assert as_utc(first) == datetime(2027, 10, 31, 0, 15, tzinfo=UTC)
    assert as_utc(second) == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    start, end = cases["2027 ends in the repeated hour"]
    assert as_utc(end) - as_utc(start) == timedelta(hours=2, minutes=15)
    start, end = cases["2027 across the spring gap"]
    assert as_utc(end) - as_utc(start) == timedelta(hours=1)


def _four_readings(body: bytes) -> dict[str, list[Entry]]:
    def ordered(entries: list[Entry]) -> list[Entry]:
        return sorted(entries, key=lambda e: (e.uid, e.start))

    return {
        "icalendar": ordered(with_icalendar(body)),
        "vobject": ordered(with_vobject(body)),
        "recurring-ical-events": ordered(with_recurring(body, EARLIEST, LATEST)),
        "ical.js": ordered(icaljs_entries(body)),
    }


def assert_read_as_stored(
    body: bytes, expected: dict[str, tuple[datetime, datetime]], what: str
) -> set[str]:
    """Each parser reads each UID of `expected` at its stored start and end; returns the
    UIDs found. Entries not in `expected` (legs, lunch) must still read alike."""
    readings = _four_readings(body)
    for parser, entries in readings.items():
        assert entries == readings["icalendar"], f"{what}: {parser} reads it differently"
        uids = [e.uid for e in entries]
        assert len(set(uids)) == len(uids), f"{what}: a UID repeats ({parser})"
        for entry in entries:
            if entry.uid in expected:
                start, end = expected[entry.uid]
                assert (entry.start, entry.end) == (as_utc(start), as_utc(end)), (
                    what,
                    parser,
                    entry.uid,
                )
    return {e.uid for e in readings["icalendar"]}


async def _move(slot_id: int, start: datetime, end: datetime) -> None:
    """Where the case wants it, straight in the database, and tell the publisher."""
    await Slot.update({Slot.starts_at: as_utc(start), Slot.ends_at: as_utc(end)}).where(
        Slot.id == slot_id
    )
    await mark_changed(slot_id=slot_id)


async def _stored_times(slot_ids: list[int]) -> dict[int, tuple[datetime, datetime]]:
    rows = await Slot.select(Slot.id, Slot.starts_at, Slot.ends_at).where(Slot.id.is_in(slot_ids))
    return {r["id"]: (as_utc(r["starts_at"]), as_utc(r["ends_at"])) for r in rows}


async def _deliver_all() -> None:
    while due := await outbox.due_ids():
        for notification_id in due:
            await notifications.deliver(notification_id)


@pytest.fixture
def mail_dir(db: str, settings: Settings, tmp_path: Path) -> Iterator[Path]:
    yield with_settings(settings, data_dir=tmp_path).mail_dir
    set_settings(settings)


async def test_every_output_reads_every_instant_as_stored(mail_dir: Path) -> None:
    icaljs_ready()
    world = await make_world()
    # Both: the teacher's visits come in the feed and as invitations (checked apart).
    await set_calendar_delivery("both", by=world.school_a)
    event_id = await titled_event(world.firm_a, title="Nachtschicht-Führung")
    cases = dst_cases()
    slot_of: dict[str, int] = {}
    booking_of: dict[str, int] = {}
    for n, name in enumerate(cases):
        # A school day each, so that the class visits are accepted before they are moved.
        day = school_day_2027(5 + n // 15, 3 + n % 15)
        slot_id = await make_slot(world.firm_a, event_id, starts_at=at(day, 9))
        placed = await booking.place_booking(slot_id, class_visit(f"{n}x"), by=world.school_a)
        slot_of[name], booking_of[name] = slot_id, placed.booking.id
    for name, (start, end) in cases.items():
        await _move(slot_of[name], start, end)
    await publish()
    stored = await _stored_times(list(slot_of.values()))
    # The database holds exactly the instants the cases name (Python's aware datetimes).
    assert {n: stored[slot_of[n]] for n in cases} == {
        n: (as_utc(s), as_utc(e)) for n, (s, e) in cases.items()
    }

    by_uid: dict[str, tuple[datetime, datetime]] = {}
    for name, slot_id in slot_of.items():
        times = stored[slot_id]
        by_uid[f"slot-{slot_id}@{HOST}"] = times
        by_uid[f"host-slot-{slot_id}@{HOST}"] = times
        by_uid[f"feed-booking-{booking_of[name]}@{HOST}"] = times
        by_uid[f"booking-{booking_of[name]}@{HOST}"] = times
    every = set(by_uid)

    public = (await feeds.public_feed(PublicFilter())).body
    event_file = (await feeds.event_feed(event_id, by=ANONYMOUS)).body
    firm = (await feeds.private_feed(await feed_token_for(by=world.firm_a))).body
    teacher = (await feeds.private_feed(await feed_token_for(by=world.school_a))).body
    found = assert_read_as_stored(public, by_uid, "public feed")
    assert {f"slot-{s}@{HOST}" for s in slot_of.values()} <= found
    found = assert_read_as_stored(event_file, by_uid, "event file")
    assert found == {f"slot-{s}@{HOST}" for s in slot_of.values()}
    found = assert_read_as_stored(firm, by_uid, "firm's feed")
    assert {f"host-slot-{s}@{HOST}" for s in slot_of.values()} <= found
    found = assert_read_as_stored(teacher, by_uid, "teacher's feed")
    assert found == {f"feed-booking-{b}@{HOST}" for b in booking_of.values()}

    # The invitations: one REQUEST per visit still to come (past ones are not mailed).
    await _deliver_all()
    now = utcnow()
    to_come = {n for n in cases if stored[slot_of[n]][1] > now}
    assert len(to_come) >= 18  # 2027 and 2028 at least
    invited: set[str] = set()
    for message in read_eml_dir(mail_dir):
        part = calendar_of(message)
        if part is None:
            continue
        assert part[0] == "REQUEST"
        body = part[1].to_ical()
        invited |= assert_read_as_stored(body, by_uid, f"invitation {message['Subject']}")
    assert invited == {f"booking-{booking_of[n]}@{HOST}" for n in to_come}

    # A cancellation carries the same instants as the invitation it takes back.
    name = "2027 starts in the repeated hour, second pass"
    await booking.cancel_booking(booking_of[name], "Nebel", by=world.school_a)
    seen = {str(m["Message-ID"]) for m in read_eml_dir(mail_dir)}
    await _deliver_all()
    fresh = [m for m in read_eml_dir(mail_dir) if str(m["Message-ID"]) not in seen]
    cancels = [p for p in map(calendar_of, fresh) if p is not None and p[0] == "CANCEL"]
    assert len(cancels) == 1
    found = assert_read_as_stored(cancels[0][1].to_ical(), by_uid, "cancellation")
    assert found == {f"booking-{booking_of[name]}@{HOST}"}
    assert found <= every


async def test_a_class_days_file_reads_every_visit_as_stored(db: str) -> None:
    icaljs_ready()
    net = await make_net()
    slots = await three_firm_day(net)
    it = (
        await itineraries.book_itinerary(
            ItineraryIn(
                slot_ids=[slots["rehn"], slots["kaden"], slots["seifert"]],
                class_label="8a",
                grade=8,
                pupils=24,
                adults=2,
                arrive_at="08:30",
                leave_by="15:00",
            ),
            by=net.world.school_a,
        )
    ).itinerary
    cases = dst_cases((2027,))
    names = (
        "2027 ends in the repeated hour",
        "2027 starts in the repeated hour, second pass",
        "2027 after autumn",
    )
    moved = [slots["rehn"], slots["kaden"], slots["seifert"]]
    for slot_id, name in zip(moved, names, strict=True):
        await _move(slot_id, *cases[name])
    stored = await _stored_times(moved)
    rows = await Booking.select(Booking.id, Booking.slot).where(
        Booking.id.is_in([v.booking_id for v in it.visits])
    )
    expected = {f"itinerary-{it.id}-visit-{r['id']}@{HOST}": stored[r["slot"]] for r in rows}
    body = await itinerary_views.itinerary_calendar(it.id, by=net.world.school_a)
    found = assert_read_as_stored(body, expected, "class day's file")
    assert set(expected) <= found
