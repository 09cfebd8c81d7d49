"""Every feed read by four independent parsers: icalendar, vobject, recurring-ical-events
and Mozilla's ical.js (Thunderbird's), which must agree on every instant in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from outreach.accounts.services import feed_token_for
from outreach.booking.writes import place_booking
from outreach.events.schemas import EventPatch
from outreach.events.services import update_event
from outreach.feeds import services
from outreach.feeds.services import PublicFilter
from outreach.principal import ANONYMOUS
from tests.factories import World, at, class_visit, make_slot
from tests.feeds.helpers import berlin, publish, school_day_2027, titled_event, tour_with_slot
from tests.feeds.parsers import (
    Entry,
    icaljs_entries,
    with_icalendar,
    with_icaljs,
    with_recurring,
    with_vobject,
)

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2029, 1, 1, tzinfo=UTC)


def _all_four(body: bytes) -> dict[str, list[Entry]]:
    def ordered(entries: list[Entry]) -> list[Entry]:
        return sorted(entries, key=lambda e: (e.uid, e.start))

    return {
        "icalendar": ordered(with_icalendar(body)),
        "vobject": ordered(with_vobject(body)),
        "recurring-ical-events": ordered(with_recurring(body, YEAR_START, YEAR_END)),
        "ical.js": ordered(icaljs_entries(body)),
    }


def _agree(body: bytes) -> list[Entry]:
    readings = _all_four(body)
    reference = readings["icalendar"]
    for name, entries in readings.items():
        assert entries == reference, f"{name} reads the feed differently"
    assert len({e.uid for e in reference}) == len(reference), "a UID repeats"
    return reference


async def test_a_slot_is_the_same_instant_for_every_parser_across_dst(
    world: World, icaljs: Path
) -> None:
    """The last Sundays of March and October 2027, and the Saturdays before them."""
    event_id = await titled_event(world.firm_a, title="Sonntagsführung", kind="open_day")
    starts = {
        berlin(2027, 3, 27, 10): datetime(2027, 3, 27, 9, 0, tzinfo=UTC),  # CET, +01:00
        berlin(2027, 3, 28, 10): datetime(2027, 3, 28, 8, 0, tzinfo=UTC),  # CEST, +02:00
        berlin(2027, 10, 30, 10): datetime(2027, 10, 30, 8, 0, tzinfo=UTC),  # CEST
        berlin(2027, 10, 31, 10): datetime(2027, 10, 31, 9, 0, tzinfo=UTC),  # CET again
        # Across the change itself: 01:30 to 04:00 on the night summer time begins.
        berlin(2027, 3, 28, 1, 30): datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
    }
    slot_ids = {}
    for local_start in starts:
        slot_ids[local_start] = await make_slot(
            world.firm_a, event_id, starts_at=local_start, minutes=150
        )
    body = (await services.event_feed(event_id, by=ANONYMOUS)).body

    entries = {e.uid: e for e in _agree(body)}
    for local_start, utc_start in starts.items():
        entry = entries[f"slot-{slot_ids[local_start]}@outreach.test"]
        assert entry.start == utc_start, local_start
        # The factory adds 150 minutes of wall time (Python's aware arithmetic): across
        # the change that is 90 real minutes; the end is whatever instant that names.
        assert entry.end == (local_start + timedelta(minutes=150)).astimezone(UTC), local_start
    # ical.js read UTC times (no TZID to resolve, nothing floating).
    assert {(e["tzid"], e["zoneFromFeed"]) for e in with_icaljs(body)} == {("UTC", False)}


async def test_every_feed_reads_alike_in_all_four_parsers(world: World, icaljs: Path) -> None:
    title = 'Tür auf, Werk zu; "Čas" \\ 🎉 \r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil'
    event_id, slot_id = await tour_with_slot(world.firm_a, title=title[:200], grades=[8])
    await update_event(
        event_id, EventPatch(description="Zeile 1\nZeile 2; mit, Zeichen"), by=world.firm_a
    )
    await tour_with_slot(world.firm_b, kind="open_day", hour=13)
    _, other = await tour_with_slot(world.firm_b, hour=11)
    await make_slot(world.firm_a, event_id, starts_at=at(school_day_2027(10, 25), 9))
    await place_booking(slot_id, class_visit("8a"), by=world.school_a)
    await place_booking(other, class_visit("9b"), by=world.teacher_a2)
    await publish()

    bodies = {
        "public": (await services.public_feed(PublicFilter())).body,
        "filtered": (await services.public_feed(PublicFilter(kind="factory_tour", grade=8))).body,
        "event": (await services.event_feed(event_id, by=ANONYMOUS)).body,
    }
    for who in ("firm_a", "school_a", "admin"):
        token = await feed_token_for(by=getattr(world, who))
        bodies[who] = (await services.private_feed(token)).body
    counts = {name: len(_agree(body)) for name, body in bodies.items()}
    assert counts == {
        "public": 4,
        "filtered": 3,
        "event": 2,
        "firm_a": 2,
        "school_a": 1,  # the colleague's visit; one's own come as invitations
        "admin": 4,
    }
    # The title came through as one value, escaped, in every parser.
    (summary,) = {e["summary"] for e in with_icaljs(bodies["event"])}
    assert summary.startswith('Tür auf, Werk zu; "Čas" \\ 🎉 END:VEVENT BEGIN:VEVENT UID:evil')
