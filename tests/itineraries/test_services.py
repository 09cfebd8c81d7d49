"""The class day planner and itineraries on SQLite and PostgreSQL, through the services."""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

import pytest

from outreach.booking.tables import Booking
from outreach.booking.writes import cancel_booking, confirm_booking, decline_booking, place_booking
from outreach.calendar.holidays import closure_on
from outreach.errors import Forbidden, Invalid, NotFound
from outreach.events.tables import Slot
from outreach.itineraries import writes as itinerary_writes
from outreach.itineraries.planning import plan_day, replacement_options
from outreach.itineraries.schemas import ItineraryIn, PlanRequest
from outreach.itineraries.tables import Itinerary, ItineraryVisit
from outreach.itineraries.views import (
    _visits,
    get_itinerary,
    itinerary_for_booking,
    list_itineraries,
)
from outreach.itineraries.writes import (
    Booked,
    ItineraryUnavailable,
    book_itinerary,
    cancel_itinerary,
)
from outreach.timeutil import utcnow
from tests.factories import class_visit
from tests.itineraries.helpers import make_net, three_firm_day


@pytest.fixture
async def net(db):
    return await make_net()


def request(net, **extra) -> PlanRequest:
    values = {
        "date": net.day,
        "grade": 8,
        "pupils": 24,
        "adults": 2,
        "arrive_at": "08:30",
        "leave_by": "15:30",
        **extra,
    }
    return PlanRequest(**values)


def itinerary_in(slot_ids, **extra) -> ItineraryIn:
    values = {
        "slot_ids": slot_ids,
        "class_label": "8a",
        "grade": 8,
        "pupils": 24,
        "adults": 2,
        "contact_name": "Frau Beispiel",
        "contact_email": "lehrerin@schule.example",
        **extra,
    }
    return ItineraryIn(**values)


def hosts(proposal) -> list[str]:
    return [v.host for v in proposal.visits]


async def test_plans_a_three_firm_day_in_order_with_legs(net):
    slots = await three_firm_day(net)
    plan = await plan_day(request(net, firms=["rehn", "kaden", "seifert"]), by=net.world.school_a)
    best = plan.proposals[0]
    assert hosts(best) == ["rehn", "kaden", "seifert"]
    assert [v.slot_id for v in best.visits] == [slots["rehn"], slots["kaden"], slots["seifert"]]
    assert [(leg.from_, leg.to) for leg in best.legs] == [("rehn", "kaden"), ("kaden", "seifert")]
    for leg, (a, b) in zip(best.legs, zip(best.visits, best.visits[1:])):
        # 10 minutes of buffer plus the walk; the next visit starts after arriving.
        assert leg.minutes > 10 and leg.km > 0
        assert a.ends_at + timedelta(minutes=leg.minutes) <= b.starts_at
    assert best.visits[0].starts_at.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert "3 of 3 wanted firms" in best.explanation
    assert "proposal" in plan.explanation
    # Fewer visits rank lower, never above the full day.
    assert all(len(p.visits) <= 3 for p in plan.proposals[1:])
    assert plan.proposals == sorted(plan.proposals, key=lambda p: -p.score)


async def test_wanted_firms_and_topics_come_first(net):
    await three_firm_day(net)
    await net.tour("lange", topics=("uhrmacher",))
    await net.slot("lange", 11)
    by_topic = await plan_day(
        request(net, topics=["Uhrmacher"], max_visits=2), by=net.world.school_a
    )
    # Seifert and Lange both teach watchmaking: the best two-visit day has both.
    assert set(hosts(by_topic.proposals[0])) == {"lange", "seifert"}
    by_firm = await plan_day(request(net, firms=["kaden"], max_visits=2), by=net.world.school_a)
    assert all("kaden" in hosts(p) for p in by_firm.proposals[:2])


