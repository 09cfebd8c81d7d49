"""A series of slots: weekdays x times between two dates, skipping closures, all or nothing."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from outreach.calendar.holidays import closures_between
from outreach.errors import Invalid
from outreach.events.services import SeriesIn, add_slot_series, plan_slot_series
from outreach.events.tables import Slot
from outreach.timeutil import LOCAL_TZ
from tests.factories import make_event, make_world, school_day


@pytest.fixture
async def world(db):
    return await make_world()


def series(first, last, **extra) -> SeriesIn:
    values = {
        "first_day": first,
        "last_day": last,
        "weekdays": (1, 3),
        "times": (time(9), time(13)),
        "minutes": 90,
        "capacity": 30,
    } | extra
    return SeriesIn(**values)


async def test_tuesdays_and_thursdays_at_nine_and_one(world):
    event_id = await make_event(world.firm_a)
    first = school_day(7)
    result = await add_slot_series(
        event_id, series(first, first + timedelta(days=13)), by=world.firm_a
    )
    starts = [s.starts_at.astimezone(LOCAL_TZ) for s in result.created]
    assert starts and all(s.weekday() in (1, 3) for s in starts)
    assert {(s.hour, s.minute) for s in starts} == {(9, 0), (13, 0)}
    assert all(s.ends_at - s.starts_at == timedelta(minutes=90) for s in result.created)
    assert await Slot.count().where(Slot.event == event_id) == len(result.created)


async def test_days_when_schools_are_closed_are_skipped_and_reported(world):
    event_id = await make_event(world.firm_a)
    today = school_day(0)
    closure = closures_between(today + timedelta(days=3), today + timedelta(days=300))[0]
    first = closure.first_day - timedelta(days=7)
    result = await add_slot_series(
        event_id,
        series(first, closure.first_day + timedelta(days=7), weekdays=(0, 1, 2, 3, 4)),
        by=world.firm_a,
    )
    assert closure.first_day in {day for day, _ in result.skipped}
    created_days = {s.starts_at.astimezone(LOCAL_TZ).date() for s in result.created}
    assert closure.first_day not in created_days


async def test_one_bad_slot_rolls_the_whole_series_back(world):
    event_id = await make_event(world.firm_a)
    first = school_day(7)
    with pytest.raises(Invalid) as caught:
        # min_party above the capacity: add_slot refuses the first one, nothing stays.
        await add_slot_series(
            event_id, series(first, first + timedelta(days=13), min_party=40), by=world.firm_a
        )
    assert caught.value.field == "min_party"
    assert await Slot.count().where(Slot.event == event_id) == 0


async def test_bad_input_names_the_field(world):
    event_id = await make_event(world.firm_a)
    first = school_day(7)
    with pytest.raises(Invalid) as caught:
        await add_slot_series(event_id, series(first, first - timedelta(days=1)), by=world.firm_a)
    assert caught.value.field == "last_day"
    with pytest.raises(Invalid) as caught:
        await add_slot_series(event_id, series(first, first, weekdays=()), by=world.firm_a)
    assert caught.value.field == "weekdays"
    with pytest.raises(Invalid) as caught:
        await add_slot_series(event_id, series(first, first, times=()), by=world.firm_a)
    assert caught.value.field == "times"


async def test_another_firm_cannot_add_a_series(world):
    from outreach.errors import Forbidden

    event_id = await make_event(world.firm_a)
    first = school_day(7)
    with pytest.raises(Forbidden):
        await add_slot_series(event_id, series(first, first + timedelta(days=6)), by=world.firm_b)


async def test_the_plan_lists_every_time_and_skipped_day_and_writes_nothing(world):
    event_id = await make_event(world.firm_a)
    today = school_day(0)
    closure = next(
        c
        for c in closures_between(today + timedelta(days=3), today + timedelta(days=300))
        if c.first_day.weekday() < 5
    )
    weekday = closure.first_day.weekday()
    wanted = series(closure.first_day - timedelta(days=7), closure.first_day, weekdays=(weekday,))
    plan = plan_slot_series(wanted)
    assert await Slot.count().where(Slot.event == event_id) == 0
    assert [c.day for c in plan.skipped] == [closure.first_day]
    assert plan.skipped[0].name == closure.name
    assert [s.date() for s in plan.starts] == [closure.first_day - timedelta(days=7)] * 2
    result = await add_slot_series(event_id, wanted, by=world.firm_a)
    assert [s.starts_at for s in result.created] == plan.starts
    assert [day for day, _ in result.skipped] == [c.day for c in plan.skipped]
