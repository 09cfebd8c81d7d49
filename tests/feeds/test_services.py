"""Publishing: stored pieces and feeds, what a change re-renders, and who sees what."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from outreach.accounts.services import feed_token_for, set_calendar_delivery
from outreach.booking.schemas import BookingRequest
from outreach.booking.writes import cancel_booking, place_booking
from outreach.config import Settings
from outreach.errors import NotFound
from outreach.events.schemas import EventPatch, SlotPatch
from outreach.events.services import cancel_event, update_event, update_slot
from outreach.events.tables import Slot
from outreach.feeds import services
from outreach.feeds.render import PieceDraft
from outreach.feeds.services import PublicFilter
from outreach.feeds.tables import FeedChange, FeedDocument, FeedPiece
from outreach.principal import ANONYMOUS
from outreach.timeutil import utcnow
from tests.factories import World, at, class_visit, make_slot
from tests.feeds.helpers import (
    public_body,
    publish,
    school_day_2027,
    stored,
    summaries,
    tour_with_slot,
    uids,
    vevents,
)

HOST = "outreach.test"


def _uid(slot_id: int) -> str:
    return f"slot-{slot_id}@{HOST}"


def _host_uid(slot_id: int) -> str:
    """The host's view of a slot: other content than the public one, so another UID."""
    return f"host-slot-{slot_id}@{HOST}"


async def _private(principal) -> bytes:  # type: ignore[no-untyped-def]
    return (await services.private_feed(await feed_token_for(by=principal))).body


# --------------------------------------------------------------------------- stored bytes