async def test_explains_a_holiday_and_suggests_another_date(net):
    holiday = net.day
    while closure_on(holiday) is None:
        holiday += timedelta(days=1)
    before = holiday - timedelta(days=1)
    while before.weekday() >= 5 or closure_on(before) is not None:
        before -= timedelta(days=1)
    if before <= utcnow().date() + timedelta(days=3):
        pytest.skip("no school day shortly before the next holiday")
    await three_firm_day(net)  # on net.day
    for firm, hour in (("rehn", 9), ("kaden", 11)):
        await net.slot(firm, hour, day=holiday)  # hosts may schedule on holidays
        await net.slot(firm, hour, day=before)
    plan = await plan_day(request(net, date=holiday), by=net.world.school_a)
    assert plan.proposals == []
    assert closure_on(holiday).message in plan.explanation
    dates = [s.date for s in plan.suggestions if s.kind == "date"]
    assert before in dates


async def test_explains_when_no_firm_has_room_and_suggests_a_smaller_group(net):
    await three_firm_day(net)
    plan = await plan_day(request(net, pupils=40, adults=3), by=net.world.school_a)
    assert plan.proposals == []
    assert "only 0 firms can take 43 persons" in plan.explanation
    group = [s for s in plan.suggestions if s.kind == "group"]
    assert group and group[0].persons == 30


async def test_explains_when_travel_does_not_fit_and_the_bus_does(net):
    await net.tour("rehn")
    await net.tour("kaden")
    await net.slot("rehn", 9)
    await net.slot("kaden", 10, 40)  # 10 minutes after Rehn's tour: no walk fits
    on_foot = await plan_day(request(net), by=net.world.school_a)
    assert on_foot.proposals == []
    assert "time walking between the venues" in on_foot.explanation
    visits = [s for s in on_foot.suggestions if s.kind == "visits"]
    assert visits and visits[0].visits == 1
    by_bus = await plan_day(request(net, travel_mode="bus"), by=net.world.school_a)
    # ~1.3 km by bus: 3 minutes plus the 10-minute buffer does not fit 10 minutes either.
    assert by_bus.proposals == []


async def test_lunch_break_must_fit_between_eleven_and_two(net):
    await three_firm_day(net)
    without = await plan_day(
        request(net, lunch_minutes=45, max_visits=3, min_visits=3), by=net.world.school_a
    )
    assert without.proposals == []
    assert "lunch break" in without.explanation
    assert any(s.kind == "lunch" for s in without.suggestions)
    await net.tour("lange")
    # Kaden ends 12:30; 18 minutes' walk and 45 minutes' lunch fit before 13:45.
    await net.slot("lange", 13, 45)
    plan = await plan_day(
        request(net, lunch_minutes=45, max_visits=3, min_visits=3), by=net.world.school_a
    )
    best = plan.proposals[0]
    assert hosts(best) == ["rehn", "kaden", "lange"]
    assert best.lunch is not None
    assert best.lunch.starts_at.time() >= time(11) and best.lunch.ends_at.time() <= time(14)
    assert best.lunch.ends_at - best.lunch.starts_at == timedelta(minutes=45)
    # Nobody walks during lunch, and every walk ends before the next visit.
    for leg, nxt in zip(best.legs, best.visits[1:], strict=True):
        assert leg.arrives_at <= nxt.starts_at
        assert leg.arrives_at <= best.lunch.starts_at or leg.departs_at >= best.lunch.ends_at


async def test_only_teachers_plan_and_book(net):
    await three_firm_day(net)
    with pytest.raises(Forbidden):
        await plan_day(request(net), by=net.firms["rehn"])
    with pytest.raises(Invalid) as err:
        await plan_day(request(net, firms=["nope"]), by=net.world.school_a)
    assert err.value.field == "firms"
    with pytest.raises(Invalid) as err:
        await plan_day(request(net, arrive_at="14:00", leave_by="09:00"), by=net.world.school_a)
    assert err.value.field == "leave_by"


