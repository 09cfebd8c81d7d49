"""Internships in the feeds: published offers in the public feeds, a confirmed round's
placements in the school's and the firm's private feeds as all-day entries, cancelled
ones as STATUS:CANCELLED; stored feeds republished when they change; three readers agree."""

from __future__ import annotations

from datetime import date, timedelta

import icalendar
import recurring_ical_events
import vobject

from outreach.accounts.services import feed_token_for
from outreach.feeds import services
from outreach.feeds.services import PublicFilter
from outreach.internships import offers, placements, rounds, wishes
from outreach.internships.schemas import RoundIn
from tests.factories import World
from tests.feeds.helpers import publish
from tests.internships.helpers import class_dates, make_class, make_offer, period_of, pupils

Days = tuple[str, date, date, str]  # uid, first day, day after the last, status


def _read(body: bytes) -> list[Days]:
    """All-day entries as icalendar, vobject and recurring-ical-events read them (equal)."""
    calendar = icalendar.Calendar.from_ical(body)
    first = sorted(
        (str(e["UID"]), e.decoded("DTSTART"), e.decoded("DTEND"), str(e.get("STATUS")))
        for e in calendar.walk("VEVENT")
    )
    for _, start, end, _ in first:
        assert type(start) is date and type(end) is date  # all-day: VALUE=DATE
    card = vobject.readOne(body.decode("utf-8"))
    second = sorted(
        (e.uid.value, e.dtstart.value, e.dtend.value, e.status.value)
        for e in getattr(card, "vevent_list", [])
    )
    assert second == first
    if first:
        low, high = min(f[1] for f in first), max(f[2] for f in first)
        expanded = sorted(
            (str(e["UID"]), e["DTSTART"].dt, e["DTEND"].dt, str(e.get("STATUS")))
            for e in recurring_ical_events.of(calendar).between(low, high)
        )
        assert expanded == first
    return first


def _of(entries: list[Days], prefix: str) -> list[Days]:
    return [e for e in entries if e[0].startswith(prefix)]


async def _private(world: World, who: str) -> bytes:
    return (await services.private_feed(await feed_token_for(by=getattr(world, who)))).body


async def _confirmed_round(world: World) -> tuple[int, int, int]:
    a = await make_offer(world.firm_a, places=1)
    b = await make_offer(world.firm_b, places=2, occupation="Feinwerkmechaniker")
    klass = await make_class(world.school_a)
    await wishes.put_pupils(
        klass.id,
        pupils([period_of(a), period_of(b)], [period_of(a), period_of(b)], [period_of(b)]),
        by=world.school_a,
    )
    preview = await rounds.preview_round(RoundIn(classes=[klass.id], seed=7), by=world.admin)
    await rounds.confirm_round(preview.id, by=world.admin)
    return a.id, b.id, klass.id


async def test_offers_and_placements_are_all_day_entries_in_the_right_feeds(world: World) -> None:
    # Stored before anything happens: the publisher must join them again.
    before = {
        who: await _private(world, who) for who in ("firm_a", "firm_b", "school_a", "school_b")
    }
    assert all(b"internship-" not in body for body in before.values())
    public_before = (await services.public_feed(PublicFilter())).body
    assert b"internship-" not in public_before

    draft = await make_offer(world.firm_a, status="draft", occupation="Mikrotechnologe")
    a, b, _ = await _confirmed_round(world)
    result = await publish()
    assert result.feeds == 4  # public, both firms', the school's (not school B's)

    first, last = class_dates()
    public = (await services.public_feed(PublicFilter())).body
    entries = _of(_read(public), "internship-offer-period-")
    assert len(entries) == 2  # the draft is not public
    # An offer's period: a week before the class to a week after, DTEND the day after.
    assert {(e[1], e[2]) for e in entries} == {
        (first - timedelta(days=7), last + timedelta(days=8))
    }
    assert b"Uhrmacher" in public and b"Mikrotechnologe" not in public
    assert b"Name" not in public  # no pupil in public
    assert b"internship-placement" not in public
    # Filters: one firm's offers; a grade the offers do not take; visits only.
    only_a = (await services.public_feed(PublicFilter(host="firm-a"))).body
    assert len(_of(_read(only_a), "internship-offer-period-")) == 1
    grade_12 = (await services.public_feed(PublicFilter(grade=12))).body
    assert b"internship-offer-period-" not in grade_12
    tours = (await services.public_feed(PublicFilter(kind="factory_tour"))).body
    assert b"internship-offer-period-" not in tours

    school = _read(await _private(world, "school_a"))
    firm_a_feed = await _private(world, "firm_a")
    firm_b_feed = await _private(world, "firm_b")
    assert len(_of(school, "internship-placement-")) == 3
    on_a = _of(_read(firm_a_feed), "internship-placement-")
    on_b = _of(_read(firm_b_feed), "internship-placement-")
    assert (len(on_a), len(on_b)) == (1, 2)  # each firm only its own placements
    assert {e[0] for e in on_a} | {e[0] for e in on_b} == {
        e[0] for e in _of(school, "internship-placement-")
    }
    # The class's period, all day: DTSTART the first day, DTEND the day after the last.
    assert {(e[1], e[2], e[3]) for e in on_a + on_b} == {
        (first, last + timedelta(days=1), "CONFIRMED")
    }
    assert b"Uhrmacher" in firm_a_feed and b"Feinwerkmechaniker" not in firm_a_feed
    assert b"Name" in firm_a_feed  # the first name, to the firm concerned
    assert b"P1" not in firm_a_feed and b"P2" not in firm_a_feed  # never the code
    assert b"internship-placement-" not in await _private(world, "school_b")
    assert draft.status == "draft"

    # A cancellation: the firm's entry turns CANCELLED with a higher SEQUENCE.
    [held] = [p for p in await placements.list_placements(by=world.firm_a)]
    await placements.cancel_placement(held.id, by=world.school_a, reason="krank")
    await publish()
    cancelled = icalendar.Calendar.from_ical(await _private(world, "firm_a"))
    [entry] = [
        e for e in cancelled.walk("VEVENT") if str(e["UID"]).startswith("internship-placement-")
    ]
    assert str(entry["UID"]) == f"internship-placement-{held.id}@{str(entry['UID']).split('@')[1]}"
    assert str(entry["STATUS"]) == "CANCELLED" and int(entry["SEQUENCE"]) == 1
    assert str(entry["SUMMARY"]).startswith("Entfällt: ")
    # An offer taken back to draft leaves the public feed.
    await offers.set_offer_status(b, "draft", by=world.firm_b)
    await publish()
    public = (await services.public_feed(PublicFilter())).body
    assert len(_of(_read(public), "internship-offer-period-")) == 1
    assert a


async def test_unchanged_internships_keep_the_feed_bytes(world: World) -> None:
    await _confirmed_round(world)
    await publish()
    body = await _private(world, "school_a")
    public = (await services.public_feed(PublicFilter())).body
    services._bodies.clear()
    assert await _private(world, "school_a") == body
    assert (await services.public_feed(PublicFilter())).body == public