async def test_a_request_serves_stored_bytes_without_rendering(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tour_with_slot(world.firm_a)
    first = await services.public_feed(PublicFilter())

    def no_rendering(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("a request rendered")

    monkeypatch.setattr(PieceDraft, "render", no_rendering)
    monkeypatch.setattr(services, "calendar_head", no_rendering)
    services._bodies.clear()  # from the database this time, not from memory
    again = await services.public_feed(PublicFilter())
    assert (again.body, again.etag, again.last_modified) == (
        first.body,
        first.etag,
        first.last_modified,
    )


async def test_mark_changed_only_queues(world: World) -> None:
    _, slot_id = await tour_with_slot(world.firm_a)
    queued = await FeedChange.select(FeedChange.slot_id)
    assert {"slot_id": slot_id} in queued
    assert await FeedPiece.count() == 0  # nothing rendered in the changing transaction
    await services.mark_changed()  # nothing named: nothing queued
    assert await FeedChange.count() == len(queued)


async def test_a_change_re_renders_only_the_pieces_it_touches(world: World) -> None:
    _, moved = await tour_with_slot(world.firm_a, hour=9)
    _, kept = await tour_with_slot(world.firm_b, hour=11)
    await public_body()
    await publish()
    before = {r["key"]: r["body"] for r in await FeedPiece.select()}
    assert set(before) == {f"slot:{moved}", f"host:{moved}", f"slot:{kept}", f"host:{kept}"}

    start = at(school_day_2027(), 13)
    await update_slot(
        moved, SlotPatch(starts_at=start, ends_at=start + timedelta(hours=1)), by=world.firm_a
    )
    result = await publish()

    assert result.changes == 1 and result.rendered == 2
    after = {r["key"]: r["body"] for r in await FeedPiece.select()}
    assert {k for k in after if after[k] != before[k]} == {f"slot:{moved}", f"host:{moved}"}
    assert result.feeds == 1  # the stored public feed, joined again
    (entry,) = [e for e in vevents(await public_body()) if str(e["UID"]) == _uid(moved)]
    assert entry.decoded("DTSTART") == start
    assert int(entry["SEQUENCE"]) == 1


async def test_an_unchanged_feed_keeps_its_bytes(world: World) -> None:
    event_id, slot_id = await tour_with_slot(world.firm_a)
    first = await services.public_feed(PublicFilter())
    # Changes that show nowhere in the feed: a reminder setting, a repeated mark.
    await update_event(event_id, EventPatch(reminder_days=[3]), by=world.firm_a)
    await services.mark_changed(slot_id=slot_id)
    result = await publish(now=utcnow() + timedelta(hours=1))
    assert result.changes == 2 and result.pieces == 0 and result.feeds == 0
    second = await services.public_feed(PublicFilter(), now=utcnow() + timedelta(hours=2))
    assert (second.body, second.etag, second.last_modified) == (
        first.body,
        first.etag,
        first.last_modified,
    )


async def test_dtstamp_follows_the_content(world: World) -> None:
    event_id, _slot_id = await tour_with_slot(world.firm_a)
    (before,) = vevents(await public_body())
    await update_event(event_id, EventPatch(description="Neu: mit Werkstatt"), by=world.firm_a)
    await publish()
    (after,) = vevents(await public_body())
    assert after.decoded("DTSTAMP") > before.decoded("DTSTAMP")
    assert "Werkstatt" in str(after["DESCRIPTION"])


async def test_last_modified_never_moves_backwards(world: World) -> None:
    _, slot_id = await tour_with_slot(world.firm_a)
    now = utcnow()
    first = await services.public_feed(PublicFilter(), now=now)
    for hours in (1, 2):
        start = at(school_day_2027(), 9 + hours)
        await update_slot(
            slot_id, SlotPatch(starts_at=start, ends_at=start + timedelta(hours=1)), by=world.firm_a
        )
        # This publisher's clock is an hour behind the one that stored the feed.
        await publish(now=now - timedelta(hours=1))
    second = await services.public_feed(PublicFilter(), now=now)
    assert second.etag != first.etag
    assert second.last_modified == first.last_modified + timedelta(seconds=2)
    await update_slot(slot_id, SlotPatch(capacity=40), by=world.firm_a)
    start = at(school_day_2027(), 15)
    await update_slot(
        slot_id, SlotPatch(starts_at=start, ends_at=start + timedelta(hours=1)), by=world.firm_a
    )
    await publish(now=now + timedelta(days=1))
    third = await services.public_feed(PublicFilter(), now=now + timedelta(days=1))
    assert third.last_modified == (now + timedelta(days=1)).replace(microsecond=0)


async def test_a_cancelled_event_stays_30_days_then_leaves(world: World) -> None:
    cancelled_event, cancelled = await tour_with_slot(world.firm_a, hour=9)
    _, kept = await tour_with_slot(world.firm_a, hour=11)
    await public_body()
    await services.event_feed(cancelled_event, by=ANONYMOUS)
    await cancel_event(cancelled_event, "Maschinenumbau", by=world.firm_a)
    when = utcnow()
    await publish()
    entries = {str(e["UID"]): e for e in vevents(await public_body())}
    assert str(entries[_uid(cancelled)]["STATUS"]) == "CANCELLED"
    assert str(entries[_uid(cancelled)]["SUMMARY"]).startswith("Abgesagt: ")
    assert "Maschinenumbau" in str(entries[_uid(cancelled)]["DESCRIPTION"])
    assert int(entries[_uid(cancelled)]["SEQUENCE"]) == 1
    assert str(entries[_uid(kept)]["STATUS"]) == "CONFIRMED"

    await publish(now=when + timedelta(days=29))
    assert set(uids(await public_body(now=when + timedelta(days=29)))) == {
        _uid(cancelled),
        _uid(kept),
    }
    result = await publish(now=when + timedelta(days=30, minutes=1))
    assert result.expired == 2  # its public and its host piece
    assert uids(await public_body(now=when + timedelta(days=30, minutes=2))) == [_uid(kept)]
    event_feed = await services.event_feed(cancelled_event, by=ANONYMOUS)
    assert uids(event_feed.body) == []
    # An expired piece keeps no bytes.
    gone = await FeedPiece.select(FeedPiece.body).where(FeedPiece.key == f"slot:{cancelled}")
    assert gone == [{"body": b""}]


# --------------------------------------------------------------------------- public feeds


async def test_public_filters_in_any_combination(world: World) -> None:
    async def event(host, title, **kw):  # type: ignore[no-untyped-def]
        event_id, _ = await tour_with_slot(host, title=title, **kw)
        return event_id

    await event(world.firm_a, "Tour 8-9", grades=[8, 9])
    await event(world.firm_a, "Tour alle")
    await event(world.firm_b, "Offene Tür", kind="open_day", grades=[10])
    await event(world.firm_b, "Nur Netzwerk", visibility="network")
    await event(world.firm_a, "Entwurf", status="draft")

    async def titles(**filters: object) -> set[str]:
        return set(summaries(await public_body(PublicFilter(**filters))))  # type: ignore[arg-type]

    assert await titles() == {"Tour 8-9", "Tour alle", "Offene Tür"}
    assert await titles(kind="factory_tour") == {"Tour 8-9", "Tour alle"}
    assert await titles(host="firm-b") == {"Offene Tür"}
    assert await titles(grade=8) == {"Tour 8-9", "Tour alle"}  # no grades: for every grade
    assert await titles(grade=10) == {"Tour alle", "Offene Tür"}
    assert await titles(kind="factory_tour", host="firm-a", grade=9) == {"Tour 8-9", "Tour alle"}
    assert await titles(kind="open_day", grade=8) == set()
    with pytest.raises(NotFound):
        await services.public_feed(PublicFilter(host="no-such-firm"))


def test_canonical_keys_and_urls() -> None:
    f = PublicFilter(kind="factory_tour", host="firm-a", grade=8)
    assert f.key == "public?grade=8&host=firm-a&kind=factory_tour"
    assert f.path == "/feeds/public.ics?grade=8&host=firm-a&kind=factory_tour"
    assert PublicFilter().key == "public" and PublicFilter().path == "/feeds/public.ics"
    assert PublicFilter(host="a&b=c").query == "host=a%26b%3Dc"


async def test_filtered_feeds_follow_changes(world: World) -> None:
    event_id, _ = await tour_with_slot(world.firm_a, title="Tour", grades=[8])
    eighth = PublicFilter(grade=8)
    tenth = PublicFilter(grade=10)
    assert summaries(await public_body(eighth)) == ["Tour"]
    assert summaries(await public_body(tenth)) == []
    await make_slot(world.firm_a, event_id, starts_at=at(school_day_2027(), 13))
    await update_event(event_id, EventPatch(grades=[8, 10]), by=world.firm_a)
    await publish()
    assert summaries(await public_body(eighth)) == ["Tour", "Tour"]
    assert summaries(await public_body(tenth)) == ["Tour", "Tour"]
    # Network only: out of the public feeds, still in the event's own feed for members.
    await update_event(event_id, EventPatch(visibility="network"), by=world.firm_a)
    await publish()
    assert summaries(await public_body(eighth)) == []
    assert summaries(await public_body()) == []
    assert len(uids((await services.event_feed(event_id, by=world.school_a)).body)) == 2
    with pytest.raises(NotFound):
        await services.event_feed(event_id, by=ANONYMOUS)


async def test_a_published_draft_joins_the_feeds(world: World) -> None:
    event_id, _ = await tour_with_slot(world.firm_a, title="Bald", status="draft")
    assert summaries(await public_body()) == []
    await update_event(event_id, EventPatch(status="published"), by=world.firm_a)
    await publish()
    assert summaries(await public_body()) == ["Bald"]


async def test_feeds_nobody_asked_for_in_30_days_are_dropped(world: World) -> None:
    await tour_with_slot(world.firm_a)
    now = utcnow()
    await services.public_feed(PublicFilter(grade=8), now=now)
    await services.public_feed(PublicFilter(kind="open_day"), now=now + timedelta(days=20))
    result = await publish(now=now + timedelta(days=31))
    assert result.dropped == 1
    keys = {r["key"] for r in await FeedDocument.select(FeedDocument.key)}
    assert keys == {"public?kind=open_day"}
    # Asked for again: built again.
    assert (await services.public_feed(PublicFilter(grade=8))).body.count(b"BEGIN:VEVENT") == 1


async def test_rows_written_past_the_services_are_backfilled(world: World) -> None:
    event_id, _ = await tour_with_slot(world.firm_a)
    await public_body()
    start = at(school_day_2027(), 14)
    direct = Slot(event=event_id, starts_at=start, ends_at=start + timedelta(hours=1), capacity=5)
    await direct.save()  # no mark_changed
    await publish()
    assert _uid(direct.id) in uids(await public_body())


async def test_publishers_racing_publish_once(world: World) -> None:
    for hour in (9, 11, 13):
        await tour_with_slot(world.firm_a, hour=hour)
    await public_body()
    await tour_with_slot(world.firm_b, hour=15)
    results = await asyncio.gather(*(services.publish_pending() for _ in range(3)))
    assert sum(r.changes for r in results) == 1
    await publish()
    assert len(uids(await public_body())) == 4
    assert await FeedChange.count() == 0


# --------------------------------------------------------------------------- private feeds


PERSONAL = ("Lehmann", "lehmann@", "Rollstuhl", "Muster", "family@", "@test.example")


async def test_a_firms_feed_shows_places_of_its_own_events_and_no_personal_data(
    world: World,
) -> None:
    _tour, tour_slot = await tour_with_slot(world.firm_a, title="Uhrwerk-Tour", hour=9)
    _, open_slot = await tour_with_slot(
        world.firm_a, title="Tag der offenen Tür", kind="open_day", hour=13
    )
    _, other_slot = await tour_with_slot(world.firm_b, title="Konkurrenz-Tour", hour=11)
    visit = BookingRequest(
        class_label="8a",
        grade=8,
        pupils=20,
        adults=2,
        contact_name="Frau Lehmann",
        contact_email="lehmann@test.example",
        notes="Paul braucht einen Rollstuhl",
    )
    await place_booking(tour_slot, visit, by=world.school_a)
    family = BookingRequest(name="Familie Muster", email="family@test.example", persons=3)
    await place_booking(open_slot, family, by=ANONYMOUS)
    await place_booking(other_slot, class_visit("9b"), by=world.school_b)
    await publish()

    body = await _private(world.firm_a)
    entries = {str(e["UID"]): e for e in vevents(body)}
    assert set(entries) == {_host_uid(tour_slot), _host_uid(open_slot)}
    tour_entry = entries[_host_uid(tour_slot)]
    assert str(tour_entry["SUMMARY"]) == "Uhrwerk-Tour \u2013 22/30 belegt"
    description = str(tour_entry["DESCRIPTION"])
    assert (
        "frei: 8" in description and "Klasse 8a" in description and "20 Schülerinnen" in description
    )
    assert "Anmeldung: 3 Personen" in str(entries[_host_uid(open_slot)]["DESCRIPTION"])
    assert [c.name for c in tour_entry.subcomponents] == ["VALARM"]
    assert str(tour_entry["CLASS"]) == "PRIVATE"
    for word in PERSONAL:
        assert word.encode() not in body, word
    assert b"Konkurrenz" not in body and b"9b" not in body

    other = await _private(world.firm_b)
    assert uids(other) == [_host_uid(other_slot)]
    assert b"Uhrwerk" not in other and b"8a" not in other


async def test_a_teachers_feed_shows_the_schools_bookings(world: World) -> None:
    _, slot_1 = await tour_with_slot(world.firm_a, title="Tour A", hour=9)
    _, slot_2 = await tour_with_slot(world.firm_b, title="Tour B", hour=11, booking_mode="approval")
    _, slot_3 = await tour_with_slot(world.firm_b, title="Tour C", hour=14)
    mine = (await place_booking(slot_1, class_visit("8a"), by=world.school_a)).booking
    colleague = (await place_booking(slot_2, class_visit("9b"), by=world.teacher_a2)).booking
    await place_booking(slot_3, class_visit("7c"), by=world.school_b)
    await publish()

    # By default one's own visits come as mailed invitations: the feed leaves them out
    # and shows the colleague's; the colleague's feed shows one's own.
    entries = {str(e["UID"]) for e in vevents(await _private(world.school_a))}
    assert entries == {f"feed-booking-{colleague.id}@{HOST}"}
    entries = {str(e["UID"]) for e in vevents(await _private(world.teacher_a2))}
    assert entries == {f"feed-booking-{mine.id}@{HOST}"}
    # Chosen on My data: the subscription brings one's own visits too.
    await set_calendar_delivery("subscription", by=world.school_a)
    entries = {str(e["UID"]): e for e in vevents(await _private(world.school_a))}
    assert set(entries) == {
        f"feed-booking-{mine.id}@{HOST}",
        f"feed-booking-{colleague.id}@{HOST}",
    }
    confirmed = entries[f"feed-booking-{mine.id}@{HOST}"]
    assert str(confirmed["SUMMARY"]) == "Tour A \u2013 Klasse 8a"
    assert str(confirmed["STATUS"]) == "CONFIRMED"
    assert "20 Schülerinnen und Schüler, 2 Begleitpersonen" in str(confirmed["DESCRIPTION"])
    assert "Status: bestätigt" in str(confirmed["DESCRIPTION"])
    pending = entries[f"feed-booking-{colleague.id}@{HOST}"]
    assert str(pending["STATUS"]) == "TENTATIVE" and "(angefragt)" in str(pending["SUMMARY"])
    assert [c.name for c in confirmed.subcomponents] == ["VALARM"]
    assert b"7c" not in await _private(world.school_a)

    await cancel_booking(mine.id, "Klassenfahrt verschoben", by=world.school_a)
    await publish()
    entries = {str(e["UID"]): e for e in vevents(await _private(world.teacher_a2))}
    cancelled = entries[f"feed-booking-{mine.id}@{HOST}"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert int(cancelled["SEQUENCE"]) == 1  # slot 0 + booking 1, as in the invitations
    assert "Klassenfahrt verschoben" in str(cancelled["DESCRIPTION"])
    assert not cancelled.subcomponents  # no reminder for a cancelled visit
    # School B's one teacher booked its one visit: an invitation brought it (the
    # default), so the feed is empty until the subscription is chosen.
    assert uids(await _private(world.school_b)) == []
    await set_calendar_delivery("subscription", by=world.school_b)
    other_school = await _private(world.school_b)
    assert len(uids(other_school)) == 1 and b"Klasse 7c" in other_school


async def test_the_network_office_sees_every_event_with_its_places(world: World) -> None:
    _, slot_a = await tour_with_slot(world.firm_a, hour=9)
    _, slot_b = await tour_with_slot(world.firm_b, hour=11, visibility="network")
    await tour_with_slot(world.firm_b, hour=13, status="draft")
    await place_booking(slot_a, class_visit(), by=world.school_a)
    await publish()
    body = await _private(world.admin)
    assert set(uids(body)) == {_host_uid(slot_a), _host_uid(slot_b)}
    assert b"22/30 belegt" in body


async def test_a_users_new_organisation_rebuilds_the_feed(world: World) -> None:
    from outreach.accounts.tables import User

    _, slot_a = await tour_with_slot(world.firm_a)
    _, slot_b = await tour_with_slot(world.firm_b, hour=11)
    token = await feed_token_for(by=world.firm_a)
    assert uids((await services.private_feed(token)).body) == [_host_uid(slot_a)]
    await User.update({User.organisation: world.firm_b.org_id}).where(
        User.id == world.firm_a.user_id
    )
    assert uids((await services.private_feed(token)).body) == [_host_uid(slot_b)]
    assert (await stored(f"private:user:{world.firm_a.user_id}"))["org_id"] == world.firm_b.org_id


def test_subscribe_links(settings: Settings) -> None:
    links = services.subscribe_links(PublicFilter(kind="open_day", grade=8).path)
    assert links.https == "http://outreach.test/feeds/public.ics?grade=8&kind=open_day"
    assert links.webcal == "webcal://outreach.test/feeds/public.ics?grade=8&kind=open_day"
    assert links.google == (
        "https://calendar.google.com/calendar/render?cid="
        "webcal%3A%2F%2Foutreach.test%2Ffeeds%2Fpublic.ics%3Fgrade%3D8%26kind%3Dopen_day"
    )


async def test_a_pooled_server_answers_a_checked_copy_for_a_second(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a pool (the production server) a copy checked under FRESH_FOR ago is answered
    as it is; its own publisher's change is answered at once; later ones after FRESH_FOR."""
    _, slot_id = await tour_with_slot(world.firm_a)
    first = await services.public_feed(PublicFilter())
    looks: list[str] = []
    original_meta = services._meta

    async def counting_meta(key: str):  # type: ignore[no-untyped-def]
        looks.append(key)
        return await original_meta(key)

    monkeypatch.setattr(services, "_meta", counting_meta)
    monkeypatch.setattr(services, "_answers_copies", lambda: True)  # as if a pool served
    services._bodies.clear()
    for _ in range(5):
        assert (await services.public_feed(PublicFilter())).etag == first.etag
    assert looks == ["public"]  # checked once, then answered from memory

    start = at(school_day_2027(), 15)
    await update_slot(
        slot_id, SlotPatch(starts_at=start, ends_at=start + timedelta(hours=1)), by=world.firm_a
    )
    await publish()  # this process's publisher drops its copy
    assert (await services.public_feed(PublicFilter())).etag != first.etag
    assert looks == ["public", "public"]
    monkeypatch.setattr(services, "FRESH_FOR", 0.0)  # past the second: asked again
    await services.public_feed(PublicFilter())
    assert looks == ["public", "public", "public"]


async def test_concurrent_requests_for_a_copy_due_share_one_check(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many requests of one feed that find its copy due for a check at the same moment (a
    popular feed, every second) wait for one read of the database, not one each; the next
    check after it reads again."""
    await tour_with_slot(world.firm_a)
    first = await services.public_feed(PublicFilter())
    looks: list[str] = []
    original_meta = services._meta

    async def counting_meta(key: str):  # type: ignore[no-untyped-def]
        looks.append(key)
        await asyncio.sleep(0.01)  # the others arrive while this one reads
        return await original_meta(key)

    monkeypatch.setattr(services, "_meta", counting_meta)
    monkeypatch.setattr(services, "_answers_copies", lambda: True)  # as if a pool served
    monkeypatch.setattr(services, "FRESH_FOR", 0.0)  # every request finds the copy due
    answers = await asyncio.gather(*(services.public_feed(PublicFilter()) for _ in range(20)))
    assert {a.etag for a in answers} == {first.etag}
    assert {a.body for a in answers} == {first.body}
    assert looks == ["public"]
    await services.public_feed(PublicFilter())
    assert looks == ["public", "public"]
    assert len(services._checks) == 0


def test_a_changed_piece_is_written_whole() -> None:
    """The publisher's UPDATE of a changed piece names every column but its identity
    (a routing column added later and not written would leave a piece in wrong feeds)."""
    columns = {c._meta.db_column_name for c in FeedPiece._meta.columns}
    assert set(services._UPDATED_COLUMNS) == columns - {"id", "key", "slot", "booking"}