async def test_books_all_visits_in_one_go_and_shows_each_status(net):
    slots = await three_firm_day(net)
    await net.tour("lange", booking_mode="approval")
    approval = await net.slot("lange", 13, 30)
    booked = await book_itinerary(
        itinerary_in([slots["kaden"], slots["rehn"], approval], lunch_minutes=30),
        by=net.world.school_a,
        key="day-1",
    )
    it = booked.itinerary
    assert not booked.replayed
    assert [v.host for v in it.visits] == ["rehn", "kaden", "lange"]
    assert [v.status for v in it.visits] == ["confirmed", "confirmed", "pending"]
    assert it.status == "pending" and it.date == net.day
    assert [b.id for b in it.bookings] == [v.booking_id for v in it.visits]
    assert len(it.legs) == 2 and it.lunch is not None
    assert it.arrive_at == "09:00" and it.leave_by == "15:00"
    assert it.ics_url.endswith(f"/itineraries/{it.id}.ics")
    held = {r["id"]: r["held"] for r in await Slot.select(Slot.id, Slot.held)}
    assert held[slots["rehn"]] == held[slots["kaden"]] == held[approval] == 26

    again = await book_itinerary(
        itinerary_in([slots["kaden"], slots["rehn"], approval], lunch_minutes=30),
        by=net.world.school_a,
        key="day-1",
    )
    assert again.replayed and again.itinerary.id == it.id
    assert await Booking.count() == 3 and await Itinerary.count() == 1

    await confirm_booking(it.visits[2].booking_id, by=net.firms["lange"])
    shown = await get_itinerary(it.id, by=net.world.admin)
    assert shown.status == "confirmed"


async def test_refuses_visits_without_time_to_travel_or_at_one_firm(net):
    slots = await three_firm_day(net)
    close = await net.slot("kaden", 10, 35)
    with pytest.raises(Invalid) as err:
        await book_itinerary(itinerary_in([slots["rehn"], close]), by=net.world.school_a)
    assert err.value.field == "slot_ids" and "minutes" in err.value.message
    with pytest.raises(Invalid):
        await book_itinerary(itinerary_in([slots["kaden"], close]), by=net.world.school_a)
    with pytest.raises(NotFound):
        await book_itinerary(itinerary_in([slots["rehn"], 99999]), by=net.world.school_a)
    assert await Booking.count() == 0


async def test_a_slot_taken_between_plan_and_book_books_nothing_and_replans(net):
    slots = await three_firm_day(net)
    await net.tour("lange")
    spare = await net.slot("lange", 11)
    plan = await plan_day(request(net, firms=["rehn", "kaden", "seifert"]), by=net.world.school_a)
    chosen = [v.slot_id for v in plan.proposals[0].visits]
    assert chosen == [slots["rehn"], slots["kaden"], slots["seifert"]]
    # Meanwhile another class takes most of Kaden's places.
    await place_booking(
        slots["kaden"], class_visit("9b", pupils=18, adults=2), by=net.world.school_b
    )
    with pytest.raises(ItineraryUnavailable) as err:
        await book_itinerary(
            itinerary_in(chosen, firms=["rehn", "kaden", "seifert"]),
            by=net.world.school_a,
            key="race-1",
        )
    refusal = err.value
    assert refusal.status_code == 409 and refusal.reason == "full"
    assert "nothing was booked" in refusal.message
    assert [u.slot_id for u in refusal.unavailable] == [slots["kaden"]]
    fresh = refusal.plan.proposals
    assert fresh and all(slots["kaden"] not in [v.slot_id for v in p.visits] for p in fresh)
    assert [v.slot_id for v in fresh[0].visits] == [slots["rehn"], spare, slots["seifert"]]
    body = refusal.to_dict()
    assert body["proposals"] and body["unavailable"][0]["slot_id"] == slots["kaden"]
    # Nothing of school A was booked, no places are held for it, no itinerary exists.
    assert await Booking.count().where(Booking.school == net.world.school_a.org_id) == 0
    held = {r["id"]: r["held"] for r in await Slot.select(Slot.id, Slot.held)}
    assert held[slots["rehn"]] == held[slots["seifert"]] == 0 and held[slots["kaden"]] == 20
    assert await Itinerary.count() == 0 and await ItineraryVisit.count() == 0
    # The refusal stored no Idempotency-Key: the same key books the fresh proposal.
    booked = await book_itinerary(
        itinerary_in([v.slot_id for v in fresh[0].visits]), by=net.world.school_a, key="race-1"
    )
    assert booked.itinerary.status == "confirmed"


