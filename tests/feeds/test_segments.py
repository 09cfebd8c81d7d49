"""Stored feeds in weekly segments: a change rewrites only the weeks its pieces left and
joined, and the bytes served are always those of the same feed built whole."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import pytest

from outreach.accounts.services import feed_token_for, set_calendar_delivery
from outreach.booking.writes import cancel_booking, place_booking
from outreach.events.schemas import EventPatch, SlotPatch
from outreach.events.services import cancel_event, update_event, update_slot
from outreach.feeds import services
from outreach.feeds.services import PublicFilter, StoredFeed
from outreach.feeds.tables import FeedDocument, FeedSegment
from outreach.principal import Principal
from tests.factories import World, at, class_visit, make_slot
from tests.feeds.helpers import publish, school_day_2027, tour_with_slot, vevents

Fetch = Callable[[], Awaitable[StoredFeed]]


def _private(principal: Principal) -> Fetch:
    async def fetch() -> StoredFeed:
        return await services.private_feed(await feed_token_for(by=principal))

    return fetch


async def _built_whole(fetch: Fetch) -> StoredFeed:
    """The same feed built from nothing: every stored feed dropped, memory cleared."""
    await FeedDocument.delete(force=True)
    services._bodies.clear()
    return await fetch()


async def _buckets(key: str) -> set[int]:
    doc = await FeedDocument.select(FeedDocument.id).where(FeedDocument.key == key).first()
    assert doc is not None
    rows = await FeedSegment.select(FeedSegment.bucket).where(FeedSegment.document == doc["id"])
    return {r["bucket"] for r in rows}


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[set[int], set[int]]]:
    """The buckets each stored feed's write wrote and dropped, in order."""
    seen: list[tuple[set[int], set[int]]] = []
    write = services._write_segments

    async def spy(document_id: int, written: dict, dropped: Sequence[int]) -> None:
        seen.append((set(written), set(dropped)))
        await write(document_id, written, dropped)

    monkeypatch.setattr(services, "_write_segments", spy)
    return seen


async def test_a_republished_feed_equals_the_feed_built_whole(world: World) -> None:
    weeks = [school_day_2027(5, day) for day in (3, 10, 24, 31)]
    tour_a, first = await tour_with_slot(world.firm_a, title="Tour A", day=weeks[0], grades=[8])
    second = await make_slot(world.firm_a, tour_a, starts_at=at(weeks[1], 9))
    third = await make_slot(world.firm_a, tour_a, starts_at=at(weeks[2], 13))
    tour_b, other = await tour_with_slot(world.firm_b, title="Tour B", day=weeks[1], hour=11)
    await tour_with_slot(world.firm_b, title="Offener Tag", kind="open_day", day=weeks[2])
    booked = (await place_booking(first, class_visit("8a"), by=world.school_a)).booking
    await set_calendar_delivery("subscription", by=world.school_a)

    feeds: dict[str, Fetch] = {
        "public": lambda: services.public_feed(PublicFilter()),
        "eighth grade": lambda: services.public_feed(PublicFilter(grade=8)),
        "factory tours of firm A": lambda: services.public_feed(
            PublicFilter(kind="factory_tour", host="firm-a")
        ),
        "tour A's own feed": lambda: services.event_feed(tour_a, by=world.school_a),
        "firm A": _private(world.firm_a),
        "firm B": _private(world.firm_b),
        "school A's teacher": _private(world.school_a),
        "the office": _private(world.admin),
    }
    await publish()
    for fetch in feeds.values():
        await fetch()

    # Changes across the weeks: a slot moved from the first week to the last, a booking
    # placed and one cancelled, an event renamed, one cancelled, a slot's places changed.
    moved = at(weeks[3], 10)
    await update_slot(
        first, SlotPatch(starts_at=moved, ends_at=moved + timedelta(hours=1)), by=world.firm_a
    )
    await place_booking(third, class_visit("8b"), by=world.teacher_a2)
    await cancel_booking(booked.id, "Ausfall", by=world.school_a)
    await update_event(tour_b, EventPatch(title="Tour B (neu)"), by=world.firm_b)
    await update_slot(second, SlotPatch(capacity=12), by=world.firm_a)
    await publish()
    await cancel_event(tour_b, "Krank", by=world.firm_b)
    await publish()

    republished = {name: await fetch() for name, fetch in feeds.items()}
    assert b"Tour B (neu)" in republished["public"].body
    assert len(vevents(republished["public"].body)) == 5
    for name, fetch in feeds.items():
        whole = await _built_whole(fetch)
        assert republished[name].body == whole.body, name
        assert republished[name].etag == whole.etag, name
    del other


async def test_a_change_rewrites_only_the_weeks_it_touched(
    world: World, writes: list[tuple[set[int], set[int]]]
) -> None:
    weeks = [school_day_2027(5, day) for day in (3, 10, 24)]
    tour, moving = await tour_with_slot(world.firm_a, day=weeks[0])
    await make_slot(world.firm_a, tour, starts_at=at(weeks[0], 13))
    await make_slot(world.firm_a, tour, starts_at=at(weeks[1], 9))
    await publish()
    before = (await services.public_feed(PublicFilter())).etag
    head, first_week, second_week, tail = sorted(await _buckets("public"))
    assert (head, tail) == (services.HEAD_BUCKET, services.TAIL_BUCKET)

    writes.clear()
    moved = at(weeks[2], 9)
    await update_slot(
        moving, SlotPatch(starts_at=moved, ends_at=moved + timedelta(hours=1)), by=world.firm_a
    )
    result = await publish()
    assert result.feeds == 1
    (new_week,) = await _buckets("public") - {head, first_week, second_week, tail}
    # Only the week left and the week joined were written; head, the second week and
    # the tail are as they were.
    assert writes == [({first_week, new_week}, set())]
    feed = await services.public_feed(PublicFilter())
    assert feed.etag != before
    assert [e.decoded("DTSTART") for e in vevents(feed.body)][-1] == moved

    # A week left empty is no segment any more.
    writes.clear()
    await update_slot(
        await _slot_in(weeks[0], tour),
        SlotPatch(starts_at=moved + timedelta(hours=3), ends_at=moved + timedelta(hours=4)),
        by=world.firm_a,
    )
    await publish()
    assert writes == [({new_week}, {first_week})]
    assert await _buckets("public") == {head, second_week, new_week, tail}


async def _slot_in(day: object, event_id: int) -> int:
    from outreach.events.tables import Slot

    rows = await Slot.select(Slot.id, Slot.starts_at).where(Slot.event == event_id)
    (slot,) = [r for r in rows if r["starts_at"].date() == day]
    return slot["id"]