async def test_two_schools_racing_for_one_slot_one_day_is_booked_whole(net):
    slots = await three_firm_day(net)
    chosen = [slots["rehn"], slots["kaden"], slots["seifert"]]
    # Kaden has room for one class only: one itinerary gets all three, the other none.
    await Slot.update({Slot.capacity: 30}).where(Slot.id == slots["kaden"])
    results = await asyncio.gather(
        book_itinerary(itinerary_in(chosen), by=net.world.school_a),
        book_itinerary(itinerary_in(chosen), by=net.world.school_b),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, Booked)]
    lost = [r for r in results if isinstance(r, ItineraryUnavailable)]
    assert len(won) == 1 and len(lost) == 1, results
    winner = won[0].itinerary.school
    rows = await Booking.select(Booking.school.slug, Booking.slot)
    assert {r["school.slug"] for r in rows} == {winner} and len(rows) == 3
    held = {r["id"]: r["held"] for r in await Slot.select(Slot.id, Slot.held)}
    assert [held[s] for s in chosen] == [26, 26, 26]


async def test_one_idempotency_key_sent_twice_at_once_books_one_day(net):
    slots = await three_firm_day(net)
    body = itinerary_in([slots["rehn"], slots["kaden"], slots["seifert"]])
    first, second = await asyncio.gather(
        book_itinerary(body, by=net.world.school_a, key="twice"),
        book_itinerary(body, by=net.world.school_a, key="twice"),
    )
    assert first.itinerary.id == second.itinerary.id
    assert sorted([first.replayed, second.replayed]) == [False, True]
    assert await Booking.count() == 3 and await Itinerary.count() == 1


async def test_a_holiday_refusal_names_the_holiday_for_each_slot(net):
    holiday = net.day
    while closure_on(holiday) is None:
        holiday += timedelta(days=1)
    await net.tour("rehn")
    await net.tour("kaden")
    ids = [await net.slot("rehn", 9, day=holiday), await net.slot("kaden", 11, day=holiday)]
    with pytest.raises(ItineraryUnavailable) as err:
        await book_itinerary(itinerary_in(ids), by=net.world.school_a)
    reason = closure_on(holiday).reason
    assert err.value.reason == reason
    assert [(u.slot_id, u.reason) for u in err.value.unavailable] == [(i, reason) for i in ids]
    assert err.value.plan.proposals == [] and await Booking.count() == 0


async def test_a_school_cannot_see_another_schools_itinerary(net):
    slots = await three_firm_day(net)
    it = (
        await book_itinerary(itinerary_in([slots["rehn"], slots["kaden"]]), by=net.world.school_a)
    ).itinerary
    assert (await get_itinerary(it.id, by=net.world.teacher_a2)).id == it.id
    for other in (net.world.school_b, net.firms["rehn"]):
        with pytest.raises(NotFound):
            await get_itinerary(it.id, by=other)
        with pytest.raises(NotFound):
            await replacement_options(it.id, it.visits[0].booking_id, by=other)
    assert [i.id for i in await list_itineraries(by=net.world.school_a)] == [it.id]
    assert await list_itineraries(by=net.world.school_b) == []


async def test_a_cancelled_visit_gets_replacement_options_keeping_the_others(net):
    slots = await three_firm_day(net)
    await net.tour("lange", topics=("cnc",))
    spare = await net.slot("lange", 11)
    late = await net.slot("lange", 15, day=net.day)  # after the school day
    it = (
        await book_itinerary(
            itinerary_in(
                [slots["rehn"], slots["kaden"], slots["seifert"]],
                arrive_at="08:30",
                leave_by="15:00",
                topics=["cnc"],
            ),
            by=net.world.school_a,
        )
    ).itinerary
    kaden = it.visits[1]
    await cancel_booking(kaden.booking_id, "Maschinenausfall", by=net.firms["kaden"])
    shown = await get_itinerary(it.id, by=net.world.school_a)
    assert shown.status == "incomplete"
    assert [v.status for v in shown.visits] == ["confirmed", "cancelled", "confirmed"]
    assert [(leg.from_, leg.to) for leg in shown.legs] == [("rehn", "seifert")]

    options = await replacement_options(it.id, kaden.booking_id, by=net.world.school_a)
    assert options.proposals
    for p in options.proposals:
        ids = [v.slot_id for v in p.visits]
        assert slots["rehn"] in ids and slots["seifert"] in ids and len(ids) == 3
        assert slots["kaden"] not in ids and late not in ids
    assert [v.slot_id for v in options.proposals[0].visits] == [
        slots["rehn"],
        spare,
        slots["seifert"],
    ]

    notice = await itinerary_for_booking(kaden.booking_id)
    assert notice is not None and notice.itinerary_id == it.id
    assert [v.host for v in notice.other_visits] == ["rehn", "seifert"]
    # The teacher's page of the day, where the replacements are booked in one click.
    assert notice.replacements_url.endswith(
        f"/school/itineraries/{it.id}?replace={kaden.booking_id}#replacements"
    )
    assert await itinerary_for_booking(10**6) is None


async def test_no_replacement_explains_why(net):
    slots = await three_firm_day(net)
    it = (
        await book_itinerary(itinerary_in([slots["rehn"], slots["kaden"]]), by=net.world.school_a)
    ).itinerary
    options = await replacement_options(it.id, it.visits[1].booking_id, by=net.world.school_a)
    # Seifert at 13:00 ends after the school day the itinerary was planned with.
    assert options.proposals == []
    assert options.explanation.startswith("No replacement fits.")
    with pytest.raises(NotFound):
        await replacement_options(it.id, 10**6, by=net.world.school_a)


async def test_cancelling_the_day_skips_a_visit_a_host_declined_meanwhile(net, monkeypatch):
    slots = await three_firm_day(net)
    await net.tour("lange", booking_mode="approval")
    approval = await net.slot("lange", 13, 30)
    it = (
        await book_itinerary(
            itinerary_in([slots["kaden"], slots["rehn"], approval], lunch_minutes=30),
            by=net.world.school_a,
        )
    ).itinerary
    pending = it.visits[2].booking_id
    read_visits = _visits

    declined: list[int] = []

    async def host_declines_after_the_read(itinerary_id: int):
        # The interleaving of the race: the day's visits are read, then Lange declines.
        visits = await read_visits(itinerary_id)
        if not declined:
            await decline_booking(pending, "Maschine defekt", by=net.firms["lange"])
            declined.append(pending)
        return visits

    monkeypatch.setattr(itinerary_writes, "_visits", host_declines_after_the_read)
    await cancel_itinerary(it.id, "Bus fällt aus", by=net.world.school_a)
    monkeypatch.undo()
    statuses = {
        row["id"]: row["status"] for row in await Booking.select(Booking.id, Booking.status)
    }
    assert statuses[pending] == "declined"
    assert [statuses[v.booking_id] for v in it.visits[:2]] == ["cancelled", "cancelled"]
    held = {r["id"]: r["held"] for r in await Slot.select(Slot.id, Slot.held)}
    assert held[slots["rehn"]] == held[slots["kaden"]] == held[approval] == 0
